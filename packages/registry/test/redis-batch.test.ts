/**
 * The Redis client's batching: operations of one pool started together go in one call of
 * the `batch` function, each keeps its own reply and error, and `maxBatch` bounds a call.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import {
  openRegistry,
  RegistryClosedError,
  RegistryInvalidArgumentError,
  RegistryQuotaExceededError,
  type CapacityRegistry,
  type Reservation,
} from '../src/index.js';
import { MAX_LABELS } from '../src/validate.js';
import { LIBRARY_NAME, POOL_KEY_NAMES } from '../src/redis/scripts.js';
import { reserveRequest, worker } from './contract.js';
import { useTestRedis } from './redis-server.js';

const { server, client } = useTestRedis();

/** Calls of the named library function since the last `CONFIG RESETSTAT`. */
async function functionCalls(): Promise<number> {
  const info = await client().info('commandstats');
  const match = /^cmdstat_fcall:calls=(\d+)/m.exec(info);
  return Number(match?.[1] ?? 0);
}

async function openWithWorkers(count: number, maxBatch?: number): Promise<CapacityRegistry> {
  const registry = await openRegistry(server().url, {
    keyPrefix: `batch-${randomUUID()}:`,
    ...(maxBatch === undefined ? {} : { maxBatch }),
  });
  for (let i = 0; i < count; i += 1) {
    await registry.register(worker(`w${String(i).padStart(2, '0')}`));
  }
  return registry;
}

test('redis batch sends operations started together in one call', async () => {
  const registry = await openWithWorkers(20);
  try {
    await client().config('RESETSTAT');
    const reservations = await Promise.all(
      Array.from({ length: 20 }, (_, i) => registry.reserve(reserveRequest(`c${i}`))),
    );
    const granted = reservations.filter((reservation) => reservation !== null);
    assert.equal(granted.length, 20);
    assert.equal(new Set(granted.map((reservation) => reservation.workerId)).size, 20);
    const confirmed = await Promise.all(
      granted.map((reservation) => registry.confirm(reservation.workerId, reservation.token)),
    );
    assert.deepEqual(new Set(confirmed), new Set(['confirmed']));
    const released = await Promise.all(
      granted.map((reservation) => registry.release(reservation.workerId, reservation.token)),
    );
    assert.deepEqual(new Set(released), new Set([true]));
    assert.equal(await functionCalls(), 3, 'one call each for reserve, confirm and release');
    const slots = await registry.list();
    assert.deepEqual(new Set(slots.map((slot) => slot.state)), new Set(['idle']));
  } finally {
    await registry.close();
  }
});

test('redis batch holds at most maxBatch operations', async () => {
  const registry = await openWithWorkers(10, 4);
  try {
    await client().config('RESETSTAT');
    const reservations = await Promise.all(
      Array.from({ length: 10 }, (_, i) => registry.reserve(reserveRequest(`c${i}`))),
    );
    assert.equal(reservations.filter((reservation) => reservation !== null).length, 10);
    // 4, then 4 sent when the first reply arrives, then 2.
    assert.equal(await functionCalls(), 3);
  } finally {
    await registry.close();
  }
});

test('redis maxBatch 1 sends every operation on its own', async () => {
  const registry = await openWithWorkers(5, 1);
  try {
    await client().config('RESETSTAT');
    const reservations = await Promise.all(
      Array.from({ length: 5 }, (_, i) => registry.reserve(reserveRequest(`c${i}`))),
    );
    assert.equal(reservations.filter((reservation) => reservation !== null).length, 5);
    assert.equal(await functionCalls(), 5);
  } finally {
    await registry.close();
  }
});

test('redis eventStreamMaxLength below 1 is rejected', async () => {
  for (const eventStreamMaxLength of [0, -1, 2.5, Number.NaN]) {
    await assert.rejects(
      openRegistry(server().url, { eventStreamMaxLength }),
      (err: unknown) =>
        err instanceof RegistryInvalidArgumentError && err.message.includes('eventStreamMaxLength'),
      `eventStreamMaxLength ${eventStreamMaxLength}`,
    );
  }
});

