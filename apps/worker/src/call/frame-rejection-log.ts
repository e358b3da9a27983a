/**
 * Counts ignored inbound frames and logs the counts at most once per 5 s per call, plus once
 * when the call ends, so a misbehaving carrier cannot flood the log.
 */
import type { Logger } from '@voxfleet/logger';
import type { WorkerMetrics } from '../metrics.js';

const LOG_INTERVAL_MS = 5_000;

export class FrameRejectionLog {
  readonly #log: Logger;
  readonly #metrics: WorkerMetrics;
  #counts = new Map<string, number>();
  #lastLogAt = 0;
  #lastMessage: string | undefined;

  constructor(log: Logger, metrics: WorkerMetrics) {
    this.#log = log;
    this.#metrics = metrics;
  }

  /** Counts one ignored frame; `message` is the parser's explanation, if any. */
  record(reason: string, message?: string): void {
    this.#metrics.invalidFrames.inc({ reason });
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
    if (message !== undefined) this.#lastMessage = message.slice(0, 300);
    if (Date.now() - this.#lastLogAt >= LOG_INTERVAL_MS) this.flush();
  }

  /** Logs the counts gathered since the last log line, if any. */
  flush(): void {
    if (this.#counts.size === 0) return;
    this.#log.warn(
      { ignoredFrames: Object.fromEntries(this.#counts), lastError: this.#lastMessage },
      'inbound frames ignored',
    );
    this.#counts = new Map();
    this.#lastMessage = undefined;
    this.#lastLogAt = Date.now();
  }
}
