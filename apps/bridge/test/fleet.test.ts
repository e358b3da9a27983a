import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { openRegistry } from '@voxfleet/registry';
import type { CapacityRegistry, WorkerRegistration } from '@voxfleet/registry';

import { hashApiKey, loadEnv, SqliteStore } from '../src/index.js';
import { API_KEY, createCampaign, errorCode, INTERNAL_TOKEN, startTestBridge } from './helpers.js';
import type { TestBridge } from './helpers.js';

interface FleetBody {
  registryConfigured: boolean;
  registryError: string | null;
  sampledAt: string | null;
  counts: Record<string, number>;
  hosts: Array<{
    host: string;
    pools: Array<{
      pool: string;
      workers: Array<{
        workerId: string;
        state: string;
        draining: boolean;
        reservation: { ownedByTenant: boolean; callId: string | null; confirmed: boolean } | null;
      }>;
    }>;
  }>;
}

interface HistoryBody {
  registryConfigured: boolean;
  sampleIntervalMs: number;
  windowMs: number;
  samples: Array<{ at: string; used: number; free: number; draining: number; offline: number }>;
}

function worker(workerId: string, host: string, pool: string): WorkerRegistration {
  return { workerId, url: `http://127.0.0.1:1/${workerId}`, host, pool, labels: {}, ttlMs: 60_000 };
}

function workersOf(
  body: FleetBody,
): Map<string, FleetBody['hosts'][number]['pools'][number]['workers'][number]> {
  const found = new Map<string, FleetBody['hosts'][number]['pools'][number]['workers'][number]>();
  for (const host of body.hosts) {
    for (const pool of host.pools)
      for (const entry of pool.workers) found.set(entry.workerId, entry);
  }
  return found;
}

