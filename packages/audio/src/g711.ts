/**
 * G.711 μ-law and A-law codecs (ITU-T G.711), table driven. Decoding is a table lookup
 * per byte; encoding uses a 64 Ki-entry table built once on first use.
 */

const MULAW_BIAS = 0x84;
const MULAW_CLIP = 32635;

function encodeMulawSample(sample: number): number {
  let value = sample;
  const sign = value < 0 ? 0x80 : 0;
  if (value < 0) value = -value;
  if (value > MULAW_CLIP) value = MULAW_CLIP;
  value += MULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (value & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (value >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function decodeMulawSample(byte: number): number {
  const value = ~byte & 0xff;
  const sign = value & 0x80;
  const exponent = (value >> 4) & 0x07;
  const mantissa = value & 0x0f;
  const magnitude = (((mantissa << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS;
  return sign ? -magnitude : magnitude;
}

function encodeAlawSample(sample: number): number {
  let value = sample;
  const sign = value >= 0 ? 0x80 : 0;
  if (value < 0) value = -value - 1;
  if (value > 32767) value = 32767;
  let encoded: number;
  if (value < 256) {
    encoded = value >> 4;
  } else {
    let exponent = 7;
    for (let mask = 0x4000; (value & mask) === 0 && exponent > 1; mask >>= 1) exponent--;
    encoded = (exponent << 4) | ((value >> (exponent + 3)) & 0x0f);
  }
  return (encoded | sign) ^ 0x55;
}

function decodeAlawSample(byte: number): number {
  const value = byte ^ 0x55;
  const sign = value & 0x80;
  const exponent = (value >> 4) & 0x07;
  const mantissa = value & 0x0f;
  let magnitude =
    exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  if (magnitude > 32767) magnitude = 32767;
  return sign ? magnitude : -magnitude;
}

const MULAW_DECODE = Int16Array.from({ length: 256 }, (_, b) => decodeMulawSample(b));
const ALAW_DECODE = Int16Array.from({ length: 256 }, (_, b) => decodeAlawSample(b));
let mulawEncodeTable: Uint8Array | undefined;
let alawEncodeTable: Uint8Array | undefined;

function buildEncodeTable(encode: (sample: number) => number): Uint8Array {
  const table = new Uint8Array(65536);
  for (let i = 0; i < 65536; i++) table[i] = encode(i - 32768);
  return table;
}

/** Encodes 16-bit linear PCM as μ-law, one byte per sample. */
export function encodeMulaw(pcm: Int16Array): Uint8Array {
  mulawEncodeTable ??= buildEncodeTable(encodeMulawSample);
  const table = mulawEncodeTable;
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = table[(pcm[i] ?? 0) + 32768] ?? 0xff;
  return out;
}

/** Decodes μ-law bytes to 16-bit linear PCM. */
export function decodeMulaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = MULAW_DECODE[bytes[i] ?? 0xff] ?? 0;
  return out;
}

/** Encodes 16-bit linear PCM as A-law, one byte per sample. */
export function encodeAlaw(pcm: Int16Array): Uint8Array {
  alawEncodeTable ??= buildEncodeTable(encodeAlawSample);
  const table = alawEncodeTable;
  const out = new Uint8Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) out[i] = table[(pcm[i] ?? 0) + 32768] ?? 0xd5;
  return out;
}

/** Decodes A-law bytes to 16-bit linear PCM. */
export function decodeAlaw(bytes: Uint8Array): Int16Array {
  const out = new Int16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = ALAW_DECODE[bytes[i] ?? 0xd5] ?? 0;
  return out;
}

/** μ-law byte for digital silence. */
export const MULAW_SILENCE = 0xff;
/** A-law byte for digital silence. */
export const ALAW_SILENCE = 0xd5;
