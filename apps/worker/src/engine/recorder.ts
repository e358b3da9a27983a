/**
 * Two-channel call recorder: caller on channel 1, bot on channel 2, 8 kHz 16-bit PCM.
 *
 * Caller audio is copied as it arrives into fixed-size chunks allocated one at a time, so
 * memory grows with the call up to `maxDurationMs`, and a 20 ms frame allocates nothing
 * except a new chunk every `chunkMs`. Bot audio is not copied. Each prompt keeps a reference
 * to its decoded samples, its playback start and the sample where a barge-in cut it, and
 * `render()` mixes both channels into the WAV file in one pass.
 */
import { endianness } from 'node:os';
import { TELEPHONY_SAMPLE_RATE, wavHeader } from '@voxfleet/audio';
import type { SessionRecording } from './types.js';

export interface CallRecorderOptions {
  /** Audio past this length is not recorded. */
  maxDurationMs: number;
  /** Size of each caller chunk in ms; a multiple of 20 ms keeps frames inside one chunk. */
  chunkMs?: number;
}

/** One prompt on the bot channel. */
export interface BotPlacement {
  readonly pcm: Int16Array;
  /** Media sample where playback starts. */
  readonly startSample: number;
  /** Media sample where playback stopped: the prompt's end, or the barge-in time. */
  endSample: number;
}

const SAMPLES_PER_MS = TELEPHONY_SAMPLE_RATE / 1000;
const WAV_HEADER_BYTES = 44;

export class CallRecorder {
  private readonly chunkSamples: number;
  private readonly maxSamples: number;
  private readonly chunks: Int16Array[] = [];
  private readonly placements: BotPlacement[] = [];
  private callerSamples = 0;

  constructor(options: CallRecorderOptions) {
    const chunkMs = options.chunkMs ?? 30_000;
    this.chunkSamples = Math.max(1, Math.round(chunkMs * SAMPLES_PER_MS));
    this.maxSamples = Math.max(0, Math.floor(options.maxDurationMs * SAMPLES_PER_MS));
  }

  /** Caller samples stored so far. */
  get recordedSamples(): number {
    return this.callerSamples;
  }

  /**
   * Appends caller audio at the end of channel 1. Returns false when some of it was dropped
   * because the recording reached `maxDurationMs`.
   */
  writeCaller(pcm: Int16Array): boolean {
    const room = this.maxSamples - this.callerSamples;
    const count = Math.min(pcm.length, room);
    let written = 0;
    while (written < count) {
      const chunkIndex = Math.floor(this.callerSamples / this.chunkSamples);
      const offset = this.callerSamples - chunkIndex * this.chunkSamples;
      let chunk = this.chunks[chunkIndex];
      if (chunk === undefined) {
        chunk = new Int16Array(this.chunkSamples);
        this.chunks.push(chunk);
      }
      const part = Math.min(count - written, this.chunkSamples - offset);
      if (written === 0 && part === pcm.length) {
        chunk.set(pcm, offset);
      } else {
        chunk.set(pcm.subarray(written, written + part), offset);
      }
      written += part;
      this.callerSamples += part;
    }
    return count === pcm.length;
  }

  /** Places a prompt on channel 2 from `startSample`; cut it later through the result. */
  placeBot(pcm: Int16Array, startSample: number): BotPlacement {
    const placement: BotPlacement = { pcm, startSample, endSample: startSample + pcm.length };
    this.placements.push(placement);
    return placement;
  }

  /** Cuts a placed prompt at `atSample`, as when `clearAudio` dropped the rest of it. */
  cutBot(placement: BotPlacement, atSample: number): void {
    const cut = Math.max(placement.startSample, atSample);
    if (cut < placement.endSample) placement.endSample = cut;
  }

  /**
   * Builds the stereo WAV file of the first `lengthSamples` samples of the call (capped at
   * `maxDurationMs`). Allocates the file once; call it when the call has ended.
   */
  render(lengthSamples: number): SessionRecording {
    const length = Math.max(0, Math.min(Math.floor(lengthSamples), this.maxSamples));
    const dataBytes = length * 4;
    const file = Buffer.alloc(WAV_HEADER_BYTES + dataBytes);
    wavHeader(TELEPHONY_SAMPLE_RATE, 2, dataBytes).copy(file, 0);
    const frames = new Int16Array(file.buffer, file.byteOffset + WAV_HEADER_BYTES, length * 2);

    const callerLength = Math.min(length, this.callerSamples);
    for (let chunkIndex = 0; chunkIndex < this.chunks.length; chunkIndex++) {
      const chunk = this.chunks[chunkIndex];
      if (chunk === undefined) break;
      const base = chunkIndex * this.chunkSamples;
      const end = Math.min(callerLength - base, chunk.length);
      for (let i = 0; i < end; i++) frames[(base + i) * 2] = chunk[i] ?? 0;
    }

    for (const placement of this.placements) {
      const end = Math.min(placement.endSample, length);
      for (let sample = Math.max(0, placement.startSample); sample < end; sample++) {
        const index = sample * 2 + 1;
        const mixed = (frames[index] ?? 0) + (placement.pcm[sample - placement.startSample] ?? 0);
        frames[index] = Math.max(-32768, Math.min(32767, mixed));
      }
    }

    // WAV samples are little-endian; typed arrays use the host's byte order.
    if (endianness() === 'BE') file.subarray(WAV_HEADER_BYTES).swap16();
    return { wav: file, durationMs: Math.round(length / SAMPLES_PER_MS) };
  }
}
