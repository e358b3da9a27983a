/**
 * The contract between the worker's transport (WebSocket, provider protocol) and the bot
 * engine. The transport decodes provider frames to 8 kHz 16-bit mono PCM and feeds them
 * in; the engine answers through a `MediaSink`. All flow timing (no-input timeouts,
 * barge-in, maximum duration) runs on the media clock, which advances 20 ms for every
 * inbound frame, so a carrier that sends frames faster than real time runs the call faster.
 */
import type { BotConfig, TranscriptEntry } from '@voxfleet/schema';
import type { Logger } from '@voxfleet/logger';

/** Where the engine's output goes; implemented by the transport. */
export interface MediaSink {
  /** Queues 8 kHz mono PCM for playback; the transport frames and encodes it. */
  sendAudio(pcm: Int16Array): void;
  /** Queues a playback marker; the transport calls `onMark(name)` once it has played. */
  sendMark(name: string): void;
  /** Drops audio queued but not yet played (barge-in). */
  clearAudio(): void;
  /** Ends the call from the bot's side once the engine is done. */
  hangup(): void;
}

/** Loads a prompt as 8 kHz mono PCM, from its audio file or by synthesising its text. */
export interface PromptSource {
  load(prompt: { text: string; audio?: string | undefined }, voice: string): Promise<Int16Array>;
}

export interface CallSessionOptions {
  callId: string;
  botId: string;
  config: BotConfig;
  prompts: PromptSource;
  sink: MediaSink;
  log: Logger;
  /** Lifecycle events for the call timeline, such as `first-bot-audio` or `barge-in`. */
  onEvent?: (event: string, detail?: Record<string, string | number | boolean>) => void;
  /** Recording length limit in milliseconds; defaults to the max call duration, capped at 1 hour. */
  maxRecordingMs?: number;
}

export type HangupBy = 'caller' | 'bot' | 'system';

/** How a session ended; `status` and `outcome` go straight into the call result. */
export interface SessionOutcome {
  status: 'completed' | 'failed' | 'aborted';
  outcome: string;
  hangupBy: HangupBy;
  transcript: TranscriptEntry[];
  /** Media time at the end, in milliseconds. */
  mediaDurationMs: number;
  error: string | null;
}

/** The recording, two channels: caller on channel 1, bot on channel 2, 8 kHz 16-bit. */
export interface SessionRecording {
  wav: Buffer;
  durationMs: number;
}
