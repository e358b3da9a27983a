/**
 * Contract tests of drain filters, the slot event stream, `reap` and the store clock. Both
 * backends run them through `runContractSuite` in `contract.ts`.
 */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RegistryInvalidArgumentError,
  type CapacityRegistry,
  type Reservation,
  type ReserveRequest,
  type SlotEvent,
  type WorkerRegistration,
} from '../src/index.js';

type WithRegistries = (
  count: number,
  body: (registries: CapacityRegistry[]) => Promise<void>,
) => Promise<void>;

interface Helpers {
  worker: (id: string, extra?: Partial<WorkerRegistration>) => WorkerRegistration;
  reserveRequest: (callId: string, extra?: Partial<ReserveRequest>) => ReserveRequest;
}

/** The host clock as it was before any test moved `Date.now`; Redis's `TIME` reads it too. */
const hostClock = Date.now.bind(Date);

async function reserveOrFail(
  registry: CapacityRegistry,
  request: ReserveRequest,
): Promise<Reservation> {
  const reservation = await registry.reserve(request);
  assert.ok(reservation, `expected a free slot for ${request.callId}`);
  return reservation;
}

/** Reads every event after `afterId`, in pages of `pageSize`. */
async function readAll(
  registry: CapacityRegistry,
  afterId: string | null,
  pageSize = 100,
): Promise<{ events: SlotEvent[]; lastId: string }> {
  const events: SlotEvent[] = [];
  let cursor = afterId;
  for (;;) {
    const page = await registry.readEvents(cursor, pageSize);
    events.push(...page.events);
    if (page.events.length === 0) return { events, lastId: page.lastId };
    cursor = page.lastId;
  }
}

function stateOf(slots: Awaited<ReturnType<CapacityRegistry['list']>>, workerId: string) {
  return slots.find((slot) => slot.workerId === workerId)?.state;
}

