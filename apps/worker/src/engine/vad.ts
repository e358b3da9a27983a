/**
 * Energy-based speech detector for 8 kHz caller audio, working on 20 ms frames.
 *
 * A frame is active when its level (`levelDb` from `@voxfleet/audio`) reaches the start
 * threshold: the configured `thresholdDb`, raised to `floorMarginDb` above the tracked noise
 * floor on noisy lines. Once speech has started, frames only need the lower stop threshold
 * (`hysteresisDb` below the start threshold) to count as active, so a word that fades does not
 * end the utterance early. `minSpeechMs` of consecutive active frames start an utterance and
 * `endSilenceMs` of inactive frames end it.
 *
 * @example
 * const detector = new SpeechDetector(config.vad, {
 *   onSpeechStart: (startMs) => log.debug({ startMs }, 'speech started'),
 *   onSpeechEnd: (startMs, durationMs) => log.debug({ startMs, durationMs }, 'speech ended'),
 * });
 * detector.process(frame);
 */
import { FRAME_MS, FRAME_SAMPLES, levelDb } from '@voxfleet/audio';
import type { VadOptions } from '@voxfleet/schema';
import { NoiseFloor } from './noise-floor.js';

/** Receives utterance boundaries; times are on the detector's clock, in milliseconds. */
export interface SpeechListener {
  /** Called once `minSpeechMs` of speech has been heard; `startMs` is its first frame. */
  onSpeechStart(startMs: number): void;
  /** Called once `endSilenceMs` of silence follows an utterance. */
  onSpeechEnd(startMs: number, durationMs: number): void;
}

export interface SpeechDetectorOptions extends VadOptions {
  /** Margin in dB that speech must reach above the noise floor. Defaults to 10. */
  floorMarginDb?: number;
  /** Start threshold minus stop threshold, in dB. Defaults to 6. */
  hysteresisDb?: number;
  /** Length of the noise floor's minimum window in ms. Defaults to 2000. */
  floorWindowMs?: number;
}

enum State {
  Silence,
  Candidate,
  Speech,
}

const FLOOR_BLOCKS = 8;

export class SpeechDetector {
  private readonly thresholdDb: number;
  private readonly floorMarginDb: number;
  private readonly hysteresisDb: number;
  private readonly minSpeechFrames: number;
  private readonly endSilenceFrames: number;
  private readonly floor: NoiseFloor;
  private readonly listener: SpeechListener;

  /** Samples of an incomplete frame, kept until the next call completes it. */
  private readonly pending = new Int16Array(FRAME_SAMPLES);
  private pendingLength = 0;

  private state = State.Silence;
  private frameIndex = 0;
  private utteranceStartFrame = 0;
  private activeFrames = 0;
  private silentFrames = 0;
  /** Index one past the last active frame of the current utterance. */
  private lastActiveEndFrame = 0;

  constructor(options: SpeechDetectorOptions, listener: SpeechListener) {
    this.thresholdDb = options.thresholdDb;
    this.floorMarginDb = options.floorMarginDb ?? 10;
    this.hysteresisDb = options.hysteresisDb ?? 6;
    this.minSpeechFrames = Math.max(1, Math.ceil(options.minSpeechMs / FRAME_MS));
    this.endSilenceFrames = Math.max(1, Math.ceil(options.endSilenceMs / FRAME_MS));
    const windowFrames = Math.max(
      FLOOR_BLOCKS,
      Math.round((options.floorWindowMs ?? 2000) / FRAME_MS),
    );
    this.floor = new NoiseFloor({
      blockFrames: Math.ceil(windowFrames / FLOOR_BLOCKS),
      blocks: FLOOR_BLOCKS,
    });
    this.listener = listener;
  }

  /** Whether an utterance has started and not yet ended. */
  get inSpeech(): boolean {
    return this.state === State.Speech;
  }

  /** Current noise floor estimate in dBFS. */
  get noiseFloorDb(): number {
    return this.floor.levelDb;
  }

  /** Start time of the utterance in progress, in ms; meaningful only while `inSpeech`. */
  get utteranceStartMs(): number {
    return this.utteranceStartFrame * FRAME_MS;
  }

  /**
   * Feeds caller audio of any length. Audio arrives in 20 ms frames in the usual case, which
   * takes the fast path; other lengths are regrouped into 20 ms frames without allocating.
   */
  process(pcm: Int16Array): void {
    if (this.pendingLength === 0 && pcm.length === FRAME_SAMPLES) {
      this.processFrame(levelDb(pcm));
      return;
    }
    for (let i = 0; i < pcm.length; i++) {
      this.pending[this.pendingLength++] = pcm[i] ?? 0;
      if (this.pendingLength === FRAME_SAMPLES) {
        this.processFrame(levelDb(this.pending));
        this.pendingLength = 0;
      }
    }
  }

  /** Ends an utterance in progress, as at the end of a call. */
  flush(): void {
    if (this.state === State.Speech) this.endUtterance();
    this.state = State.Silence;
    this.activeFrames = 0;
  }

  private processFrame(frameDb: number): void {
    // The thresholds come from the floor of earlier frames, so this frame cannot hide itself.
    const startDb = Math.max(this.thresholdDb, this.floor.levelDb + this.floorMarginDb);
    const stopDb = startDb - this.hysteresisDb;
    const frame = this.frameIndex++;
    this.floor.update(frameDb);

    switch (this.state) {
      case State.Silence:
        if (frameDb >= startDb) {
          this.state = State.Candidate;
          this.utteranceStartFrame = frame;
          this.activeFrames = 1;
          this.confirmIfLongEnough(frame);
        }
        return;
      case State.Candidate:
        if (frameDb >= stopDb) {
          this.activeFrames++;
          this.confirmIfLongEnough(frame);
        } else {
          this.state = State.Silence;
          this.activeFrames = 0;
        }
        return;
      case State.Speech:
        if (frameDb >= stopDb) {
          this.silentFrames = 0;
          this.lastActiveEndFrame = frame + 1;
          return;
        }
        this.silentFrames++;
        if (this.silentFrames >= this.endSilenceFrames) {
          this.state = State.Silence;
          this.endUtterance();
        }
        return;
    }
  }

  private confirmIfLongEnough(frame: number): void {
    if (this.activeFrames < this.minSpeechFrames) return;
    this.state = State.Speech;
    this.silentFrames = 0;
    this.lastActiveEndFrame = frame + 1;
    this.listener.onSpeechStart(this.utteranceStartFrame * FRAME_MS);
  }

  private endUtterance(): void {
    this.activeFrames = 0;
    const durationFrames = this.lastActiveEndFrame - this.utteranceStartFrame;
    this.listener.onSpeechEnd(this.utteranceStartFrame * FRAME_MS, durationFrames * FRAME_MS);
  }
}
