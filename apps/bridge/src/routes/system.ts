/** Liveness, readiness and Prometheus routes; no authentication. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import type { RouteDeps } from './deps.js';

const StatusResponse = z.object({ status: z.string() });

export const systemRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, deps) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['system'],
        summary: 'Liveness: 200 while the process runs',
        response: { 200: StatusResponse },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['system'],
        summary: 'Readiness: 200 while the store is open, 503 while closing',
        response: { 200: StatusResponse, 503: StatusResponse },
      },
    },
    async (_request, reply) => {
      const open = await deps.store.ping();
      if (!open) return reply.code(503).send({ status: 'store unavailable' });
      return { status: 'ready' };
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['system'],
        summary: 'Prometheus metrics in the text exposition format',
      },
    },
    async (_request, reply) => {
      const text = await deps.metrics.registry.metrics();
      return reply
        .type(deps.metrics.registry.contentType)

        .send(text);
    },
  );
};
