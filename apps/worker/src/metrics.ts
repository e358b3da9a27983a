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
    help: 'Call setup timings by phase: reserve-to-attach, attach-to-stream, stream-to-first-inbound-media, first-inbound-media-to-first-bot-audio, stream-to-config, stream-to-first-audio.',
    labelNames: ['phase'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly lateFrames = new Counter({
    name: 'voxfleet_worker_late_frames_total',
    help: 'Inbound media frames that arrived after a later frame of the stream (reordered or duplicated).',
    registers: [this.registry],
  });

  readonly lostFrames = new Counter({
    name: 'voxfleet_worker_lost_frames_total',
    help: 'Inbound media frames missing from the stream: gaps in the chunk number, or in the timestamp when the chunk is absent.',
    registers: [this.registry],
  });

  readonly playbackQueue = new Gauge({
    name: 'voxfleet_worker_playback_queue_frames',
    help: 'Outbound messages (media and marks) queued in the worker and not yet written to the stream socket.',
    registers: [this.registry],
  });

  readonly playbackQueueDepth = new Histogram({
    name: 'voxfleet_worker_playback_queue_depth_frames',
    help: 'Outbound messages still queued in the worker, sampled each time a media frame is sent.',
    buckets: [0, 1, 2, 5, 10, 25, 50, 100, 250, 500],
    registers: [this.registry],
  });

  readonly frameProcessing = new Histogram({
    name: 'voxfleet_worker_frame_processing_seconds',
    help: 'Time to handle one inbound stream message: parse, decode and the engine step.',
    // Fine below 1 ms, because the budget of a 20 ms frame is 0.5 ms (bench/worker).
    buckets: [
      0.00001, 0.00002, 0.00003, 0.00005, 0.000075, 0.0001, 0.00015, 0.0002, 0.0003, 0.0005,
      0.00075, 0.001, 0.002, 0.005, 0.01,
    ],
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
