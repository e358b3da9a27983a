/** Load loops and statistics shared by the benchmark's cases. */
import { performance } from 'node:perf_hooks';

export interface RunResult {
  operations: number;
  seconds: number;
  /** Operations per second of wall-clock time. */
  rate: number;
}

/**
 * Runs `operation` in `concurrency` loops until `durationMs` has passed and returns the
 * completed operations per second. `operation` receives the loop's index.
 */
export async function runFor(
  durationMs: number,
  concurrency: number,
  operation: (loop: number) => Promise<void>,
): Promise<RunResult> {
  const started = performance.now();
  const endAt = started + durationMs;
  let operations = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      while (performance.now() < endAt) {
        await operation(loop);
        operations += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { operations, seconds, rate: operations / seconds };
}

/** Returns the value below which `fraction` of the sorted samples lie (nearest rank). */
export function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, rank)] ?? Number.NaN;
}

export function formatRate(rate: number): string {
  return Math.round(rate).toLocaleString('en-US');
}