test('redis maxBatch outside 1 to 1000 is rejected', async () => {
  for (const maxBatch of [0, 1001, 2.5, Number.NaN]) {
    await assert.rejects(
      openRegistry(server().url, { maxBatch }),
      (err: unknown) =>
        err instanceof RegistryInvalidArgumentError && err.message.includes('maxBatch'),
      `maxBatch ${maxBatch}`,
    );
  }
});

test('redis batch operations queued at close fail as closed', async () => {
  const registry = await openWithWorkers(3);
  const pending = Array.from({ length: 3 }, (_, i) => registry.reserve(reserveRequest(`c${i}`)));
  const settled = Promise.allSettled(pending);
  await registry.close();
  const results = await settled;
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.ok(result.reason instanceof RegistryClosedError, String(result.reason));
  }
});

test('redis batch reports a failed operation without failing the others', async () => {
  const keyPrefix = `batch-${randomUUID()}:`;
  const registry = await openRegistry(server().url, { keyPrefix });
  try {
    await registry.register(worker('w1'));
    const keys = POOL_KEY_NAMES.map((name) => `${keyPrefix}{default}:${name}`);
    const reply = (await client().fcall(
      `${LIBRARY_NAME}_batch`,
      keys.length,
      ...keys,
      '10000',
      'default',
      'drop-everything',
      '0',
      'reserve',
      '8',
      'c1',
      '60000',
      'token-1',
      '{}',
      '',
      '',
      '-1',
      '-1',
    )) as unknown[];
    assert.deepEqual(reply[0], ['error', 'not a batch operation: drop-everything']);
    const reserved = reply[1] as unknown[];
    assert.equal(reserved[0], 'reserved');
    assert.equal(reserved[1], 'w1');
    const [slot] = await registry.list();
    assert.equal(slot?.state, 'reserved');
    assert.equal(slot?.reservation?.callId, 'c1');
  } finally {
    await registry.close();
  }
});

test('redis batch events share one entry and page by event', async () => {
  const registry = await openWithWorkers(10);
  try {
    const start = await registry.readEvents(null, 10_000);
    const reservations = await Promise.all(
      Array.from({ length: 10 }, (_, i) => registry.reserve(reserveRequest(`c${i}`))),
    );
    const events = [];
    let cursor = start.lastId;
    for (let page = 0; page < 10; page += 1) {
      const next = await registry.readEvents(cursor, 3);
      if (next.events.length === 0) break;
      assert.ok(next.events.length <= 3);
      events.push(...next.events);
      cursor = next.lastId;
    }
    assert.deepEqual(
      events.map((event) => event.callId),
      reservations.map((reservation) => reservation?.callId),
    );
    assert.deepEqual(new Set(events.map((event) => event.type)), new Set(['reserved']));
    const [entryId] = events[0]?.id.split('.') ?? [];
    assert.ok(entryId !== undefined, 'no events read');
    assert.match(entryId, /^\d+-\d+$/);
    assert.deepEqual(
      events.map((event) => event.id),
      events.map((_, index) => (index === 0 ? entryId : `${entryId}.${index}`)),
    );
    assert.equal(events[0]?.at, Number(entryId.split('-')[0]));
    const after = await registry.readEvents(cursor, 3);
    assert.equal(after.events.length, 0);
  } finally {
    await registry.close();
  }
});

/** Reserves all requests in one batch and returns 'reserved', 'none' or 'quota' for each. */
async function reserveTogether(
  registry: CapacityRegistry,
  requests: ReturnType<typeof reserveRequest>[],
): Promise<string[]> {
  return Promise.all(
    requests.map(async (request) => {
      try {
        return (await registry.reserve(request)) === null ? 'none' : 'reserved';
      } catch (err) {
        if (err instanceof RegistryQuotaExceededError) return 'quota';
        throw err;
      }
    }),
  );
}

