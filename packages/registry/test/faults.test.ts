/**
 * Fault tests of the Redis backend with real worker processes (`fixtures/worker-process.ts`)
 * and real redis-server processes: reservations never attached, workers killed or stopped
 * mid-call, a Redis restart that loses every key, and duplicate or late releases. Each
 * test ends by checking that every slot is back, idle and listed once, within one TTL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openRegistry, type CapacityRegistry } from '../src/index.js';
import { reserveRequest } from './contract.js';
import { startTestRedis, type TestRedis } from './redis-server.js';
import { waitUntil } from './redis-topology.js';
import { stopAll, WorkerChild } from './worker-children.js';

const TTL_MS = 1_000;
const HEARTBEAT_MS = 200;

let redis: TestRedis | undefined;

before(async () => {
  redis = await startTestRedis();
});

after(async () => {
  await redis?.dispose();
});

interface Fleet {
  registry: CapacityRegistry;
  children: WorkerChild[];
  child(workerId: string): WorkerChild;
}

/** Starts `count` worker children and a dialler-side registry on a fresh key prefix. */
async function withFleet(
  server: TestRedis,
  count: number,
  body: (fleet: Fleet) => Promise<void>,
): Promise<void> {
  const keyPrefix = `fault-${randomUUID()}:`;
  const registry = await openRegistry(server.url, { keyPrefix, connectTimeoutMs: 1_000 });
  const children: WorkerChild[] = [];
  try {
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, i) =>
        WorkerChild.start({
          url: server.url,
          keyPrefix,
          workerId: `w${i}`,
          ttlMs: TTL_MS,
          heartbeatMs: HEARTBEAT_MS,
        }),
      ),
    );
    for (const result of started) {
      if (result.status === 'fulfilled') children.push(result.value);
      else throw result.reason;
    }
    const child = (workerId: string) => {
      const found = children.find((candidate) => candidate.workerId === workerId);
      assert.ok(found, `no worker child ${workerId}`);
      return found;
    };
    await body({ registry, children, child });
  } finally {
    await stopAll(children);
    await registry.close();
  }
}

/**
 * Checks, within one TTL, that exactly `workerIds` are listed, each once and idle, and
 * that each can be reserved exactly once (no leaked and no double-booked slot).
 */
async function assertSettled(registry: CapacityRegistry, workerIds: string[]): Promise<void> {
  const expected = [...workerIds].sort();
  await waitUntil('every slot idle', TTL_MS, async () => {
    const slots = await registry.list();
    const ids = slots.map((slot) => slot.workerId);
    const allIdle = slots.every((slot) => slot.state === 'idle');
    return allIdle && JSON.stringify(ids) === JSON.stringify(expected) ? true : undefined;
  });
  const reserved: string[] = [];
  for (let i = 0; i <= expected.length; i += 1) {
    const reservation = await registry.reserve(reserveRequest(`settle-${i}`));
    if (reservation !== null) reserved.push(reservation.workerId);
  }
  assert.deepEqual(reserved.sort(), expected, 'each idle slot is reserved exactly once');
  for (const slot of await registry.list()) {
    assert.equal(slot.state, 'reserved');
  }
}

test('reserve never attached frees the slot after the deadline', async () => {
  assert.ok(redis);
  await withFleet(redis, 2, async ({ registry }) => {
    const start = await registry.readEvents(null, 1_000);
    const reserved = await registry.reserve(reserveRequest('c1', { reservationTtlMs: 300 }));
    assert.ok(reserved);
    assert.equal(
      (await registry.list()).find((s) => s.workerId === reserved.workerId)?.state,
      'reserved',
    );

    await sleep(reserved.deadline - Date.now() + 100);
    // A worker's heartbeat may detect the lapse before reap does; either reports it once.
    const reaped = (await registry.reap()).filter((e) => e.type === 'reservation-lapsed');
    const page = await registry.readEvents(start.lastId, 1_000);
    const lapsed = page.events.filter((e) => e.type === 'reservation-lapsed');
    assert.deepEqual(
      lapsed.map((event) => `${event.workerId}:${event.callId}`),
      [`${reserved.workerId}:c1`],
    );
    assert.ok(reaped.length <= 1, 'reap reports it at most once');
    if (reaped.length === 1) assert.equal(reaped[0]?.id, lapsed[0]?.id);
    assert.equal(await registry.release(reserved.workerId, reserved.token), false);
    await assertSettled(registry, ['w0', 'w1']);
  });
});

