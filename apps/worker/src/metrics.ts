/**
 * Prometheus metrics of one worker. Each worker owns its registry, so several workers in
 * one process (tests) do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class WorkerMetrics {
  readonly registry = new Registry();

  readonly calls = new Counter({
    name: 'voxfleet_worker_calls_total',
    help: 'Calls that ended, by final status (completed, failed, aborted, cancelled, stream-timeout).',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly attachRejections = new Counter({
    name: 'voxfleet_worker_attach_rejections_total',
    help: 'Rejected attach requests and stream upgrades, by error code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  readonly frames = new Counter({
    name: 'voxfleet_worker_media_frames_total',
    help: 'Media frames on the stream: direction is inbound or outbound.',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });

  readonly invalidFrames = new Counter({
    name: 'voxfleet_worker_invalid_frames_total',
    help: 'Inbound WebSocket frames ignored, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly callSetup = new Histogram({
    name: 'voxfleet_worker_call_setup_seconds',
    help: 'Call setup timings: attach to stream start, stream start to config loaded, stream start to first bot audio.',
    labelNames: ['phase'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly state = new Gauge({
    name: 'voxfleet_worker_state',
    help: 'Current worker state: 1 for the state it is in, 0 for the others.',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  setState(current: string, all: readonly string[]): void {
    for (const state of all) this.state.set({ state }, state === current ? 1 : 0);
  }
}
