/**
 * Call records and the post-call result that a worker posts to voxbridge.
 */
import { z } from 'zod';

/**
 * Where one call attempt stands. `queued` to `in-progress` are live states; the rest are
 * final. `aborted` means the worker was forced to stop mid-call.
 */
export const CallStatus = z.enum([
  'queued',
  'dialling',
  'ringing',
  'in-progress',
  'completed',
  'busy',
  'no-answer',
  'failed',
  'aborted',
]);
export type CallStatus = z.infer<typeof CallStatus>;

export const FINAL_CALL_STATUSES: readonly CallStatus[] = [
  'completed',
  'busy',
  'no-answer',
  'failed',
  'aborted',
];

export function isFinalCallStatus(status: CallStatus): boolean {
  return FINAL_CALL_STATUSES.includes(status);
}

/** One transcript entry; `atMs` is the offset from the start of the media stream. */
export const TranscriptEntry = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('prompt'),
    atMs: z.number().int().min(0),
    nodeId: z.string(),
    text: z.string(),
    /** Playback length; shorter than the prompt when the caller barged in. */
    playedMs: z.number().int().min(0),
    interrupted: z.boolean(),
  }),
  z.object({
    kind: z.literal('dtmf'),
    atMs: z.number().int().min(0),
    digit: z.string().regex(/^[0-9*#A-D]$/),
  }),
  z.object({
    kind: z.literal('speech'),
    atMs: z.number().int().min(0),
    durationMs: z.number().int().min(0),
    /** Recognised text; null while no speech recogniser is configured. */
    text: z.string().nullable(),
  }),
  z.object({
    kind: z.literal('no-input'),
    atMs: z.number().int().min(0),
    nodeId: z.string(),
  }),
]);
export type TranscriptEntry = z.infer<typeof TranscriptEntry>;

/** A lifecycle event with its wall-clock time (ISO 8601). */
export const TimelineEvent = z.object({
  event: z.string().min(1).max(64),
  at: z.iso.datetime(),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});
export type TimelineEvent = z.infer<typeof TimelineEvent>;

export const RecordingInfo = z.object({
  /** Storage key as voxbridge returned it on upload. */
  key: z.string(),
  contentType: z.literal('audio/wav'),
  bytes: z.number().int().min(0),
  durationMs: z.number().int().min(0),
  sampleRate: z.number().int(),
  /** Channel 1 is the caller, channel 2 the bot. */
  channels: z.literal(2),
});
export type RecordingInfo = z.infer<typeof RecordingInfo>;

/**
 * What a worker posts to `POST /internal/calls/{callId}/result`. Posting twice with the
 * same `callId` is accepted and changes nothing the second time.
 */
export const CallResult = z.object({
  callId: z.string().min(1).max(128),
  botId: z.string().min(1).max(128),
  workerId: z.string().min(1).max(128),
  status: z.enum(['completed', 'failed', 'aborted']),
  /** The outcome of the flow's hangup node, or `caller-hangup`, `max-duration`, `error`. */
  outcome: z.string().min(1).max(64),
  hangupBy: z.enum(['caller', 'bot', 'system']),
  startedAt: z.iso.datetime(),
  endedAt: z.iso.datetime(),
  durationMs: z.number().int().min(0),
  transcript: z.array(TranscriptEntry).max(10_000),
  timeline: z.array(TimelineEvent).max(1_000),
  recording: RecordingInfo.nullable(),
  error: z.string().max(2000).nullable().default(null),
});
export type CallResult = z.infer<typeof CallResult>;
