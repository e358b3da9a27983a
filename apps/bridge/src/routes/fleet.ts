/**
 * Fleet routes for the dashboard: the worker snapshot, the capacity history and a
 * server-sent event stream of fleet updates. Workers are shared by every tenant, so any
 * API key may read them, but the call and campaign ids of a reservation are shown only to
 * the tenant that made it.
 */
import type { Logger } from '@voxfleet/logger';
import { openRegistry } from '@voxfleet/registry';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { BridgeError } from '../errors.js';
import { apiKeyAuth, tenantOf } from '../http/auth.js';
import { API_KEY_SECURITY, AUTH_ERRORS, ErrorResponse } from '../http/schemas.js';
import type { BridgeStore } from '../store/types.js';
import { FleetMonitor } from './fleet-monitor.js';
import { LostCalls } from './lost-calls.js';
import type { FleetSample, FleetState, FleetWorker } from './fleet-monitor.js';

export interface FleetRouteOptions {
  store: BridgeStore;
  logger: Logger;
  /** Capacity registry URL (`sqlite:<path>` or `redis://...`); without it the fleet is empty. */
  registryUrl?: string;
  /** Defaults to 5000. */
  sampleIntervalMs?: number;
  /** How long a server-sent event stream may stay silent before a comment line; defaults to 15000. */
  keepAliveMs?: number;
  /** Wait between an inbound call's release without a result and its closure; defaults to 60000. */
  releaseGraceMs?: number;
  now?: () => Date;
}

/** Event streams one tenant may hold open at once; each costs a socket and a subscription. */
const MAX_STREAMS_PER_TENANT = 50;
/** Unsent bytes after which a stream counts as abandoned by its reader and is closed. */
const MAX_UNREAD_BYTES = 1024 * 1024;

const SlotStateSchema = z.enum(['idle', 'reserved', 'busy', 'draining', 'offline']);

const FleetWorkerResponse = z.object({
  workerId: z.string(),
  url: z.string(),
  host: z.string(),
  pool: z.string(),
  labels: z.record(z.string(), z.string()),
  state: SlotStateSchema,
  draining: z.boolean(),
  reservation: z
    .object({
      /** True when the request's tenant made the reservation; otherwise the ids are null. */
      ownedByTenant: z.boolean(),
      callId: z.string().nullable(),
      campaignId: z.string().nullable(),
      confirmed: z.boolean(),
      deadline: z.string(),
    })
    .nullable(),
  lastSeenAt: z.string(),
});

const FleetCountsResponse = z.object({
  workers: z.number().int(),
  idle: z.number().int(),
  reserved: z.number().int(),
  busy: z.number().int(),
  draining: z.number().int(),
  offline: z.number().int(),
});

export const FleetResponse = z.object({
  registryConfigured: z
    .boolean()
    .describe('False when voxbridge runs without REGISTRY_URL; the fleet is then always empty'),
  registryError: z.string().nullable(),
  sampledAt: z.string().nullable(),
  counts: FleetCountsResponse,
  hosts: z.array(
    z.object({
      host: z.string(),
      pools: z.array(z.object({ pool: z.string(), workers: z.array(FleetWorkerResponse) })),
    }),
  ),
});

export const FleetHistoryResponse = z.object({
  registryConfigured: z.boolean(),
  sampleIntervalMs: z.number().int(),
  windowMs: z.number().int(),
  samples: z.array(
    z.object({
      at: z.string(),
      used: z.number().int().describe('Slots reserved or in a call'),
      free: z.number().int().describe('Idle slots that are not draining'),
      draining: z.number().int(),
      offline: z.number().int(),
    }),
  ),
});

type FleetView = z.infer<typeof FleetResponse>;

