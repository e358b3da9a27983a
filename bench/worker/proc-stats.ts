/** Linux `/proc` readings of a child process: resident memory and CPU time. */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of `/proc/<pid>/stat` times; 100 on Linux x86-64 and arm64. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Resident set size in MiB (`VmRSS` of `/proc/<pid>/status`). */
export function readRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match?.[1] === undefined) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) / 1024;
}

/** User plus system CPU time in milliseconds (fields 14 and 15 of `/proc/<pid>/stat`). */
export function readCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces, so fields are counted after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  return ((userTicks + systemTicks) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** The `q` quantile (0..1) of exact samples, by the nearest-rank method. */
export function quantile(samples: number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export interface HistogramBucket {
  /** Upper bound in seconds; Infinity for `+Inf`. */
  le: number;
  /** Cumulative count of observations up to `le`. */
  count: number;
}

/** Reads the cumulative buckets of histogram `name` from Prometheus text output. */
export function readHistogram(metricsText: string, name: string): HistogramBucket[] {
  const buckets: HistogramBucket[] = [];
  const pattern = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm');
  for (const match of metricsText.matchAll(pattern)) {
    buckets.push({
      le: match[1] === '+Inf' ? Infinity : Number(match[1]),
      count: Number(match[2]),
    });
  }
  return buckets;
}

/** Observations made between two readings of one histogram: `later` minus `earlier`. */
export function subtractHistogram(
  later: HistogramBucket[],
  earlier: HistogramBucket[],
): HistogramBucket[] {
  return later.map((bucket, index) => ({
    le: bucket.le,
    count: bucket.count - (earlier[index]?.count ?? 0),
  }));
}

/**
 * Computes the `q` quantile of histogram buckets, interpolated linearly inside
 * its bucket as PromQL's `histogram_quantile` does. Returns seconds.
 */
export function histogramQuantile(buckets: HistogramBucket[], q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const target = q * total;
  let previous = { le: 0, count: 0 };
  for (const bucket of buckets) {
    if (bucket.count >= target) {
      if (bucket.le === Infinity) return previous.le;
      const share = (target - previous.count) / Math.max(1, bucket.count - previous.count);
      return previous.le + (bucket.le - previous.le) * share;
    }
    previous = bucket;
  }
  return previous.le;
}
