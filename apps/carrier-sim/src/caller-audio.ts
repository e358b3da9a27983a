/**
 * The callee's side of the audio: recorded phrases and line noise, both as 20 ms μ-law
 * frames already base64-encoded for Twilio `media` messages.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FRAME_SAMPLES,
  TELEPHONY_SAMPLE_RATE,
  downmixToMono,
  encodeMulaw,
  parseWav,
  resample,
} from '@voxfleet/audio';
import { CarrierSimError } from './errors.js';

/** The repository's `assets/caller` folder; the same depth from `src/` and `dist/`. */
export const DEFAULT_AUDIO_DIR = fileURLToPath(new URL('../../../assets/caller', import.meta.url));

/** Level of the line noise under the callee's audio. */
export const LINE_NOISE_DB = -60;

/** 250 distinct noise frames (5 s); the stream picks one at random per frame. */
const NOISE_BANK_FRAMES = 250;

export interface CallerAudio {
  /** The phrase's frames; throws when the phrase was not loaded. */
  phraseFrames(name: string): readonly string[];
  /** A random frame of line noise, as heard when the callee is silent. */
  noiseFrame(): string;
}

export interface LoadCallerAudioOptions {
  /** Folder holding `<phrase>.wav` files. */
  dir: string;
  /** Phrase names to load, without `.wav`. */
  phrases: readonly string[];
}

/** Loads each phrase from `<dir>/<phrase>.wav` (any rate, mono or stereo, PCM or G.711). */
export async function loadCallerAudio(options: LoadCallerAudioOptions): Promise<CallerAudio> {
  const phrases = new Map<string, string[]>();
  for (const name of options.phrases) {
    phrases.set(name, await loadPhrase(options.dir, name));
  }

  const noiseBank = Array.from({ length: NOISE_BANK_FRAMES }, () =>
    encodeFrame(generateNoise(FRAME_SAMPLES)),
  );

  return {
    phraseFrames(name) {
      const frames = phrases.get(name);
      if (frames === undefined) throw new Error(`caller phrase "${name}" is not loaded`);
      return frames;
    },
    noiseFrame() {
      return noiseBank[Math.floor(Math.random() * noiseBank.length)] ?? noiseBank[0] ?? '';
    },
  };
}

async function loadPhrase(dir: string, name: string): Promise<string[]> {
  const path = join(dir, `${name}.wav`);
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw new CarrierSimError(
      'CARRIER_SIM_AUDIO_INVALID',
      `cannot read caller phrase ${path}: set CARRIER_SIM_AUDIO_DIR to a folder with ${name}.wav`,
      { cause: err },
    );
  }

  let pcm: Int16Array;
  try {
    const wav = parseWav(data);
    pcm = resample(downmixToMono(wav.samples, wav.channels), wav.sampleRate, TELEPHONY_SAMPLE_RATE);
  } catch (err) {
    throw new CarrierSimError('CARRIER_SIM_AUDIO_INVALID', `invalid WAV file ${path}`, {
      cause: err,
    });
  }
  if (pcm.length === 0) {
    throw new CarrierSimError('CARRIER_SIM_AUDIO_INVALID', `WAV file ${path} has no samples`);
  }

  // Line noise runs under the phrase and fills the padding of its last frame.
  const frameCount = Math.ceil(pcm.length / FRAME_SAMPLES);
  const mixed = generateNoise(frameCount * FRAME_SAMPLES);
  for (let i = 0; i < pcm.length; i++) {
    mixed[i] = clamp16((mixed[i] ?? 0) + (pcm[i] ?? 0));
  }

  const frames: string[] = [];
  for (let f = 0; f < frameCount; f++) {
    frames.push(encodeFrame(mixed.subarray(f * FRAME_SAMPLES, (f + 1) * FRAME_SAMPLES)));
  }
  return frames;
}

/** Gaussian noise with an RMS level of `LINE_NOISE_DB` dBFS (Box-Muller transform). */
function generateNoise(samples: number): Int16Array {
  const sigma = 32768 * 10 ** (LINE_NOISE_DB / 20);
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    const u = 1 - Math.random();
    const v = Math.random();
    out[i] = clamp16(Math.round(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)));
  }
  return out;
}

function clamp16(sample: number): number {
  return Math.max(-32768, Math.min(32767, sample));
}

function encodeFrame(pcm: Int16Array): string {
  return Buffer.from(encodeMulaw(pcm)).toString('base64');
}