export const fleetRoutes: FastifyPluginAsyncZod<FleetRouteOptions> = async (app, options) => {
  const registryUrl = options.registryUrl;
  const lostCalls = new LostCalls({
    store: options.store,
    logger: options.logger,
    ...(options.releaseGraceMs === undefined ? {} : { releaseGraceMs: options.releaseGraceMs }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const monitor = new FleetMonitor({
    openRegistry:
      registryUrl === undefined
        ? null
        : () => openRegistry(registryUrl, { logger: options.logger }),
    logger: options.logger,
    onSlotEvents: lostCalls.onEvents,
    ...(options.sampleIntervalMs === undefined
      ? {}
      : { sampleIntervalMs: options.sampleIntervalMs }),
  });
  const keepAliveMs = options.keepAliveMs ?? 15_000;
  const streams = new Set<() => void>();
  const streamsPerTenant = new Map<string, number>();

  app.addHook('onReady', async () => {
    await monitor.start();
  });
  // Event streams never end by themselves, so they are ended before close() waits for
  // the open connections to finish.
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });
  app.addHook('onClose', async () => {
    await monitor.stop();
    await lostCalls.stop();
  });
  app.addHook('onRequest', apiKeyAuth(options.store));

  app.get(
    '/v1/fleet',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Read every worker slot, grouped by host and pool',
        description:
          'Taken from the last registry sample, at most one sample interval old. A worker ' +
          'that left the registry is listed as `offline` for an hour after it was last seen.',
        security: API_KEY_SECURITY,
        response: { 200: FleetResponse, ...AUTH_ERRORS },
      },
    },
    async (request) => fleetView(monitor.snapshot(), tenantOf(request).id),
  );

  app.get(
    '/v1/fleet/history',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Read used and free slot counts over the last hour, oldest first',
        description:
          'voxbridge samples the registry every few seconds into an in-memory ring buffer ' +
          'that covers one hour. It starts empty when voxbridge starts, and each replica ' +
          'keeps its own.',
        security: API_KEY_SECURITY,
        response: { 200: FleetHistoryResponse, ...AUTH_ERRORS },
      },
    },
    async () => ({
      registryConfigured: registryUrl !== undefined,
      sampleIntervalMs: monitor.sampleIntervalMs,
      windowMs: monitor.historyMs,
      samples: monitor.history().map(sampleView),
    }),
  );

  app.get(
    '/v1/events',
    {
      schema: {
        tags: ['fleet'],
        summary: 'Stream live fleet updates as server-sent events',
        description:
          'A `text/event-stream` that authenticates like every public route, with a header, ' +
          'so browsers read it with `fetch` instead of `EventSource`. Each `fleet` event ' +
          'carries the body of `GET /v1/fleet`; one is sent on connect and one after every ' +
          'registry sample. A comment line is sent after 15 s of silence to keep proxies ' +
          'from closing the stream.',
        security: API_KEY_SECURITY,
        produces: ['text/event-stream'],
        response: { ...AUTH_ERRORS, 429: ErrorResponse },
      },
    },
    async (request, reply) => {
      const tenantId = tenantOf(request).id;
      const open = streamsPerTenant.get(tenantId) ?? 0;
      if (open >= MAX_STREAMS_PER_TENANT) {
        throw new BridgeError(
          'TOO_MANY_STREAMS',
          `this tenant already has ${open} event streams open; close one first`,
        );
      }
      streamsPerTenant.set(tenantId, open + 1);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // nginx buffers proxied responses unless this header turns it off.
        'x-accel-buffering': 'no',
      });

      let lastWriteAt = Date.now();
      const send = (chunk: string): void => {
        // A client that stops reading would make every later event pile up in memory.
        if (raw.writableLength > MAX_UNREAD_BYTES) {
          request.log.warn({ tenantId }, 'event stream closed: client stopped reading');
          end();
          return;
        }
        lastWriteAt = Date.now();
        raw.write(chunk);
      };
      const sendFleet = (state: FleetState): void => {
        send(`event: fleet\ndata: ${JSON.stringify(fleetView(state, tenantId))}\n\n`);
      };
      const keepAlive = setInterval(() => {
        if (Date.now() - lastWriteAt >= keepAliveMs) send(': keep-alive\n\n');
      }, keepAliveMs / 3);
      const unsubscribe = monitor.subscribe(sendFleet);
      function end(): void {
        if (!streams.has(end)) return;
        clearInterval(keepAlive);
        unsubscribe();
        streams.delete(end);
        const left = (streamsPerTenant.get(tenantId) ?? 1) - 1;
        if (left > 0) streamsPerTenant.set(tenantId, left);
        else streamsPerTenant.delete(tenantId);
        if (raw.writableLength > MAX_UNREAD_BYTES) raw.destroy();
        else if (!raw.writableEnded) raw.end();
      }
      streams.add(end);
      raw.on('close', end);
      request.log.debug({ tenantId }, 'event stream opened');
      sendFleet(monitor.snapshot());
    },
  );
};

function fleetView(state: FleetState, tenantId: string): FleetView {
  const hosts: FleetView['hosts'] = [];
  // Workers arrive sorted by host, then pool, so each group is a run of neighbours.
  for (const worker of state.workers) {
    let host = hosts.at(-1);
    if (host?.host !== worker.host) {
      host = { host: worker.host, pools: [] };
      hosts.push(host);
    }
    let pool = host.pools.at(-1);
    if (pool?.pool !== worker.pool) {
      pool = { pool: worker.pool, workers: [] };
      host.pools.push(pool);
    }
    pool.workers.push(workerView(worker, tenantId));
  }
  return {
    registryConfigured: state.registryConfigured,
    registryError: state.registryError,
    sampledAt: state.sampledAt === null ? null : new Date(state.sampledAt).toISOString(),
    counts: state.counts,
    hosts,
  };
}

function workerView(worker: FleetWorker, tenantId: string): z.infer<typeof FleetWorkerResponse> {
  const reservation = worker.reservation;
  const owned = reservation !== null && reservation.tenantId === tenantId;
  return {
    workerId: worker.workerId,
    url: worker.url,
    host: worker.host,
    pool: worker.pool,
    labels: worker.labels,
    state: worker.state,
    draining: worker.draining,
    reservation:
      reservation === null
        ? null
        : {
            ownedByTenant: owned,
            callId: owned ? reservation.callId : null,
            campaignId: owned ? reservation.campaignId : null,
            confirmed: reservation.confirmed,
            deadline: new Date(reservation.deadline).toISOString(),
          },
    lastSeenAt: new Date(worker.lastSeenAt).toISOString(),
  };
}

function sampleView(sample: FleetSample): z.infer<typeof FleetHistoryResponse>['samples'][number] {
  return { ...sample, at: new Date(sample.at).toISOString() };
}
