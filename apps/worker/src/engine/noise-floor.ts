/**
 * Noise floor estimate by minimum tracking: the floor is the lowest frame level seen in a
 * sliding window of a few seconds. Speech has short pauses and dips, so its quietest frames
 * fall back to the line noise, while steady noise keeps the floor at its own level. It is a
 * simplified minimum-statistics estimate on whole-frame levels, without bias correction, so
 * it reads a little below the mean noise level.
 */

export interface NoiseFloorOptions {
  /** Frames per block; the window is `blocks` blocks long. */
  blockFrames: number;
  blocks: number;
}

/** Level reported before any frame arrives, in dBFS; `levelDb` returns it for silence. */
export const SILENCE_DB = -100;

export class NoiseFloor {
  private readonly blockFrames: number;
  /** Minimum of each finished block, oldest overwritten first. */
  private readonly blockMinimums: Float64Array;
  private filledBlocks = 0;
  private nextBlock = 0;
  private currentMinimum = Number.POSITIVE_INFINITY;
  private currentFrames = 0;
  private windowMinimum = Number.POSITIVE_INFINITY;

  constructor(options: NoiseFloorOptions) {
    this.blockFrames = options.blockFrames;
    this.blockMinimums = new Float64Array(options.blocks);
  }

  /** Floor in dBFS: the minimum frame level over the window, or `SILENCE_DB` before input. */
  get levelDb(): number {
    const minimum = Math.min(this.windowMinimum, this.currentMinimum);
    return minimum === Number.POSITIVE_INFINITY ? SILENCE_DB : minimum;
  }

  /** Adds one frame level in dBFS. O(1), except O(blocks) once per block. */
  update(frameDb: number): void {
    if (frameDb < this.currentMinimum) this.currentMinimum = frameDb;
    this.currentFrames++;
    if (this.currentFrames < this.blockFrames) return;

    this.blockMinimums[this.nextBlock] = this.currentMinimum;
    this.nextBlock = (this.nextBlock + 1) % this.blockMinimums.length;
    if (this.filledBlocks < this.blockMinimums.length) this.filledBlocks++;
    this.currentMinimum = Number.POSITIVE_INFINITY;
    this.currentFrames = 0;

    let minimum = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.filledBlocks; i++) {
      const value = this.blockMinimums[i] ?? Number.POSITIVE_INFINITY;
      if (value < minimum) minimum = value;
    }
    this.windowMinimum = minimum;
  }
}
