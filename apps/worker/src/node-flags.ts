/**
 * `node` flags for a worker process, set wherever a worker is launched (`voxfleet start`,
 * bench/worker; the container's CMD should match).
 *
 * `--max-semi-space-size=1` caps V8's young generation at 1 MiB per semi-space (the default
 * grows to 16 MiB on 64-bit machines). A worker has one call and allocates a few small
 * objects per 20 ms frame, so a small young generation keeps the resident memory of a call
 * about 4 MiB lower (docs/benchmarks.md, "Worker"). The bench could not separate any
 * per-frame cost from the load of the shared machine it ran on.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