test('redis batch counts quota ids without a limit', async () => {
  const registry = await openWithWorkers(10);
  try {
    await registry.reserve(reserveRequest('before', { tenantId: 'T' }));
    const outcomes = await reserveTogether(registry, [
      reserveRequest('free', { tenantId: 'T' }),
      reserveRequest('limited', { quotas: { tenant: { id: 'T', limit: 2 } } }),
      reserveRequest('free-campaign-1', { campaignId: 'C' }),
      reserveRequest('free-campaign-2', { campaignId: 'C' }),
      reserveRequest('limited-campaign-1', { quotas: { campaign: { id: 'C', limit: 3 } } }),
      reserveRequest('limited-campaign-2', { quotas: { campaign: { id: 'C', limit: 3 } } }),
    ]);
    assert.deepEqual(outcomes, ['reserved', 'quota', 'reserved', 'reserved', 'reserved', 'quota']);
    const slots = await registry.list();
    const tenantHolders = slots.filter((slot) => slot.reservation?.tenantId === 'T');
    assert.equal(tenantHolders.length, 2);
    const campaignHolders = slots.filter((slot) => slot.reservation?.campaignId === 'C');
    assert.equal(campaignHolders.length, 3);
  } finally {
    await registry.close();
  }
});

test('redis batch reserves workers with many labels', async () => {
  const labels = Object.fromEntries(
    Array.from({ length: MAX_LABELS }, (_, i) => [`k${i}`, `v${i}`]),
  );
  const registry = await openRegistry(server().url, { keyPrefix: `batch-${randomUUID()}:` });
  try {
    for (let i = 0; i < 100; i += 1) {
      await registry.register(worker(`w${String(i).padStart(3, '0')}`, { labels }));
    }
    const outcomes = await reserveTogether(
      registry,
      Array.from({ length: 100 }, (_, i) => reserveRequest(`c${i}`)),
    );
    assert.deepEqual(new Set(outcomes), new Set(['reserved']));
    const slots = await registry.list();
    assert.deepEqual(new Set(slots.map((slot) => slot.state)), new Set(['reserved']));
    assert.equal(await registry.reserve(reserveRequest('one-more')), null);
  } finally {
    await registry.close();
  }
});

test('redis registry rejects more labels than allowed', async () => {
  const labels = Object.fromEntries(
    Array.from({ length: MAX_LABELS + 1 }, (_, i) => [`k${i}`, `v${i}`]),
  );
  const registry = await openRegistry(server().url, { keyPrefix: `batch-${randomUUID()}:` });
  try {
    await assert.rejects(
      registry.register(worker('w1', { labels })),
      (err: unknown) =>
        err instanceof RegistryInvalidArgumentError && /at most 64/.test(err.message),
    );
  } finally {
    await registry.close();
  }
});

test('redis batch rejects bad operation counts', async () => {
  const keys = POOL_KEY_NAMES.map((name) => `batch-counts:{default}:${name}`);
  const registry = await openRegistry(server().url, { keyPrefix: 'batch-counts:' });
  try {
    await registry.register(worker('w1'));
    const operations = [
      ...['-2', 'nan', '1.5', '3', ''].map((count) => ['confirm', count, 'w1', 'token', 'extra']),
      ['reserve', '9', 'c1'],
    ];
    for (const operation of operations) {
      await assert.rejects(
        client().fcall(
          `${LIBRARY_NAME}_batch`,
          keys.length,
          ...keys,
          '10000',
          'default',
          ...operation,
        ),
        /malformed batch at argument 3/,
        JSON.stringify(operation),
      );
    }
    const [slot] = await registry.list();
    assert.equal(slot?.state, 'idle');
  } finally {
    await registry.close();
  }
});

/** Reserves `count` slots in one batch and fails the test unless every reserve succeeds. */
async function reserveAll(
  registry: CapacityRegistry,
  count: number,
  request = (i: number) => reserveRequest(`c${i}`),
): Promise<Reservation[]> {
  const reservations = await Promise.all(
    Array.from({ length: count }, (_, i) => registry.reserve(request(i))),
  );
  const granted = reservations.filter((reservation) => reservation !== null);
  assert.equal(granted.length, count);
  return granted;
}