test('worker killed mid-call expires within one TTL', async () => {
  assert.ok(redis);
  await withFleet(redis, 2, async ({ registry, child }) => {
    const call = await registry.reserve(reserveRequest('call-killed', { tenantId: 't1' }));
    assert.ok(call);
    assert.equal(await child(call.workerId).confirm(call), 'confirmed');
    const start = await registry.readEvents(null, 1_000);
    const killedAt = Date.now();
    child(call.workerId).signal('SIGKILL');

    // A heartbeat sent just before the kill may still land, hence the 200 ms of slack.
    await sleep(killedAt + TTL_MS + 200 - Date.now());
    // The survivor's heartbeat script may detect the expiry before reap does, so the
    // expiry is reported once either by this reap or in the stream by that script.
    const reaped = (await registry.reap()).filter((event) => event.type === 'expired');
    const streamed = (await registry.readEvents(start.lastId, 1_000)).events.filter(
      (event) => event.type === 'expired',
    );
    assert.equal(streamed.length, 1, 'the expiry is in the stream once');
    assert.ok(reaped.length <= 1, 'reap reports it at most once');
    if (reaped.length === 1) assert.equal(reaped[0]?.id, streamed[0]?.id);
    assert.equal(streamed[0]?.workerId, call.workerId);
    assert.equal(streamed[0]?.callId, 'call-killed');
    assert.equal(streamed[0]?.tenantId, 't1');
    assert.deepEqual(await registry.reap(), []);
    const listed = (await registry.list()).map((slot) => slot.workerId);
    assert.ok(!listed.includes(call.workerId), 'the killed worker is not listed');

    const survivor = call.workerId === 'w0' ? 'w1' : 'w0';
    await assertSettled(registry, [survivor]);
  });
});

test('stopped worker returns once, stale token stays stale', async () => {
  assert.ok(redis);
  await withFleet(redis, 1, async ({ registry, child }) => {
    const worker = child('w0');
    const call = await registry.reserve(reserveRequest('call-stopped'));
    assert.ok(call);
    assert.equal(await worker.confirm(call), 'confirmed');

    worker.signal('SIGSTOP');
    const expired = await waitUntil('expiry of the stopped worker', TTL_MS + 1_000, async () => {
      const events = await registry.reap();
      return events.find((event) => event.type === 'expired');
    });
    assert.equal(expired.callId, 'call-stopped');
    assert.deepEqual(await registry.list(), []);
    await sleep(300);

    const from = worker.messages.length;
    worker.signal('SIGCONT');
    const back = await worker.waitFor((m) => m.event === 'registered', from, TTL_MS * 2);
    assert.equal(back.busy, true, 'the worker re-asserts its call');
    let slots = await registry.list();
    assert.equal(slots.length, 1, 'listed once');
    assert.equal(slots[0]?.state, 'busy');
    assert.equal(slots[0]?.reservation?.callId, 'call-stopped');
    assert.equal(await registry.reserve(reserveRequest('c-during')), null);

    assert.equal(await worker.release(call.token), true);
    const next = await registry.reserve(reserveRequest('c-next'));
    assert.ok(next);
    assert.ok(next.fence > call.fence, 'a newer reservation has a higher fence');
    assert.equal(await worker.confirm(call), 'token-mismatch');
    assert.equal(await worker.release(call.token), false);
    slots = await registry.list();
    assert.equal(slots.length, 1);
    assert.equal(slots[0]?.state, 'reserved');
    assert.equal(slots[0]?.reservation?.callId, 'c-next');
    assert.equal(await worker.confirm(next), 'confirmed');
    assert.equal(await worker.release(next.token), true);
    await assertSettled(registry, ['w0']);
  });
});

