/**
 * The contract suite every registry backend must pass. A backend's test file calls
 * `runContractSuite` with a factory of fresh, empty stores.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  RegistryInvalidArgumentError,
  RegistryQuotaExceededError,
  type CapacityRegistry,
  type Reservation,
  type ReserveRequest,
  type WorkerRegistration,
} from '../src/index.js';
import { runEventTests } from './contract-events.js';
import { runHeartbeatTests } from './contract-heartbeat.js';

export interface RegistryStore {
  /** Opens another registry on the same store, as another process would. */
  open(): Promise<CapacityRegistry>;
  /** Removes the store; the suite has closed every registry it opened. */
  cleanup(): Promise<void>;
}

type StoreFactory = () => Promise<RegistryStore>;

const LONG_TTL_MS = 60_000;

export function worker(id: string, extra: Partial<WorkerRegistration> = {}): WorkerRegistration {
  return {
    workerId: id,
    url: `http://127.0.0.1:7801/${id}`,
    host: 'host-a',
    pool: 'default',
    labels: {},
    ttlMs: LONG_TTL_MS,
    ...extra,
  };
}

export function reserveRequest(
  callId: string,
  extra: Partial<ReserveRequest> = {},
): ReserveRequest {
  return { pool: 'default', callId, reservationTtlMs: LONG_TTL_MS, ...extra };
}

/** Runs `body` with one registry on a fresh store; closes and removes everything after. */
async function withRegistries(
  createStore: StoreFactory,
  count: number,
  body: (registries: CapacityRegistry[]) => Promise<void>,
): Promise<void> {
  const store = await createStore();
  const registries: CapacityRegistry[] = [];
  try {
    for (let i = 0; i < count; i += 1) registries.push(await store.open());
    await body(registries);
  } finally {
    for (const registry of registries) await registry.close();
    await store.cleanup();
  }
}

function first<T>(items: T[]): T {
  const [item] = items;
  assert.ok(item !== undefined, 'expected at least one registry');
  return item;
}

async function reserveOrFail(
  registry: CapacityRegistry,
  request: ReserveRequest,
): Promise<Reservation> {
  const reservation = await registry.reserve(request);
  assert.ok(reservation, `expected a free slot for ${request.callId}`);
  return reservation;
}

