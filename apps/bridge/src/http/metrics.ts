/**
 * Prometheus metrics of one voxbridge instance, on a registry of its own so several
 * instances can run in one process (as tests do).
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface BridgeMetrics {
  registry: Registry;
  resultsAccepted: Counter<'status'>;
  claimedAttempts: Counter;
}

export function createMetrics(): BridgeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    resultsAccepted: new Counter({
      name: 'voxbridge_call_results_accepted_total',
      help: 'Call results stored, by call status; duplicates are not counted',
      labelNames: ['status'],
      registers: [registry],
    }),
    claimedAttempts: new Counter({
      name: 'voxbridge_claimed_attempts_total',
      help: 'Call attempts handed to the dialler by POST /internal/dialler/claim',
      registers: [registry],
    }),
  };
}

/** Counts requests and observes their latency by method, route pattern and status code. */
export function instrumentRequests(app: FastifyInstance, metrics: BridgeMetrics): void {
  const requests = new Counter({
    name: 'voxbridge_http_requests_total',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'],
    registers: [metrics.registry],
  });
  const latency = new Histogram({
    name: 'voxbridge_http_request_duration_seconds',
    help: 'HTTP request latency by method and route pattern',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics.registry],
  });
  app.addHook('onResponse', async (request, reply) => {
    // The route pattern, never the raw URL, keeps label cardinality bounded.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status_code: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}
