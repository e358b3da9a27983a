/** Sample-level helpers on 16-bit linear PCM. */

/** Mixes interleaved channels down to mono by averaging them. */
export function downmixToMono(samples: Int16Array, channels: number): Int16Array {
  if (channels === 1) return samples;
  const frames = Math.floor(samples.length / channels);
  const out = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += samples[i * channels + c] ?? 0;
    out[i] = Math.round(sum / channels);
  }
  return out;
}

/**
 * Resamples mono PCM by linear interpolation. Good enough for speech between the
 * telephony rates (8, 16, 24 kHz) and TTS output (22.05 kHz); it applies no anti-alias
 * filter, so downsampling keeps some energy above the new Nyquist frequency.
 */
export function resample(samples: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate || samples.length === 0) return samples;
  const length = Math.max(1, Math.round((samples.length * toRate) / fromRate));
  const out = new Int16Array(length);
  const step = fromRate / toRate;
  for (let i = 0; i < length; i++) {
    const position = i * step;
    const index = Math.floor(position);
    const fraction = position - index;
    const a = samples[index] ?? samples[samples.length - 1] ?? 0;
    const b = samples[index + 1] ?? a;
    out[i] = Math.round(a + (b - a) * fraction);
  }
  return out;
}

/** Root-mean-square level of the samples in dBFS; -100 for digital silence. */
export function levelDb(samples: Int16Array): number {
  if (samples.length === 0) return -100;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i] ?? 0;
    sum += s * s;
  }
  const rms = Math.sqrt(sum / samples.length) / 32768;
  return rms <= 0.00001 ? -100 : 20 * Math.log10(rms);
}

/** Splits samples into frames of `frameSamples`, padding the last one with silence. */
export function splitFrames(samples: Int16Array, frameSamples: number): Int16Array[] {
  const frames: Int16Array[] = [];
  for (let start = 0; start < samples.length; start += frameSamples) {
    const frame = new Int16Array(frameSamples);
    frame.set(samples.subarray(start, Math.min(start + frameSamples, samples.length)));
    frames.push(frame);
  }
  return frames;
}

/** Converts little-endian 16-bit PCM bytes to samples; an odd last byte is dropped. */
export function pcmFromBytes(bytes: Uint8Array): Int16Array {
  const count = Math.floor(bytes.byteLength / 2);
  const out = new Int16Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * 2);
  for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

/** Converts samples to little-endian 16-bit PCM bytes. */
export function pcmToBytes(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i] ?? 0, i * 2);
  return out;
}