export function runContractSuite(backend: string, createStore: StoreFactory): void {
  const withRegistry = (body: (registry: CapacityRegistry) => Promise<void>) =>
    withRegistries(createStore, 1, (registries) => body(first(registries)));

  describe(`${backend} registry contract`, () => {
    test('register lists an idle slot', () =>
      withRegistry(async (registry) => {
        const before = Date.now();
        await registry.register(worker('w1', { labels: { lang: 'en' } }));
        const slots = await registry.list();
        assert.equal(slots.length, 1);
        const slot = first(slots);
        assert.equal(slot.workerId, 'w1');
        assert.equal(slot.url, 'http://127.0.0.1:7801/w1');
        assert.equal(slot.host, 'host-a');
        assert.equal(slot.pool, 'default');
        assert.deepEqual(slot.labels, { lang: 'en' });
        assert.equal(slot.state, 'idle');
        assert.equal(slot.draining, false);
        assert.equal(slot.reservation, null);
        assert.ok(slot.expiresAt >= before + LONG_TTL_MS - 5_000, 'expiresAt is about now + ttl');
      }));

    test('list filters by pool', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        await registry.register(worker('w2', { pool: 'hindi' }));
        assert.deepEqual(
          (await registry.list('hindi')).map((slot) => slot.workerId),
          ['w2'],
        );
        assert.deepEqual((await registry.list()).map((slot) => slot.workerId).sort(), ['w1', 'w2']);
        assert.deepEqual(await registry.list('empty'), []);
      }));

    test('re-register updates without duplicates', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        await registry.register(worker('w1', { url: 'http://127.0.0.1:7999', labels: { a: 'b' } }));
        const slots = await registry.list();
        assert.equal(slots.length, 1);
        assert.equal(first(slots).url, 'http://127.0.0.1:7999');
        assert.deepEqual(first(slots).labels, { a: 'b' });
      }));

    test('re-register keeps a busy reservation and drain', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        const reservation = await reserveOrFail(registry, reserveRequest('c1'));
        assert.equal(await registry.confirm('w1', reservation.token), 'confirmed');
        assert.equal(await registry.setDraining('w1', true), true);
        await registry.register(worker('w1'));
        const slot = first(await registry.list());
        assert.equal(slot.state, 'busy');
        assert.equal(slot.draining, true);
        assert.equal(slot.reservation?.fence, reservation.fence);
        assert.equal(await registry.release('w1', reservation.token), true);
      }));

    test('register restores a re-asserted busy call', () =>
      withRegistries(createStore, 1, async (registries) => {
        const registry = first(registries);
        await registry.register(worker('w1'));
        await registry.register(worker('w2'));
        const lost = await reserveOrFail(registry, reserveRequest('c1', { tenantId: 't1' }));
        assert.equal(await registry.confirm(lost.workerId, lost.token), 'confirmed');
        // Simulate a store that lost the worker while its call went on.
        await registry.deregister(lost.workerId);
        const activeReservation = {
          token: lost.token,
          fence: lost.fence + 1_000,
          callId: lost.callId,
          tenantId: 't1',
        };
        await registry.register(worker(lost.workerId, { activeReservation }));

        const slot = (await registry.list()).find((view) => view.workerId === lost.workerId);
        assert.equal(slot?.state, 'busy');
        assert.equal(slot?.reservation?.fence, lost.fence + 1_000);
        assert.equal(slot?.reservation?.callId, 'c1');
        assert.equal(slot?.reservation?.tenantId, 't1');
        await assert.rejects(
          registry.reserve(reserveRequest('c2', { quotas: { tenant: { id: 't1', limit: 1 } } })),
          RegistryQuotaExceededError,
        );

        const next = await reserveOrFail(registry, reserveRequest('c3'));
        assert.ok(next.fence > lost.fence + 1_000, 'fence counter moved past the asserted one');

        // A live entry keeps its own reservation; a second assertion changes nothing.
        await registry.register(
          worker(next.workerId, { activeReservation: { ...activeReservation, token: 'other' } }),
        );
        const kept = (await registry.list()).find((view) => view.workerId === next.workerId);
        assert.equal(kept?.state, 'reserved');
        assert.equal(kept?.reservation?.fence, next.fence);

        assert.equal(await registry.release(lost.workerId, lost.token), true);
        assert.equal(
          (await registry.list()).find((v) => v.workerId === lost.workerId)?.state,
          'idle',
        );
      }));

    test('re-register in another pool moves the worker', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        await registry.register(worker('w1', { pool: 'other' }));
        assert.deepEqual(await registry.list('default'), []);
        assert.equal((await registry.list('other')).length, 1);
        assert.equal(await registry.reserve(reserveRequest('c1')), null);
        assert.ok(await registry.reserve(reserveRequest('c2', { pool: 'other' })));
      }));

    test('worker expires after its TTL', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('short', { ttlMs: 200 }));
        await registry.register(worker('long'));
        assert.equal((await registry.list()).length, 2);
        await sleep(400);
        assert.deepEqual(
          (await registry.list()).map((slot) => slot.workerId),
          ['long'],
        );
        assert.equal(await registry.heartbeat('short', LONG_TTL_MS), false);
        assert.equal(await registry.setDraining('short', true), false);
        const reservation = await reserveOrFail(registry, reserveRequest('c1'));
        assert.equal(reservation.workerId, 'long');
        assert.equal(await registry.reserve(reserveRequest('c2')), null);
      }));

    test('heartbeat extends the TTL', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1', { ttlMs: 500 }));
        assert.equal(await registry.heartbeat('w1', LONG_TTL_MS), true);
        await sleep(700);
        assert.equal((await registry.list()).length, 1);
        assert.equal(await registry.heartbeat('w1', LONG_TTL_MS), true);
        assert.equal(await registry.heartbeat('nobody', LONG_TTL_MS), false);
      }));

    test('expired worker registers again fresh', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1', { ttlMs: 500 }));
        const old = await reserveOrFail(registry, reserveRequest('c1'));
        assert.equal(await registry.confirm('w1', old.token), 'confirmed');
        await sleep(700);
        await registry.register(worker('w1'));
        const slot = first(await registry.list());
        assert.equal(slot.state, 'idle');
        assert.equal(slot.reservation, null);
        assert.equal(await registry.release('w1', old.token), false);
      }));

    test('reserve, confirm and release cycle', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        const before = Date.now();
        const reservation = await reserveOrFail(registry, reserveRequest('c1'));
        assert.equal(reservation.workerId, 'w1');
        assert.equal(reservation.url, 'http://127.0.0.1:7801/w1');
        assert.equal(reservation.callId, 'c1');
        assert.ok(reservation.token.length >= 16, 'token has at least 16 characters');
        assert.ok(reservation.fence > 0);
        assert.ok(reservation.deadline >= before + LONG_TTL_MS - 5_000);

        let slot = first(await registry.list());
        assert.equal(slot.state, 'reserved');
        assert.deepEqual(slot.reservation, {
          callId: 'c1',
          fence: reservation.fence,
          deadline: reservation.deadline,
          confirmed: false,
        });
        assert.equal(await registry.reserve(reserveRequest('c2')), null);

        assert.equal(await registry.confirm('w1', reservation.token), 'confirmed');
        assert.equal(await registry.confirm('w1', reservation.token), 'confirmed');
        slot = first(await registry.list());
        assert.equal(slot.state, 'busy');
        assert.equal(slot.reservation?.confirmed, true);

        assert.equal(await registry.release('w1', reservation.token), true);
        slot = first(await registry.list());
        assert.equal(slot.state, 'idle');
        assert.equal(slot.reservation, null);

        const next = await reserveOrFail(registry, reserveRequest('c3'));
        assert.ok(next.fence > reservation.fence, 'fence increases');
        assert.notEqual(next.token, reservation.token);
      }));

    test('release is idempotent', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        const reservation = await reserveOrFail(registry, reserveRequest('c1'));
        assert.equal(await registry.release('w1', reservation.token), true);
        assert.equal(await registry.release('w1', reservation.token), false);
        const next = await reserveOrFail(registry, reserveRequest('c2'));
        assert.equal(await registry.release('w1', reservation.token), false);
        const slot = first(await registry.list());
        assert.equal(slot.state, 'reserved');
        assert.equal(slot.reservation?.callId, 'c2');
        assert.equal(await registry.release('w1', next.token), true);
      }));

    test('stale token never frees a newer reservation', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        const stale = await reserveOrFail(
          registry,
          reserveRequest('c1', { reservationTtlMs: 150 }),
        );
        await sleep(300);
        const fresh = await reserveOrFail(registry, reserveRequest('c2'));
        assert.equal(fresh.workerId, 'w1');
        assert.ok(fresh.fence > stale.fence);
        assert.equal(await registry.release('w1', stale.token), false);
        assert.equal(await registry.confirm('w1', stale.token), 'token-mismatch');
        const slot = first(await registry.list());
        assert.equal(slot.state, 'reserved');
        assert.equal(slot.reservation?.callId, 'c2');
        assert.equal(await registry.confirm('w1', fresh.token), 'confirmed');
      }));

    test('unconfirmed reservation lapses and late confirm expires', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        const reservation = await reserveOrFail(
          registry,
          reserveRequest('c1', { reservationTtlMs: 150 }),
        );
        await sleep(300);
        const slot = first(await registry.list());
        assert.equal(slot.state, 'idle');
        assert.equal(slot.reservation, null);
        assert.equal(await registry.confirm('w1', reservation.token), 'expired');
        assert.equal(first(await registry.list()).state, 'idle');
        assert.equal(await registry.release('w1', reservation.token), false);
        assert.ok(await registry.reserve(reserveRequest('c2')));
      }));

    test('confirm rejects a wrong token or unknown worker', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        assert.equal(await registry.confirm('w1', 'no-reservation'), 'token-mismatch');
        await reserveOrFail(registry, reserveRequest('c1'));
        assert.equal(await registry.confirm('w1', 'wrong'), 'token-mismatch');
        assert.equal(await registry.confirm('nobody', 'wrong'), 'unknown-worker');
        assert.equal(first(await registry.list()).state, 'reserved');
      }));

    test('draining worker gets no reservation', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        assert.equal(await registry.setDraining('w1', true), true);
        let slot = first(await registry.list());
        assert.equal(slot.state, 'draining');
        assert.equal(slot.draining, true);
        assert.equal(await registry.reserve(reserveRequest('c1')), null);

        assert.equal(await registry.setDraining('w1', false), true);
        assert.equal(first(await registry.list()).state, 'idle');
        const reservation = await reserveOrFail(registry, reserveRequest('c2'));
        assert.equal(await registry.confirm('w1', reservation.token), 'confirmed');

        assert.equal(await registry.setDraining('w1', true), true);
        slot = first(await registry.list());
        assert.equal(slot.state, 'busy');
        assert.equal(slot.draining, true);
        assert.equal(await registry.release('w1', reservation.token), true);
        assert.equal(first(await registry.list()).state, 'draining');
        assert.equal(await registry.reserve(reserveRequest('c3')), null);
        assert.equal(await registry.setDraining('nobody', true), false);
      }));

    test('reserve selects by labels', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('en', { labels: { lang: 'en' } }));
        await registry.register(worker('hi', { labels: { lang: 'hi', region: 'in' } }));
        const hindi = await reserveOrFail(
          registry,
          reserveRequest('c1', { labels: { lang: 'hi', region: 'in' } }),
        );
        assert.equal(hindi.workerId, 'hi');
        assert.equal(
          await registry.reserve(reserveRequest('c2', { labels: { lang: 'hi' } })),
          null,
        );
        assert.equal(
          await registry.reserve(reserveRequest('c3', { labels: { lang: 'fr' } })),
          null,
        );
        const any = await reserveOrFail(registry, reserveRequest('c4', { labels: {} }));
        assert.equal(any.workerId, 'en');
      }));

    test('reserve stays within its pool', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1', { pool: 'a' }));
        assert.equal(await registry.reserve(reserveRequest('c1', { pool: 'b' })), null);
        assert.ok(await registry.reserve(reserveRequest('c2', { pool: 'a' })));
      }));

    test('deregister removes worker and reservation', () =>
      withRegistry(async (registry) => {
        await registry.register(worker('w1'));
        const reservation = await reserveOrFail(registry, reserveRequest('c1'));
        await registry.deregister('w1');
        await registry.deregister('w1');
        assert.deepEqual(await registry.list(), []);
        assert.equal(await registry.confirm('w1', reservation.token), 'unknown-worker');
        assert.equal(await registry.release('w1', reservation.token), false);
        assert.equal(await registry.heartbeat('w1', LONG_TTL_MS), false);
      }));

    test('invalid arguments are rejected', () =>
      withRegistry(async (registry) => {
        await assert.rejects(
          registry.register(worker('w1', { pool: 'bad{pool}' })),
          RegistryInvalidArgumentError,
        );
        await assert.rejects(
          registry.register(worker('w1', { ttlMs: 0 })),
          RegistryInvalidArgumentError,
        );
        await assert.rejects(
          registry.reserve(reserveRequest('c1', { reservationTtlMs: 1.5 })),
          RegistryInvalidArgumentError,
        );
        await assert.rejects(registry.list('a b'), { code: 'REGISTRY_INVALID_ARGUMENT' });
      }));

    test('malformed ids are rejected', () =>
      withRegistry(async (registry) => {
        await assert.rejects(registry.register(worker('w\u001f1')), {
          code: 'REGISTRY_INVALID_ARGUMENT',
          message: /workerId.*control character/,
        });
        await assert.rejects(registry.register(worker('w1', { host: 'host\n1' })), {
          code: 'REGISTRY_INVALID_ARGUMENT',
        });
        await registry.register(worker('w1'));
        await assert.rejects(registry.reserve(reserveRequest('c\u007f1')), {
          code: 'REGISTRY_INVALID_ARGUMENT',
        });
        await assert.rejects(
          registry.reserve(
            reserveRequest('c1', { quotas: { tenant: { id: 't\u00001', limit: 1 } } }),
          ),
          { code: 'REGISTRY_INVALID_ARGUMENT' },
        );
        await assert.rejects(registry.reserve(reserveRequest('c1', { tenantId: 't\u001e1' })), {
          code: 'REGISTRY_INVALID_ARGUMENT',
          message: /tenantId/,
        });
        await assert.rejects(registry.reserve(reserveRequest('c1', { campaignId: '' })), {
          code: 'REGISTRY_INVALID_ARGUMENT',
          message: /campaignId/,
        });
        await assert.rejects(
          registry.reserve(reserveRequest('c1', { tenantId: 't'.repeat(257) })),
          {
            code: 'REGISTRY_INVALID_ARGUMENT',
          },
        );
        await assert.rejects(registry.register(worker('w\ud8002')), {
          code: 'REGISTRY_INVALID_ARGUMENT',
          message: /lone UTF-16 surrogate/,
        });
        // Characters beyond ASCII are ids like any other, and their events read back whole.
        const start = await registry.readEvents(null, 10_000);
        const reservation = await reserveOrFail(
          registry,
          reserveRequest('appel-é-☎', { quotas: { tenant: { id: 'कंपनी', limit: 1 } } }),
        );
        assert.equal(reservation.callId, 'appel-é-☎');
        const page = await registry.readEvents(start.lastId, 10);
        assert.deepEqual(
          page.events.map((event) => [event.type, event.callId, event.tenantId]),
          [['reserved', 'appel-é-☎', 'कंपनी']],
        );
      }));

    test('close is idempotent and later calls fail', () =>
      withRegistries(createStore, 1, async (registries) => {
        const registry = first(registries);
        await registry.close();
        await registry.close();
        await assert.rejects(registry.list(), { code: 'REGISTRY_CLOSED' });
      }));

    test('50 concurrent reserves share 5 slots', () =>
      withRegistries(createStore, 5, async (registries) => {
        const registry = first(registries);
        for (let i = 0; i < 5; i += 1) await registry.register(worker(`w${i}`));
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            registries[i % registries.length]?.reserve(reserveRequest(`c${i}`)),
          ),
        );
        const winners = results.filter((result): result is Reservation => Boolean(result));
        assert.equal(winners.length, 5);
        assert.equal(new Set(winners.map((winner) => winner.workerId)).size, 5);
        assert.equal(new Set(winners.map((winner) => winner.fence)).size, 5);
        const states = (await registry.list()).map((slot) => slot.state);
        assert.deepEqual(states, ['reserved', 'reserved', 'reserved', 'reserved', 'reserved']);
      }));

    runQuotaTests(withRegistry);
    runHeartbeatTests(withRegistry, { worker, reserveRequest });
    runContentionTest(createStore);
    runEventTests((count, body) => withRegistries(createStore, count, body), {
      worker,
      reserveRequest,
    });
  });
}

