/**
 * Conversion between the wire audio of a media stream and the engine's 8 kHz 16-bit PCM,
 * plus the small schema pieces every adapter's frame schemas share (zod/mini, see
 * `validation.ts`).
 */
import {
  TELEPHONY_SAMPLE_RATE,
  decodeAlaw,
  decodeMulaw,
  encodeAlaw,
  encodeMulaw,
  pcmFromBytes,
  pcmToBytes,
  resample,
} from '@voxfleet/audio';
import { z } from '../validation.js';
import type { MediaFormat } from './types.js';

/**
 * Base64 without line breaks. 400 000 characters is 300 000 bytes: about six seconds of 24 kHz
 * 16-bit PCM, more than any provider sends in one inbound frame.
 */
/** Maximum length of one inbound frame's base64 payload, in characters. */
export const BASE64_MAX_LENGTH = 400_000;

export const Base64Payload = z
  .string()
  .check(z.maxLength(BASE64_MAX_LENGTH), z.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'));

/** A counter that some providers send as a decimal string and others as a number. */
export const Counter = z.union([
  z.int().check(z.minimum(0), z.maximum(Number.MAX_SAFE_INTEGER)),
  z.string().check(z.regex(/^[0-9]{1,15}$/, 'must be a decimal number')),
]);

/** Builds the schema of a string of `min` to `max` characters. */
export function text(max: number, min = 0) {
  return min === 0
    ? z.string().check(z.maxLength(max))
    : z.string().check(z.minLength(min), z.maxLength(max));
}

export const StreamId = text(128, 1);

export const DtmfDigit = z.string().check(z.regex(/^[0-9*#A-D]$/, 'must be one DTMF digit'));

export const MarkName = text(256, 1);

export const ParameterRecord = z.record(text(256), text(4096));

/** Decodes one payload to 8 kHz PCM; an odd trailing byte of 16-bit PCM is dropped. */
export function decodeWireAudio(payload: string, format: MediaFormat): Int16Array {
  const bytes = Buffer.from(payload, 'base64');
  let pcm: Int16Array;
  if (format.encoding === 'mulaw') pcm = decodeMulaw(bytes);
  else if (format.encoding === 'alaw') pcm = decodeAlaw(bytes);
  else pcm = pcmFromBytes(bytes);
  if (format.sampleRate === TELEPHONY_SAMPLE_RATE) return pcm;
  return resample(pcm, format.sampleRate, TELEPHONY_SAMPLE_RATE);
}

/** Encodes 8 kHz PCM in the stream's wire format and returns it as base64. */
export function encodeWireAudio(pcm: Int16Array, format: MediaFormat): string {
  const samples =
    format.sampleRate === TELEPHONY_SAMPLE_RATE
      ? pcm
      : resample(pcm, TELEPHONY_SAMPLE_RATE, format.sampleRate);
  let bytes: Uint8Array;
  if (format.encoding === 'mulaw') bytes = encodeMulaw(samples);
  else if (format.encoding === 'alaw') bytes = encodeAlaw(samples);
  else bytes = pcmToBytes(samples);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Reads a counter sent as a number or a decimal string. */
export function counterValue(value: number | string | undefined): number | null {
  if (value === undefined) return null;
  return typeof value === 'number' ? value : Number(value);
}

/** Builds a media event, leaving out the counters the frame did not carry. */
export function mediaEvent(
  pcm: Int16Array,
  chunk: number | string | undefined,
  timestamp: number | string | undefined,
): { type: 'media'; pcm: Int16Array; chunk?: number; timestampMs?: number } {
  const chunkValue = counterValue(chunk);
  const timestampMs = counterValue(timestamp);
  return {
    type: 'media',
    pcm,
    ...(chunkValue === null ? {} : { chunk: chunkValue }),
    ...(timestampMs === null ? {} : { timestampMs }),
  };
}
