/**
 * RIFF/WAVE reading and writing for the formats telephony uses: 16-bit linear PCM
 * (format 1), A-law (6) and μ-law (7). Reading returns decoded 16-bit samples.
 */
import { decodeAlaw, decodeMulaw } from './g711.js';

export interface PcmAudio {
  sampleRate: number;
  channels: number;
  /** Interleaved 16-bit samples. */
  samples: Int16Array;
}

export class WavFormatError extends Error {
  readonly code = 'AUDIO_INVALID_WAV';
}

const FORMAT_PCM = 1;
const FORMAT_ALAW = 6;
const FORMAT_MULAW = 7;
const FORMAT_EXTENSIBLE = 0xfffe;

/** Parses a WAV file. Throws WavFormatError on anything it cannot decode. */
export function parseWav(data: Uint8Array): PcmAudio {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.byteLength < 12) throw new WavFormatError('WAV data is shorter than its header');
  const tag = (offset: number) => String.fromCharCode(...data.subarray(offset, offset + 4));
  if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new WavFormatError('not a RIFF/WAVE file');
  }
  let format = 0;
  let channels = 0;
  let sampleRate = 0;
  let bitsPerSample = 0;
  let offset = 12;
  while (offset + 8 <= data.byteLength) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new WavFormatError('fmt chunk is too short');
      format = view.getUint16(body, true);
      channels = view.getUint16(body + 2, true);
      sampleRate = view.getUint32(body + 4, true);
      bitsPerSample = view.getUint16(body + 14, true);
      if (format === FORMAT_EXTENSIBLE && size >= 26) format = view.getUint16(body + 24, true);
    } else if (id === 'data') {
      if (format === 0) throw new WavFormatError('data chunk comes before fmt chunk');
      // Streams written by sox or espeak-ng to a pipe carry a placeholder size.
      const end = Math.min(data.byteLength, body + size);
      const payload = data.subarray(body, end);
      return { sampleRate, channels, samples: decodePayload(payload, format, bitsPerSample) };
    }
    offset = body + size + (size % 2);
  }
  throw new WavFormatError('no data chunk');
}

function decodePayload(payload: Uint8Array, format: number, bits: number): Int16Array {
  if (format === FORMAT_PCM && bits === 16) {
    const count = Math.floor(payload.byteLength / 2);
    const out = new Int16Array(count);
    const view = new DataView(payload.buffer, payload.byteOffset, count * 2);
    for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true);
    return out;
  }
  if (format === FORMAT_PCM && bits === 8) {
    return Int16Array.from(payload, (b) => (b - 128) << 8);
  }
  if (format === FORMAT_MULAW && bits === 8) return decodeMulaw(payload);
  if (format === FORMAT_ALAW && bits === 8) return decodeAlaw(payload);
  throw new WavFormatError(`unsupported WAV encoding: format ${format}, ${bits} bits`);
}

/** Builds a 16-bit PCM WAV header for `dataBytes` bytes of samples. */
export function wavHeader(sampleRate: number, channels: number, dataBytes: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(FORMAT_PCM, 20);
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * channels * 2, 28);
  header.writeUInt16LE(channels * 2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/** Encodes interleaved 16-bit samples as a PCM WAV file. */
export function encodeWav(audio: PcmAudio): Buffer {
  const data = Buffer.from(
    audio.samples.buffer,
    audio.samples.byteOffset,
    audio.samples.byteLength,
  );
  return Buffer.concat([wavHeader(audio.sampleRate, audio.channels, data.byteLength), data]);
}