function runQuotaTests(
  withRegistry: (body: (registry: CapacityRegistry) => Promise<void>) => Promise<void>,
): void {
  const tenantQuota = (limit: number) => ({ quotas: { tenant: { id: 't1', limit } } });

  test('tenant quota caps live reservations', () =>
    withRegistry(async (registry) => {
      for (let i = 0; i < 4; i += 1) await registry.register(worker(`w${i}`));
      const a = await reserveOrFail(registry, reserveRequest('c1', tenantQuota(2)));
      await reserveOrFail(registry, reserveRequest('c2', tenantQuota(2)));
      await assert.rejects(registry.reserve(reserveRequest('c3', tenantQuota(2))), (err) => {
        assert.ok(err instanceof RegistryQuotaExceededError);
        assert.equal(err.scope, 'tenant');
        assert.equal(err.id, 't1');
        assert.equal(err.limit, 2);
        assert.equal(err.retryable, true);
        return true;
      });
      // Another tenant still has room in the same pool.
      assert.ok(
        await registry.reserve(
          reserveRequest('c4', { quotas: { tenant: { id: 't2', limit: 1 } } }),
        ),
      );
      assert.equal(await registry.release(a.workerId, a.token), true);
      await reserveOrFail(registry, reserveRequest('c5', tenantQuota(2)));
    }));

  test('quota counts survive double release', () =>
    withRegistry(async (registry) => {
      for (let i = 0; i < 3; i += 1) await registry.register(worker(`w${i}`));
      const a = await reserveOrFail(registry, reserveRequest('c1', tenantQuota(1)));
      assert.equal(await registry.release(a.workerId, a.token), true);
      assert.equal(await registry.release(a.workerId, a.token), false);
      await reserveOrFail(registry, reserveRequest('c2', tenantQuota(1)));
      await assert.rejects(
        registry.reserve(reserveRequest('c3', tenantQuota(1))),
        RegistryQuotaExceededError,
      );
    }));

  test('lapsed reservation and expired worker free quota', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w0'));
      await registry.register(worker('w1', { ttlMs: 500 }));
      await registry.register(worker('w2'));
      await reserveOrFail(
        registry,
        reserveRequest('c1', { ...tenantQuota(2), reservationTtlMs: 400 }),
      );
      const busy = await reserveOrFail(registry, reserveRequest('c2', tenantQuota(2)));
      assert.equal(busy.workerId, 'w1');
      assert.equal(await registry.confirm(busy.workerId, busy.token), 'confirmed');
      await sleep(700);
      // w0's reservation lapsed and w1 expired: both stop counting.
      const a = await reserveOrFail(registry, reserveRequest('c3', tenantQuota(2)));
      const b = await reserveOrFail(registry, reserveRequest('c4', tenantQuota(2)));
      assert.deepEqual([a.workerId, b.workerId].sort(), ['w0', 'w2']);
      assert.equal(await registry.release(busy.workerId, busy.token), false);
    }));

  test('campaign quota and tenant quota apply together', () =>
    withRegistry(async (registry) => {
      for (let i = 0; i < 4; i += 1) await registry.register(worker(`w${i}`));
      const both = (callId: string) =>
        reserveRequest(callId, {
          tenantId: 't1',
          quotas: { tenant: { id: 't1', limit: 3 }, campaign: { id: 'k1', limit: 1 } },
        });
      await reserveOrFail(registry, both('c1'));
      await assert.rejects(registry.reserve(both('c2')), { code: 'REGISTRY_QUOTA_EXCEEDED' });
      const slot = (await registry.list()).find((view) => view.reservation !== null);
      assert.equal(slot?.reservation?.tenantId, 't1');
      assert.equal(slot?.reservation?.campaignId, 'k1');
      // Reservations of t1 without a campaign limit count toward the tenant limit.
      await reserveOrFail(registry, reserveRequest('c3', { tenantId: 't1' }));
      await reserveOrFail(registry, reserveRequest('c4', { tenantId: 't1' }));
      await assert.rejects(
        registry.reserve(reserveRequest('c5', tenantQuota(3))),
        RegistryQuotaExceededError,
      );
    }));
}

