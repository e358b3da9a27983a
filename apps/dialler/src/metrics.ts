/**
 * Prometheus metrics of one dialler, on a registry of its own so several diallers can run
 * in one process (as tests do).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface DiallerMetrics {
  registry: Registry;
  attempts: Counter<'status'>;
  reserveFailures: Counter;
  attachFailures: Counter;
  adoptedAttempts: Counter;
  inFlight: Gauge;
  tickDuration: Histogram;
  claimDuration: Histogram;
}

export function createMetrics(): DiallerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'voxdialler_' });
  return {
    registry,
    attempts: new Counter({
      name: 'voxdialler_attempts_total',
      help: 'Call attempts that reached a final status, by that status.',
      labelNames: ['status'],
      registers: [registry],
    }),
    reserveFailures: new Counter({
      name: 'voxdialler_reserve_failures_total',
      help: 'Claimed attempts for which no idle slot could be reserved.',
      registers: [registry],
    }),
    attachFailures: new Counter({
      name: 'voxdialler_attach_failures_total',
      help: 'Attach requests that a worker rejected or did not respond to.',
      registers: [registry],
    }),
    adoptedAttempts: new Counter({
      name: 'voxdialler_adopted_attempts_total',
      help: 'Live calls left by an earlier dialler process and adopted by this one.',
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'voxdialler_in_flight',
      help: 'Call attempts between claim and final status.',
      registers: [registry],
    }),
    tickDuration: new Histogram({
      name: 'voxdialler_loop_tick_duration_seconds',
      help: 'Duration of one pacing tick: count slots, claim, reserve, attach and place.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    claimDuration: new Histogram({
      name: 'voxdialler_claim_duration_seconds',
      help: 'Latency of POST /internal/dialler/claim on voxbridge.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
