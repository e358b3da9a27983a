/**
 * Storage of call recordings. The local filesystem implements it today
 * (`fs-recording-store.ts`); an S3 backend can implement the same contract later.
 */
import type { Readable } from 'node:stream';

export interface StoredRecording {
  key: string;
  bytes: number;
}

export interface OpenedRecording {
  stream: Readable;
  bytes: number;
}

export interface RecordingStore {
  /** Prepares the backend, such as creating the root folder. Idempotent. */
  init(): Promise<void>;
  /**
   * Writes `source` under `key`, replacing any earlier object only once the whole body has
   * arrived. If `source` fails, nothing under `key` changes and the error propagates.
   * Implementations attach to `source` before returning, so a caller may start writing
   * into `source` right after the call without an unhandled stream error.
   */
  put(key: string, source: Readable): Promise<StoredRecording>;
  /** Opens a stored recording for streaming, or returns null when there is none. */
  open(key: string): Promise<OpenedRecording | null>;
  delete(key: string): Promise<void>;
}

/** Returns the storage key of a call's recording. */
export function recordingKey(tenantId: string, callId: string): string {
  return `${tenantId}/${callId}.wav`;
}