test('redis batch confirms and releases with a stale token', async () => {
  const registry = await openWithWorkers(4);
  try {
    const granted = await reserveAll(registry, 4);
    const tokenOf = (i: number) => (i === 1 ? 'stale-token' : (granted[i]?.token ?? ''));
    const confirmed = await Promise.all(
      granted.map((reservation, i) => registry.confirm(reservation.workerId, tokenOf(i))),
    );
    assert.deepEqual(confirmed, ['confirmed', 'token-mismatch', 'confirmed', 'confirmed']);
    const released = await Promise.all(
      granted.map((reservation, i) => registry.release(reservation.workerId, tokenOf(i))),
    );
    assert.deepEqual(released, [true, false, true, true]);
    const states = (await registry.list()).map((slot) => slot.state);
    assert.deepEqual(states.sort(), ['idle', 'idle', 'idle', 'reserved']);
  } finally {
    await registry.close();
  }
});

test('redis batch releases one worker twice', async () => {
  const registry = await openWithWorkers(2);
  try {
    const reservation = await registry.reserve(reserveRequest('c1'));
    assert.ok(reservation);
    assert.equal(await registry.confirm(reservation.workerId, reservation.token), 'confirmed');
    const released = await Promise.all([
      registry.release(reservation.workerId, reservation.token),
      registry.release(reservation.workerId, reservation.token),
    ]);
    assert.deepEqual(released, [true, false]);
    const start = await registry.readEvents(null, 10_000);
    const releasedEvents = start.events.filter((event) => event.type === 'released');
    assert.equal(releasedEvents.length, 1);
  } finally {
    await registry.close();
  }
});

test('redis batch confirm after the deadline is expired', async () => {
  const registry = await openWithWorkers(3);
  try {
    const granted = await reserveAll(registry, 3, (i) =>
      reserveRequest(`c${i}`, { reservationTtlMs: i === 2 ? 50 : 60_000 }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const confirmed = await Promise.all(
      granted.map((reservation) => registry.confirm(reservation.workerId, reservation.token)),
    );
    assert.deepEqual(confirmed, ['confirmed', 'confirmed', 'expired']);
    const events = (await registry.readEvents(null, 10_000)).events;
    assert.equal(events.filter((event) => event.type === 'confirmed').length, 2);
    assert.equal(events.filter((event) => event.type === 'reservation-lapsed').length, 1);
  } finally {
    await registry.close();
  }
});

test('redis batch releases before it reserves', async () => {
  const registry = await openWithWorkers(1);
  try {
    const busy = await registry.reserve(reserveRequest('c1'));
    assert.ok(busy);
    assert.equal(await registry.confirm(busy.workerId, busy.token), 'confirmed');
    const start = await registry.readEvents(null, 10_000);
    // Started in one tick, so they go in one batch: the release runs first, and the
    // reserve, called first, finds the slot it frees.
    const [reserved, released] = await Promise.all([
      registry.reserve(reserveRequest('c2')),
      registry.release(busy.workerId, busy.token),
    ]);
    assert.equal(released, true);
    assert.equal(reserved?.workerId, busy.workerId);
    assert.ok((reserved?.fence ?? 0) > busy.fence);
    const page = await registry.readEvents(start.lastId, 10);
    assert.deepEqual(
      page.events.map((event) => [event.type, event.callId]),
      [
        ['released', 'c1'],
        ['reserved', 'c2'],
      ],
    );
  } finally {
    await registry.close();
  }
});

test('redis batch keeps the order for one worker', async () => {
  const registry = await openWithWorkers(2);
  try {
    const first = await registry.reserve(reserveRequest('c1'));
    assert.ok(first);
    // Confirms usually run before releases. These two name one worker, so the release,
    // called first, runs first, and the confirm finds nothing left to confirm.
    const [released, confirmed, reserved] = await Promise.all([
      registry.release(first.workerId, first.token),
      registry.confirm(first.workerId, first.token),
      registry.reserve(reserveRequest('c2')),
    ]);
    assert.equal(released, true);
    assert.equal(confirmed, 'token-mismatch');
    assert.ok(reserved);
  } finally {
    await registry.close();
  }
});