export function runEventTests(withRegistries: WithRegistries, helpers: Helpers): void {
  const { worker, reserveRequest } = helpers;
  const withRegistry = (body: (registry: CapacityRegistry) => Promise<void>) =>
    withRegistries(1, async ([registry]) => {
      assert.ok(registry);
      await body(registry);
    });

  test('setDrainingWhere by host, pool and worker', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w1', { host: 'a', pool: 'p1' }));
      await registry.register(worker('w2', { host: 'a', pool: 'p2' }));
      await registry.register(worker('w3', { host: 'b', pool: 'p1' }));

      assert.equal(await registry.setDrainingWhere({ host: 'a' }, true), 2);
      assert.equal(await registry.setDrainingWhere({ host: 'a' }, true), 0);
      let slots = await registry.list();
      assert.equal(stateOf(slots, 'w1'), 'draining');
      assert.equal(stateOf(slots, 'w2'), 'draining');
      assert.equal(stateOf(slots, 'w3'), 'idle');
      const only = await reserveOrFail(registry, reserveRequest('c1', { pool: 'p1' }));
      assert.equal(only.workerId, 'w3');
      assert.equal(await registry.release(only.workerId, only.token), true);

      assert.equal(await registry.setDrainingWhere({ pool: 'p1' }, true), 1);
      assert.equal(await registry.reserve(reserveRequest('c2', { pool: 'p1' })), null);
      assert.equal(await registry.setDrainingWhere({ pool: 'p1', host: 'a' }, false), 1);
      assert.equal(await registry.setDrainingWhere({ workerId: 'w2', pool: 'p1' }, false), 0);
      assert.equal(await registry.setDrainingWhere({ workerId: 'w2' }, false), 1);
      assert.equal(await registry.setDrainingWhere({ workerId: 'nobody' }, true), 0);
      slots = await registry.list();
      assert.equal(stateOf(slots, 'w1'), 'idle');
      assert.equal(stateOf(slots, 'w2'), 'idle');
      assert.equal(stateOf(slots, 'w3'), 'draining');
      await assert.rejects(registry.setDrainingWhere({}, true), RegistryInvalidArgumentError);
    }));

  test('setDrainingWhere keeps the call, blocks new ones', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w1', { host: 'h1' }));
      const call = await reserveOrFail(registry, reserveRequest('c1'));
      assert.equal(await registry.confirm('w1', call.token), 'confirmed');
      assert.equal(await registry.setDrainingWhere({ host: 'h1' }, true), 1);
      let slot = (await registry.list())[0];
      assert.equal(slot?.state, 'busy');
      assert.equal(slot?.draining, true);
      assert.equal(slot?.reservation?.callId, 'c1');

      assert.equal(await registry.release('w1', call.token), true);
      slot = (await registry.list())[0];
      assert.equal(slot?.state, 'draining');
      assert.equal(await registry.reserve(reserveRequest('c2')), null);

      assert.equal(await registry.setDrainingWhere({ host: 'h1' }, false), 1);
      assert.equal((await registry.list())[0]?.state, 'idle');
      assert.ok(await registry.reserve(reserveRequest('c3')));
    }));

  test('heartbeat re-asserts a lost busy call', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w1'));
      // The worker confirmed c1, but the store lost the confirm, so the reservation lapses.
      const lost = await reserveOrFail(registry, reserveRequest('c1', { reservationTtlMs: 150 }));
      await sleep(300);
      assert.equal((await registry.list())[0]?.state, 'idle');
      const other = await reserveOrFail(registry, reserveRequest('c2'));
      const start = await registry.readEvents(null, 1_000);

      const active = {
        token: lost.token,
        fence: other.fence + 1_000,
        callId: 'c1',
        tenantId: 't1',
      };
      assert.equal(await registry.heartbeat('w1', 60_000, active), true);
      const slot = (await registry.list())[0];
      assert.equal(slot?.state, 'busy');
      assert.equal(slot?.reservation?.callId, 'c1');
      assert.equal(slot?.reservation?.fence, other.fence + 1_000);
      assert.equal(slot?.reservation?.tenantId, 't1');
      assert.equal(await registry.release('w1', other.token), false, 'the replaced reservation');
      await assert.rejects(
        registry.reserve(reserveRequest('c3', { quotas: { tenant: { id: 't1', limit: 1 } } })),
        { code: 'REGISTRY_QUOTA_EXCEEDED' },
      );

      assert.equal(await registry.heartbeat('w1', 60_000, active), true);
      const { events } = await readAll(registry, start.lastId);
      assert.deepEqual(
        events.map((event) => `${event.type}:${event.callId}`),
        ['confirmed:c1'],
      );
      assert.equal(await registry.heartbeat('nobody', 60_000, active), false);

      assert.equal(await registry.release('w1', lost.token), true);
      assert.equal((await registry.list())[0]?.state, 'idle');
      const next = await reserveOrFail(registry, reserveRequest('c4'));
      assert.ok(next.fence > other.fence + 1_000, 'fence counter moved past the asserted one');
    }));

  test('events record every slot state change', () =>
    withRegistry(async (registry) => {
      const start = await registry.readEvents(null, 100);
      assert.deepEqual(start.events, []);

      await registry.register(worker('w1', { host: 'h1' }));
      const call = await reserveOrFail(
        registry,
        reserveRequest('c1', { quotas: { tenant: { id: 't1', limit: 5 } }, campaignId: 'k1' }),
      );
      assert.equal(await registry.confirm('w1', call.token), 'confirmed');
      assert.equal(await registry.release('w1', call.token), true);
      assert.equal(await registry.release('w1', call.token), false);
      await registry.setDraining('w1', true);
      await registry.setDraining('w1', true);
      await registry.setDraining('w1', false);
      await registry.deregister('w1');

      const { events, lastId } = await readAll(registry, start.lastId, 3);
      assert.deepEqual(
        events.map((event) => event.type),
        ['registered', 'reserved', 'confirmed', 'released', 'drain', 'undrain', 'deregistered'],
      );
      for (const event of events) {
        assert.equal(event.workerId, 'w1');
        assert.equal(event.pool, 'default');
        assert.equal(event.host, 'h1');
        assert.ok(Math.abs(event.at - hostClock()) < 10_000, `event time ${event.at}`);
      }
      for (const event of events.slice(1, 4)) {
        assert.equal(event.callId, 'c1');
        assert.equal(event.fence, call.fence);
        assert.equal(event.tenantId, 't1');
        assert.equal(event.campaignId, 'k1');
      }
      assert.equal(events[0]?.callId, undefined);
      assert.equal(events[4]?.callId, undefined);
      assert.equal(new Set(events.map((event) => event.id)).size, events.length);

      const after = await registry.readEvents(lastId, 100);
      assert.deepEqual(after.events, []);
      assert.equal(after.lastId, lastId);
      await assert.rejects(registry.readEvents('no cursor', 10), RegistryInvalidArgumentError);
      await assert.rejects(registry.readEvents(null, 0), RegistryInvalidArgumentError);
    }));

  test('events of several pools share one cursor', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('a1', { pool: 'a' }));
      await registry.register(worker('b1', { pool: 'b' }));
      const first = await readAll(registry, null, 1);
      assert.deepEqual(first.events.map((event) => event.workerId).sort(), ['a1', 'b1']);

      await registry.reserve(reserveRequest('ca', { pool: 'a' }));
      await registry.reserve(reserveRequest('cb', { pool: 'b' }));
      const second = await readAll(registry, first.lastId, 1);
      assert.deepEqual(second.events.map((event) => event.callId).sort(), ['ca', 'cb']);
      assert.deepEqual(
        second.events.map((event) => event.type),
        ['reserved', 'reserved'],
      );
    }));

  test('reap reports each expiry exactly once', () =>
    withRegistries(2, async ([a, b]) => {
      assert.ok(a, 'first registry');
      assert.ok(b, 'second registry');
      await a.register(worker('busy', { ttlMs: 400, labels: { role: 'busy' } }));
      await a.register(worker('lapse', { labels: { role: 'lapse' } }));
      const busy = await reserveOrFail(
        a,
        reserveRequest('c-busy', { labels: { role: 'busy' }, tenantId: 't1' }),
      );
      assert.equal(await a.confirm('busy', busy.token), 'confirmed');
      await reserveOrFail(
        a,
        reserveRequest('c-lapse', { labels: { role: 'lapse' }, reservationTtlMs: 200 }),
      );
      const start = await a.readEvents(null, 100);
      await sleep(600);

      const reaped = (await Promise.all([a.reap(), b.reap(), a.reap()])).flat();
      const summary = reaped.map((event) => `${event.type}:${event.workerId}:${event.callId}`);
      assert.deepEqual(summary.sort(), ['expired:busy:c-busy', 'reservation-lapsed:lapse:c-lapse']);
      assert.equal(reaped.find((event) => event.type === 'expired')?.tenantId, 't1');
      assert.deepEqual(await b.reap(), []);

      const streamed = await readAll(b, start.lastId);
      assert.deepEqual(
        streamed.events.map((event) => event.id).sort(),
        reaped.map((event) => event.id).sort(),
      );
      const slots = await b.list();
      assert.deepEqual(
        slots.map((slot) => `${slot.workerId}:${slot.state}`),
        ['lapse:idle'],
      );
    }));

  test('lazy expiry in list is not reported again', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w1'));
      await registry.register(worker('x-gone', { ttlMs: 200 }));
      const lapsing = await reserveOrFail(
        registry,
        reserveRequest('c1', { reservationTtlMs: 150 }),
      );
      const start = await registry.readEvents(null, 100);
      await sleep(400);
      assert.deepEqual(
        (await registry.list()).map((slot) => slot.workerId),
        ['w1'],
      );
      const { events } = await readAll(registry, start.lastId);
      assert.deepEqual(events.map((event) => `${event.type}:${event.workerId}`).sort(), [
        'expired:x-gone',
        'reservation-lapsed:w1',
      ]);
      assert.equal(
        events.find((event) => event.type === 'reservation-lapsed')?.callId,
        lapsing.callId,
      );
      assert.deepEqual(await registry.reap(), []);
      assert.equal(await registry.confirm('w1', lapsing.token), 'expired');
    }));

  for (const offsetMs of [30_000, -30_000]) {
    test(`client clock ${offsetMs > 0 ? '+' : '-'}30 s keeps store expiry`, () =>
      withRegistry(async (registry) => {
        // Every client-side reading of Date.now is off by offsetMs; the store's is not.
        const skewed = mock.method(Date, 'now', () => hostClock() + offsetMs);
        try {
          const before = hostClock();
          await registry.register(worker('short', { ttlMs: 800, labels: { role: 'short' } }));
          await registry.register(worker('long', { labels: { role: 'long' } }));
          const reservation = await reserveOrFail(
            registry,
            reserveRequest('c1', { labels: { role: 'long' }, reservationTtlMs: 400 }),
          );
          const after = hostClock();
          assert.ok(reservation.deadline >= before + 400 - 50, `deadline ${reservation.deadline}`);
          assert.ok(reservation.deadline <= after + 400 + 50, `deadline ${reservation.deadline}`);
          const short = (await registry.list()).find((slot) => slot.workerId === 'short');
          assert.ok(short, 'short worker listed');
          assert.ok(short.expiresAt >= before + 800 - 50, 'expiresAt after now + ttl');
          assert.ok(short.expiresAt <= hostClock() + 800 + 50, 'expiresAt before now + ttl');

          // Both are still live although the skewed client clock says otherwise.
          let slots = await registry.list();
          assert.equal(stateOf(slots, 'short'), 'idle');
          assert.equal(stateOf(slots, 'long'), 'reserved');

          await sleep(Math.max(0, reservation.deadline - hostClock()) + 100);
          slots = await registry.list();
          assert.equal(stateOf(slots, 'long'), 'idle');
          assert.equal(stateOf(slots, 'short'), 'idle');
          assert.equal(await registry.confirm('long', reservation.token), 'expired');

          await sleep(Math.max(0, short.expiresAt - hostClock()) + 100);
          slots = await registry.list();
          assert.equal(stateOf(slots, 'short'), undefined);
          assert.equal(stateOf(slots, 'long'), 'idle');
        } finally {
          skewed.mock.restore();
        }
      }));
  }
}