test('duplicate and late releases change nothing', async () => {
  assert.ok(redis);
  await withFleet(redis, 1, async ({ registry, child }) => {
    const worker = child('w0');
    const first = await registry.reserve(reserveRequest('c1'));
    assert.ok(first);
    assert.equal(await worker.confirm(first), 'confirmed');
    // The worker and the dialler both release at the end of the call.
    const results = await Promise.all([
      worker.release(first.token),
      registry.release('w0', first.token),
      worker.release(first.token),
    ]);
    assert.deepEqual(results.filter((freed) => freed === true).length, 1);

    const second = await registry.reserve(reserveRequest('c2'));
    assert.ok(second);
    assert.equal(await worker.release(first.token), false, 'late release of the old call');
    assert.equal(await registry.release('w0', first.token), false);
    assert.equal((await registry.list())[0]?.reservation?.callId, 'c2');
    assert.equal(await worker.confirm(second), 'confirmed');
    assert.equal(await worker.release(second.token), true);

    const lapsing = await registry.reserve(reserveRequest('c3', { reservationTtlMs: 100 }));
    assert.ok(lapsing);
    await sleep(200);
    assert.equal(await worker.release(lapsing.token), false, 'release after the lapse');
    assert.equal(await worker.confirm(lapsing), 'token-mismatch');
    await assertSettled(registry, ['w0']);
  });
});

test('redis restart brings busy workers back busy', async () => {
  const server = await startTestRedis();
  try {
    await withFleet(server, 4, async ({ registry, child }) => {
      const busy = await registry.reserve(reserveRequest('call-busy', { tenantId: 't1' }));
      assert.ok(busy);
      assert.equal(await child(busy.workerId).confirm(busy), 'confirmed');
      const otherBusy = await registry.reserve(reserveRequest('call-other'));
      assert.ok(otherBusy);
      assert.equal(await child(otherBusy.workerId).confirm(otherBusy), 'confirmed');

      await server.stop();
      await sleep(HEARTBEAT_MS * 2);
      await server.start();

      // Every worker's heartbeat returns false on the empty server, and each registers again.
      await waitUntil('all workers registered again', TTL_MS * 3, async () => {
        const slots = await registry.list();
        return slots.length === 4 ? slots : undefined;
      });
      const slots = await registry.list();
      const stateOf = (id: string) => slots.find((slot) => slot.workerId === id);
      assert.equal(stateOf(busy.workerId)?.state, 'busy');
      assert.equal(stateOf(busy.workerId)?.reservation?.callId, 'call-busy');
      assert.equal(stateOf(otherBusy.workerId)?.state, 'busy');
      const idle = slots.filter((slot) => slot.state === 'idle').map((slot) => slot.workerId);
      assert.equal(idle.length, 2);

      // Only the idle workers can be reserved, and fences moved past the re-asserted ones.
      const again = [];
      for (let i = 0; i < 4; i += 1) {
        const reservation = await registry.reserve(reserveRequest(`after-${i}`));
        if (reservation !== null) again.push(reservation);
      }
      assert.deepEqual(again.map((r) => r.workerId).sort(), idle.sort());
      for (const reservation of again) {
        assert.ok(reservation.fence > Math.max(busy.fence, otherBusy.fence));
        assert.equal(await registry.release(reservation.workerId, reservation.token), true);
      }

      assert.equal(await child(busy.workerId).release(busy.token), true);
      assert.equal(await child(otherBusy.workerId).release(otherBusy.token), true);
      await assertSettled(registry, ['w0', 'w1', 'w2', 'w3']);
    });
  } finally {
    await server.dispose();
  }
});
