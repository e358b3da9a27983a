/**
 * Builds the Fastify instance: zod validation and serialisation, the OpenAPI document,
 * the error handler, metrics and every route group.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { Logger } from '@voxfleet/logger';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';

import { installErrorHandler } from './http/error-handler.js';
import { instrumentRequests } from './http/metrics.js';
import { botRoutes } from './routes/bots.js';
import { callRoutes } from './routes/calls.js';
import { campaignRoutes } from './routes/campaigns.js';
import type { RouteDeps } from './routes/deps.js';
import { fleetRoutes } from './routes/fleet.js';
import { inboundRoutes } from './routes/inbound.js';
import type { InboundRouteOptions } from './routes/inbound.js';
import { inboundKeyRoutes } from './routes/inbound-keys.js';
import type { FleetRouteOptions } from './routes/fleet.js';
import { dashboardRoutes } from './routes/fleet-ui.js';
import { internalDiallerRoutes } from './routes/internal-dialler.js';
import { internalWorkerRoutes } from './routes/internal-worker.js';
import { systemRoutes } from './routes/system.js';
import { tenantRoutes } from './routes/tenants.js';
import { DEFAULT_ATTEMPT_STALE_MS } from './store/types.js';

export interface BuildAppOptions {
  logger: Logger;
  version: string;
  deps: RouteDeps;
  fleet?: Omit<FleetRouteOptions, 'store' | 'logger'>;
  /** Folder of the dashboard build served under `/`; no dashboard when absent. */
  uiDir?: string;
  /** Silence after which the claim closes a live call as abandoned; the store's default when absent. */
  attemptStaleMs?: number;
  /** Inbound line settings; the registry URL and stale time come from `fleet` and `attemptStaleMs`. */
  inbound?: Pick<
    InboundRouteOptions,
    'pool' | 'reservationTtlMs' | 'streamTimeoutMs' | 'tenantMaxCalls' | 'sweepIntervalMs'
  >;
}

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = options.logger;
  const app = Fastify({
    loggerInstance,
    // While closing, a request on a still-open connection gets 503 so load balancers move on.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.decorateRequest('tenant', null);
  installErrorHandler(app);
  instrumentRequests(app, options.deps.metrics);

  // close() stops idle keep-alive connections only once, when it starts. Responses sent
  // while closing carry `connection: close`, so busy connections end with their request
  // instead of holding close() open until the keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) void reply.header('connection', 'close');
    return payload;
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'voxbridge',
        description:
          'The voxfleet HTTP API: tenants, bots, campaigns, contacts, calls and recordings, ' +
          'and the webhook that connects inbound calls to bots.',
        version: options.version,
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'API key' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          adminKey: { type: 'http', scheme: 'bearer', description: 'BRIDGE_ADMIN_KEY' },
          internalToken: { type: 'http', scheme: 'bearer', description: 'BRIDGE_INTERNAL_TOKEN' },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const deps = options.deps;
  await app.register(systemRoutes, deps);
  await app.register(tenantRoutes, deps);
  await app.register(botRoutes, deps);
  await app.register(campaignRoutes, deps);
  await app.register(callRoutes, deps);
  await app.register(internalDiallerRoutes, { ...deps, attemptStaleMs: options.attemptStaleMs });
  await app.register(internalWorkerRoutes, deps);
  await app.register(fleetRoutes, { ...options.fleet, store: deps.store, logger: options.logger });
  await app.register(inboundKeyRoutes, deps);
  await app.register(inboundRoutes, {
    ...options.inbound,
    store: deps.store,
    logger: options.logger,
    now: deps.now,
    registryUrl: options.fleet?.registryUrl,
    publicUrl: deps.publicUrl,
    attemptStaleMs: options.attemptStaleMs ?? DEFAULT_ATTEMPT_STALE_MS,
  });
  if (options.uiDir !== undefined) {
    await app.register(dashboardRoutes, { uiDir: options.uiDir, logger: options.logger });
  }
  return app;
}
