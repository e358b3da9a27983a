/** Builds the `CallResult` a worker posts to voxbridge when a call ends. */
import type { CallResult, TimelineEvent } from '@voxfleet/schema';
import type { SessionOutcome, SessionRecording } from '../engine/types.js';

/** Fallback outcome for a call whose session produced none (setup failed or it was cut off). */
export type FallbackOutcome = Pick<SessionOutcome, 'status' | 'outcome' | 'hangupBy' | 'error'>;

export interface CallResultInput {
  callId: string;
  botId: string;
  workerId: string;
  /** The session's outcome, or null when it never ran or never finished. */
  outcome: SessionOutcome | null;
  fallback: FallbackOutcome | null;
  /** When the stream started (the call was answered); the end time when it never did. */
  startedAt: Date;
  endedAt: Date;
  timeline: TimelineEvent[];
  recording: SessionRecording | null;
}

/** `CallResult.error` is limited to 2000 characters. */
const MAX_ERROR_LENGTH = 2000;

export function buildCallResult(input: CallResultInput): CallResult {
  const { outcome, fallback, startedAt, endedAt, recording } = input;
  // With a session, the duration is media time: a carrier sending faster than real time
  // runs a shorter call on the wall clock than the caller heard.
  const durationMs = outcome?.mediaDurationMs ?? endedAt.getTime() - startedAt.getTime();
  const error = outcome?.error ?? fallback?.error ?? null;
  return {
    callId: input.callId,
    botId: input.botId,
    workerId: input.workerId,
    status: outcome?.status ?? fallback?.status ?? 'failed',
    outcome: outcome?.outcome ?? fallback?.outcome ?? 'error',
    hangupBy: outcome?.hangupBy ?? fallback?.hangupBy ?? 'system',
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    durationMs: Math.round(durationMs),
    transcript: outcome?.transcript ?? [],
    timeline: input.timeline,
    // The spool fills in `key` once voxbridge accepted the upload.
    recording:
      recording === null
        ? null
        : {
            key: '',
            contentType: 'audio/wav',
            bytes: recording.wav.byteLength,
            durationMs: Math.round(recording.durationMs),
            sampleRate: 8000,
            channels: 2,
          },
    error: error === null ? null : error.slice(0, MAX_ERROR_LENGTH),
  };
}