/** Polls `GET /v1/fleet` until `done` returns true or 5 s pass. */
async function waitForFleet(t: TestBridge, done: (body: FleetBody) => boolean): Promise<FleetBody> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const response = await t.api('GET', '/v1/fleet');
    assert.equal(response.status, 200);
    const body = (await response.json()) as FleetBody;
    if (done(body)) return body;
    if (Date.now() > deadline) assert.fail(`fleet never matched: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

/** Reads server-sent events from `response` until `done` returns true for a `fleet` event. */
async function readFleetEvents(
  response: Response,
  done: (body: FleetBody) => boolean,
): Promise<FleetBody[]> {
  const body = response.body;
  assert.ok(body, 'event stream has no body');
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const events: FleetBody[] = [];
  let buffered = '';
  const timeout = setTimeout(() => void reader.cancel(), 5000);
  try {
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) assert.fail(`stream ended after ${events.length} events`);
      buffered += value;
      let end = buffered.indexOf('\n\n');
      while (end !== -1) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        end = buffered.indexOf('\n\n');
        const lines = block.split('\n');
        if (!lines.includes('event: fleet')) continue;
        const data = lines.find((line) => line.startsWith('data: '));
        assert.ok(data, `fleet event without data: ${block}`);
        const event = JSON.parse(data.slice('data: '.length)) as FleetBody;
        events.push(event);
        if (done(event)) return events;
      }
    }
  } finally {
    clearTimeout(timeout);
    await reader.cancel().catch(() => undefined);
  }
}

describe('fleet without registry', () => {
  let t: TestBridge;

  before(async () => {
    t = await startTestBridge();
  });

  after(async () => {
    await t.close();
  });

  test('snapshot is empty and flagged', async () => {
    const response = await t.api('GET', '/v1/fleet');
    assert.equal(response.status, 200);
    const body = (await response.json()) as FleetBody;
    assert.equal(body.registryConfigured, false);
    assert.equal(body.sampledAt, null);
    assert.deepEqual(body.hosts, []);
    assert.equal(body.counts.workers, 0);
  });

  test('history is empty and flagged', async () => {
    const response = await t.api('GET', '/v1/fleet/history');
    assert.equal(response.status, 200);
    const body = (await response.json()) as HistoryBody;
    assert.equal(body.registryConfigured, false);
    assert.deepEqual(body.samples, []);
  });

  test('fleet without key is 401', async () => {
    const response = await fetch(`${t.url}/v1/fleet`);
    assert.equal(response.status, 401);
    assert.equal(await errorCode(response), 'AUTH_MISSING_API_KEY');
  });

  test('events without key is 401', async () => {
    const response = await fetch(`${t.url}/v1/events`);
    assert.equal(response.status, 401);
    assert.equal(await errorCode(response), 'AUTH_MISSING_API_KEY');
  });

  test('openapi documents fleet routes', async () => {
    const response = await fetch(`${t.url}/openapi.json`);
    const document = (await response.json()) as { paths: Record<string, unknown> };
    assert.ok(document.paths['/v1/fleet'], 'GET /v1/fleet missing');
    assert.ok(document.paths['/v1/fleet/history'], 'GET /v1/fleet/history missing');
    assert.ok(document.paths['/v1/events'], 'GET /v1/events missing');
  });
});

describe('fleet with sqlite registry', () => {
  let t: TestBridge;
  let registry: CapacityRegistry;
  let registryDir: string;
  let tenantId: string;

  before(async () => {
    registryDir = await mkdtemp(join(tmpdir(), 'voxbridge-fleet-'));
    const registryUrl = `sqlite:${join(registryDir, 'registry.db')}`;
    registry = await openRegistry(registryUrl);
    await registry.register(worker('w-1', 'host-a', 'default'));
    await registry.register(worker('w-2', 'host-a', 'default'));
    await registry.register(worker('w-3', 'host-a', 'premium'));
    await registry.register(worker('w-4', 'host-b', 'default'));
    t = await startTestBridge({ registryUrl, fleetSampleIntervalMs: 50 });

    const store = new SqliteStore({ path: join(t.dir, 'bridge.db') });
    await store.init();
    const found = await store.findApiKey(hashApiKey(API_KEY));
    await store.close();
    assert.ok(found, 'bootstrap key not stored');
    tenantId = found.tenant.id;
  });

  after(async () => {
    await t?.close();
    await registry?.close();
    await rm(registryDir, { recursive: true, force: true });
  });

  test('snapshot groups workers by host and pool', async () => {
    const body = await waitForFleet(t, (fleet) => fleet.counts.workers === 4);
    assert.equal(body.registryConfigured, true);
    assert.equal(body.registryError, null);
    assert.deepEqual(
      body.hosts.map((host) => [host.host, host.pools.map((pool) => pool.pool)]),
      [
        ['host-a', ['default', 'premium']],
        ['host-b', ['default']],
      ],
    );
    assert.equal(body.counts.idle, 4);
  });

  test('snapshot shows each slot state', async () => {
    const own = await registry.reserve({
      pool: 'default',
      callId: 'call-own',
      tenantId,
      reservationTtlMs: 60_000,
    });
    assert.ok(own, 'no slot reserved');
    assert.equal(await registry.confirm(own.workerId, own.token), 'confirmed');
    const foreign = await registry.reserve({
      pool: 'default',
      callId: 'call-foreign',
      tenantId: 'tenant-other',
      reservationTtlMs: 60_000,
    });
    assert.ok(foreign, 'no second slot reserved');
    await registry.setDraining('w-3', true);

    const body = await waitForFleet(t, (fleet) => fleet.counts.draining === 1);
    const workers = workersOf(body);
    assert.equal(workers.get(own.workerId)?.state, 'busy');
    assert.equal(workers.get(foreign.workerId)?.state, 'reserved');
    assert.equal(workers.get('w-3')?.state, 'draining');
    assert.equal(body.counts.busy, 1);
    assert.equal(body.counts.reserved, 1);
    assert.equal(body.counts.idle, 1);
  });

  test('reservation ids hidden from other tenants', async () => {
    const body = await waitForFleet(t, (fleet) => fleet.counts.busy === 1);
    const reservations = [...workersOf(body).values()]
      .map((entry) => entry.reservation)
      .filter((reservation) => reservation !== null);
    const own = reservations.find((reservation) => reservation.ownedByTenant);
    const foreign = reservations.find((reservation) => !reservation.ownedByTenant);
    assert.equal(own?.callId, 'call-own');
    assert.equal(own?.confirmed, true);
    assert.ok(foreign, 'foreign reservation missing');
    assert.equal(foreign.callId, null);
  });

  test('deregistered worker is offline', async () => {
    await registry.deregister('w-4');
    const body = await waitForFleet(t, (fleet) => fleet.counts.offline === 1);
    assert.equal(workersOf(body).get('w-4')?.state, 'offline');
    assert.equal(body.counts.workers, 4);
  });

  test('history records used and free slots', async () => {
    const response = await t.api('GET', '/v1/fleet/history');
    assert.equal(response.status, 200);
    const body = (await response.json()) as HistoryBody;
    assert.equal(body.registryConfigured, true);
    assert.equal(body.sampleIntervalMs, 50);
    assert.equal(body.windowMs, 3_600_000);
    const first = body.samples[0];
    const last = body.samples.at(-1);
    assert.ok(first, 'no samples');
    assert.ok(last, 'no samples');
    assert.equal(first.free, 4);
    assert.equal(first.used, 0);
    assert.equal(last.used, 2);
    assert.equal(last.free, 0);
    assert.equal(last.offline, 1);
    assert.ok(Date.parse(first.at) <= Date.parse(last.at), 'samples are not oldest first');
  });

  test('events stream sends fleet updates', async () => {
    const response = await t.api('GET', '/v1/events');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const registered = registry.register(worker('w-5', 'host-c', 'default'));
    const events = await readFleetEvents(response, (event) =>
      event.hosts.some((host) => host.host === 'host-c'),
    );
    await registered;
    assert.ok(events.length >= 1);
    assert.equal(events[0]?.registryConfigured, true);
    assert.equal(events.at(-1)?.counts.idle, 1);
  });

  test('call of an expired worker is closed as failed', async () => {
    const { campaignId } = await createCampaign(t, 'phone\n+919811111111\n', { concurrency: 1 });
    await t.api('POST', `/v1/campaigns/${campaignId}/start`);
    const claim = (await (
      await t.internal('POST', '/internal/dialler/claim', { limit: 1 })
    ).json()) as { attempts: Array<{ callId: string }> };
    const callId = claim.attempts[0]?.callId ?? '';
    assert.notEqual(callId, '');
    await t.internal('POST', `/internal/calls/${callId}/status`, {
      status: 'in-progress',
      at: new Date().toISOString(),
    });

    // A worker takes the call, then dies: no heartbeat reaches the registry again.
    await registry.register({ ...worker('w-dies', 'host-z', 'lost'), ttlMs: 300 });
    const reservation = await registry.reserve({ pool: 'lost', callId, reservationTtlMs: 5_000 });
    assert.ok(reservation);
    assert.equal(await registry.confirm('w-dies', reservation.token), 'confirmed');

    let call: { status: string; history: Array<{ status: string; reason?: string | null }> } = {
      status: '',
      history: [],
    };
    for (let tries = 0; tries < 100 && call.status !== 'failed'; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      call = (await (await t.api('GET', `/v1/calls/${callId}`)).json()) as typeof call;
    }
    assert.equal(call.status, 'failed');
    assert.equal(call.history.at(-1)?.reason, 'worker-lost');
  });

  test('event streams per tenant are capped', async () => {
    const other = await startTestBridge({
      registryUrl: `sqlite:${join(registryDir, 'registry.db')}`,
      fleetSampleIntervalMs: 60_000,
    });
    try {
      const open: Response[] = [];
      for (let i = 0; i < 50; i++) {
        const response = await other.api('GET', '/v1/events');
        assert.equal(response.status, 200, `stream ${i + 1}`);
        open.push(response);
      }
      const rejected = await other.api('GET', '/v1/events');
      assert.equal(rejected.status, 429);
      assert.equal(
        ((await rejected.json()) as { error: { code: string } }).error.code,
        'TOO_MANY_STREAMS',
      );

      // Closing one stream frees its place.
      await open[0]?.body?.cancel();
      let again: Response | undefined;
      for (let tries = 0; tries < 50; tries++) {
        again = await other.api('GET', '/v1/events');
        if (again.status === 200) break;
        await again.text();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(again?.status, 200);
      await again?.body?.cancel();
      for (const response of open.slice(1)) await response.body?.cancel();
    } finally {
      await other.close();
    }
  });

  test('stop ends open event streams', async () => {
    const other = await startTestBridge({
      registryUrl: `sqlite:${join(registryDir, 'registry.db')}`,
      fleetSampleIntervalMs: 50,
    });
    const response = await other.api('GET', '/v1/events');
    assert.equal(response.status, 200);
    const started = Date.now();
    await other.close();
    assert.ok(Date.now() - started < 3000, 'stop waited for the event stream');
    const text = await response.text();
    assert.match(text, /event: fleet/);
  });
});

describe('fleet env', () => {
  const base = { BRIDGE_INTERNAL_TOKEN: INTERNAL_TOKEN };

  test('registry url is optional', () => {
    assert.equal(loadEnv(base).registryUrl, undefined);
    assert.equal(loadEnv({ ...base, REGISTRY_URL: '' }).registryUrl, undefined);
  });

  test('registry url is parsed', () => {
    const env = loadEnv({ ...base, REGISTRY_URL: 'redis://127.0.0.1:6379' });
    assert.equal(env.registryUrl, 'redis://127.0.0.1:6379');
  });

  test('invalid registry url is rejected', () => {
    assert.throws(() => loadEnv({ ...base, REGISTRY_URL: 'mysql://x' }), /REGISTRY_URL/);
  });

  test('ui dir defaults to apps/ui/dist', () => {
    assert.match(loadEnv(base).uiDir, /apps[/\\]ui[/\\]dist$/);
  });
});

describe('dashboard serving', () => {
  let t: TestBridge;
  let uiDir: string;

  before(async () => {
    uiDir = await mkdtemp(join(tmpdir(), 'voxbridge-ui-'));
    await mkdir(join(uiDir, 'assets'));
    await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>voxui</title>');
    await writeFile(join(uiDir, 'assets', 'index-abc123.js'), 'console.log(1);');
    t = await startTestBridge({ uiDir });
  });

  after(async () => {
    await t?.close();
    await rm(uiDir, { recursive: true, force: true });
  });

  test('root serves index.html uncached', async () => {
    const response = await fetch(`${t.url}/`);
    assert.equal(response.status, 200);
    assert.match(await response.text(), /<title>voxui<\/title>/);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
  });

  test('app route falls back to index.html', async () => {
    const response = await fetch(`${t.url}/calls/call_123`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
  });

  test('hashed asset is cached for a year', async () => {
    const response = await fetch(`${t.url}/assets/index-abc123.js`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  });

  test('missing file is 404', async () => {
    const response = await fetch(`${t.url}/assets/missing.js`);
    assert.equal(response.status, 404);
  });

  test('unknown api route stays json 404', async () => {
    const response = await fetch(`${t.url}/v1/nothing-here`);
    assert.equal(response.status, 404);
    assert.equal(await errorCode(response), 'ROUTE_NOT_FOUND');
  });

  test('api routes still work', async () => {
    const response = await t.api('GET', '/v1/bots');
    assert.equal(response.status, 200);
  });
});