/**
 * Thousands of reservations from several registries at once. A ledger in this process
 * records who holds each slot, so any slot handed to two holders at once fails the test,
 * and so does any moment where a tenant holds more slots than its limit.
 */
function runContentionTest(createStore: StoreFactory): void {
  test('contention never double-books or exceeds quota', () =>
    withRegistries(createStore, 4, async (registries) => {
      const slots = 12;
      const tenantLimit = 4;
      const tenants = ['t1', 't2', 't3'];
      const perClient = 500;
      for (let i = 0; i < slots; i += 1) {
        await first(registries).register(worker(`w${String(i).padStart(2, '0')}`));
      }

      const holders = new Map<string, string>();
      const tenantCounts = new Map<string, number>();
      const fences = new Set<number>();
      const violations: string[] = [];
      let reserved = 0;
      let quotaRejections = 0;

      const client = async (registry: CapacityRegistry, index: number) => {
        for (let i = 0; i < perClient; i += 1) {
          const tenant = tenants[(index + i) % tenants.length] ?? 't1';
          const callId = `c${index}-${i}`;
          let reservation: Reservation | null;
          try {
            reservation = await registry.reserve(
              reserveRequest(callId, { quotas: { tenant: { id: tenant, limit: tenantLimit } } }),
            );
          } catch (err) {
            if (!(err instanceof RegistryQuotaExceededError)) throw err;
            quotaRejections += 1;
            continue;
          }
          if (reservation === null) {
            await sleep(1);
            continue;
          }
          reserved += 1;
          if (fences.has(reservation.fence)) violations.push(`fence ${reservation.fence} reused`);
          fences.add(reservation.fence);
          const holder = holders.get(reservation.workerId);
          if (holder !== undefined) {
            violations.push(`${reservation.workerId} held by ${holder} and ${callId}`);
          }
          holders.set(reservation.workerId, callId);
          const count = (tenantCounts.get(tenant) ?? 0) + 1;
          if (count > tenantLimit) violations.push(`${tenant} holds ${count} slots`);
          tenantCounts.set(tenant, count);

          if (i % 2 === 0)
            assert.equal(
              await registry.confirm(reservation.workerId, reservation.token),
              'confirmed',
            );
          await sleep(i % 3);
          // Leave the ledger before releasing, so the next holder never sees a stale entry.
          holders.delete(reservation.workerId);
          tenantCounts.set(tenant, (tenantCounts.get(tenant) ?? 1) - 1);
          assert.equal(await registry.release(reservation.workerId, reservation.token), true);
        }
      };

      await Promise.all(registries.map((registry, index) => client(registry, index)));
      assert.deepEqual(violations, []);
      assert.ok(reserved >= 1_000, `only ${reserved} reservations succeeded`);
      assert.ok(quotaRejections > 0 || reserved === registries.length * perClient);
      const states = (await first(registries).list()).map((slot) => slot.state);
      assert.deepEqual(new Set(states), new Set(['idle']));
    }));
}
