/**
 * The media-stream protocols the sim carrier speaks to a worker. Each protocol frames the
 * callee's audio in its provider's messages and reads the worker's replies into commands
 * for the playback queue, which always contains 8 kHz μ-law.
 */
import type { PlaceCallRequest } from '@voxfleet/schema';

export type StreamProvider = NonNullable<PlaceCallRequest['provider']>;

/** One 20 ms frame of callee audio, as the stream's clock produces it. */
export interface CallerFrame {
  /** 1-based count of 20 ms frames sent on this stream. */
  index: number;
  /** Media time at the start of the frame. */
  mediaMs: number;
  /** 160 bytes of 8 kHz μ-law, base64. */
  mulawBase64: string;
}

export type WorkerCommand =
  { kind: 'audio'; mulaw: Uint8Array } | { kind: 'mark'; name: string } | { kind: 'clear' };

export type ParsedWorkerMessage =
  { ok: true; command: WorkerCommand } | { ok: false; problem: string };

export interface StreamProtocolContext {
  carrierCallId: string;
  accountSid: string;
  /** Sent in the provider's own field: Twilio `customParameters`, Plivo `extra_headers`, ... */
  customParameters: Record<string, string>;
  /** Random numbers in [0, 1), for the Telnyx reordering and the Plivo format choice. */
  random: () => number;
}

/** Returns the next sequence number of the stream; every message the carrier sends takes one. */
export type NextSequence = () => number;

export interface CarrierStreamProtocol {
  readonly provider: StreamProvider;
  readonly streamId: string;
  connected(): string | null;
  start(next: NextSequence): string;
  /** Messages for one caller frame; providers that batch frames return none for some. */
  media(frame: CallerFrame, next: NextSequence): string[];
  /** Messages still held back (a partial batch, a frame kept for reordering). */
  flushMedia(next: NextSequence): string[];
  dtmf(next: NextSequence, digit: string): string;
  /** Playback acknowledgement of a worker's mark (Plivo: `playedStream` for a checkpoint). */
  markPlayed(next: NextSequence, name: string): string;
  /** Acknowledgement of a clear, for providers that send one (Plivo `clearedAudio`). */
  clearAcknowledgement(next: NextSequence): string | null;
  stop(next: NextSequence): string;
  /** Reads one parsed JSON message from the worker. */
  parse(message: unknown): ParsedWorkerMessage;
}
