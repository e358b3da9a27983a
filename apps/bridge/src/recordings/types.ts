/**
 * Storage of call recordings. `fs-recording-store.ts` keeps them as local files and
 * `s3-recording-store.ts` as objects in an S3 bucket; both pass `test/recording-contract.ts`.
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
  /** Deletes a recording; a missing one is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Returns a URL from which a client downloads the recording without voxbridge, such as a
   * presigned S3 URL, or null when the backend has none or the recording does not exist.
   */
  getDownloadUrl(key: string): Promise<string | null>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/** Returns the storage key of a call's recording. */
export function recordingKey(tenantId: string, callId: string): string {
  return `${tenantId}/${callId}.wav`;
}
