/**
 * A drift-free frame clock: frame `n` is due at `start + n * intervalMs`, computed from
 * the start for every frame, so timer lateness never accumulates. A late wake-up sends
 * every frame that fell due, up to `maxCatchUpFrames` at once.
 */
import { performance } from 'node:perf_hooks';

export interface FrameClockOptions {
  /** Wall-clock time between frames: 20 ms divided by the speed factor. */
  intervalMs: number;
  /** Runs once per frame with the frame index, counted from 0. */
  onFrame: (index: number) => void;
  /** Frames sent in one wake-up at most; the rest follow on the next. Default 50. */
  maxCatchUpFrames?: number;
  /**
   * When the clock lags this far behind schedule it gives up on catching up and moves
   * the schedule forward. Default 1000 ms.
   */
  maxLagMs?: number;
  /** Called with the lag when the schedule was moved forward. */
  onLag?: (lagMs: number) => void;
}

export class FrameClock {
  private readonly options: FrameClockOptions;
  private startedAt = 0;
  private nextIndex = 0;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(options: FrameClockOptions) {
    this.options = options;
  }

  /** Starts the clock; frame 0 is due at once. Calling it again does nothing. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.startedAt = performance.now();
    this.nextIndex = 0;
    this.schedule();
  }

  /** Stops the clock; no frame runs after this returns. Safe to call from `onFrame`. */
  stop(): void {
    this.running = false;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private dueAt(index: number): number {
    return this.startedAt + index * this.options.intervalMs;
  }

  private schedule(): void {
    const delay = Math.max(0, this.dueAt(this.nextIndex) - performance.now());
    this.timer = setTimeout(this.tick, delay);
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    const maxFrames = this.options.maxCatchUpFrames ?? 50;
    const now = performance.now();

    let sent = 0;
    while (this.running && sent < maxFrames && this.dueAt(this.nextIndex) <= now) {
      const index = this.nextIndex;
      this.nextIndex++;
      sent++;
      this.options.onFrame(index);
    }
    if (!this.running) return;

    const lagMs = now - this.dueAt(this.nextIndex);
    if (lagMs > (this.options.maxLagMs ?? 1000)) {
      this.startedAt += lagMs;
      this.options.onLag?.(lagMs);
    }
    this.schedule();
  };
}
