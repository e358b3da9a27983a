/**
 * The dialler's HTTP server: liveness, readiness, Prometheus metrics and the carrier's
 * status callbacks.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import Fastify, { LogController } from 'fastify';
import type { Logger } from '@voxfleet/logger';
import { CarrierStatusEvent } from '@voxfleet/schema';

import type { DiallerLoop } from './dialler.js';
import type { DiallerMetrics } from './metrics.js';

export interface ServerOptions {
  loop: DiallerLoop;
  metrics: DiallerMetrics;
  log: Logger;
  /** When set, `POST /carrier/status` needs it in the `x-carrier-secret` header. */
  carrierCallbackSecret?: string;
}

export type DiallerServer = ReturnType<typeof createServer>;

export function createServer(options: ServerOptions) {
  const { loop, metrics, log } = options;
  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    bodyLimit: 64 * 1024,
  });

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    const ready = loop.ready;
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not-ready', state: loop.state });
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });

  app.post('/carrier/status', async (request, reply) => {
    if (options.carrierCallbackSecret !== undefined) {
      const provided = request.headers['x-carrier-secret'];
      if (typeof provided !== 'string' || !secretsMatch(provided, options.carrierCallbackSecret)) {
        log.warn({ ip: request.ip }, 'carrier callback rejected: invalid secret');
        return reply.code(401).send({
          code: 'CARRIER_SECRET_INVALID',
          message:
            'missing or invalid x-carrier-secret header: send the configured CARRIER_CALLBACK_SECRET',
        });
      }
    }

    const parsed = CarrierStatusEvent.safeParse(request.body);
    if (!parsed.success) {
      const problems = parsed.error.issues
        .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
        .join('; ');
      log.warn({ problems }, 'carrier callback rejected: invalid body');
      return reply
        .code(400)
        .send({ code: 'CARRIER_EVENT_INVALID', message: `invalid carrier event: ${problems}` });
    }

    const event = parsed.data;
    const outcome = await loop.handleCarrierEvent(event);
    const fields = {
      callId: event.callId,
      carrierCallId: event.carrierCallId,
      status: event.status,
      outcome,
    };
    if (outcome === 'lookup-failed') {
      // A 5xx makes the carrier retry the callback, by which time voxbridge may respond.
      return reply.code(503).send({
        code: 'CALL_LOOKUP_FAILED',
        message: `call ${event.callId} is not in memory and voxbridge did not respond: retry`,
      });
    }
    if (outcome === 'applied') log.info(fields, 'carrier event applied');
    else log.debug(fields, 'carrier event ignored');
    return reply.code(200).send({ outcome });
  });

  return app;
}

/** Compares digests so the time taken does not reveal how much of the secret matched. */
function secretsMatch(provided: string, expected: string): boolean {
  const a = createHash('sha256').update(provided).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
