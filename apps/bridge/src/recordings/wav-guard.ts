/**
 * A pass-through stream that checks an upload is RIFF/WAVE and within a byte limit while
 * it flows to storage, so a bad upload fails before it is stored and never sits in memory.
 */
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';

import { BridgeError } from '../errors.js';

/** Bytes needed to see `RIFF....WAVE`. */
const HEADER_BYTES = 12;

export function notWavError(): BridgeError {
  return new BridgeError(
    'RECORDING_INVALID_WAV',
    'recording body is not a RIFF/WAVE file: upload a .wav file with a RIFF header',
  );
}

export function tooLargeError(maxBytes: number): BridgeError {
  return new BridgeError(
    'RECORDING_TOO_LARGE',
    `recording is larger than the ${maxBytes}-byte limit (BRIDGE_MAX_RECORDING_BYTES)`,
  );
}

export class WavGuard extends Transform {
  readonly #maxBytes: number;
  #seen = 0;
  #header = Buffer.alloc(0);

  constructor(maxBytes: number) {
    super();
    this.#maxBytes = maxBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#maxBytes) {
      callback(tooLargeError(this.#maxBytes));
      return;
    }
    if (this.#header.length < HEADER_BYTES) {
      this.#header = Buffer.concat([
        this.#header,
        chunk.subarray(0, HEADER_BYTES - this.#header.length),
      ]);
      if (this.#header.length >= HEADER_BYTES && !isRiffWave(this.#header)) {
        callback(notWavError());
        return;
      }
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#header.length < HEADER_BYTES) {
      callback(notWavError());
      return;
    }
    callback();
  }
}

function isRiffWave(header: Buffer): boolean {
  return header.toString('latin1', 0, 4) === 'RIFF' && header.toString('latin1', 8, 12) === 'WAVE';
}
