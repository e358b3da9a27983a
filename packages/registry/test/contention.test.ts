/**
 * Contention on a real redis-server: 48 concurrent clients over four connections run
 * reserve, confirm and release cycles on 32 slots with tenant quotas until 100,000
 * reservations have succeeded. A ledger in this process fails the test on any slot held
 * by two calls at once, any tenant above its limit, and any fence handed out twice.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import {
  openRegistry,
  RegistryQuotaExceededError,
  type CapacityRegistry,
  type Reservation,
} from '../src/index.js';
import { reserveRequest, worker } from './contract.js';
import { startTestRedis } from './redis-server.js';

const TARGET_RESERVATIONS = 100_000;
const SLOTS = 32;
const CONNECTIONS = 4;
const CLIENTS_PER_CONNECTION = 12;
/**
 * Each attempt's tenant, in turn: t0 makes two of every five attempts, so it alone would
 * hold about 13 of the 32 slots. 4 tenants x 10 > 32 slots, so clients meet both t0's full
 * quota and a full pool, whatever order the registry serves them in.
 */
const TENANT_TURNS = ['t0', 't1', 't0', 't2', 't3'];
const TENANT_LIMIT = 10;

test('100,000 reservations never double-book', { timeout: 300_000 }, async () => {
  const redis = await startTestRedis();
  const keyPrefix = `contention-${randomUUID()}:`;
  const registries: CapacityRegistry[] = [];
  try {
    for (let i = 0; i < CONNECTIONS; i += 1) {
      registries.push(await openRegistry(redis.url, { keyPrefix }));
    }
    const [first] = registries;
    assert.ok(first);
    for (let i = 0; i < SLOTS; i += 1) {
      // A TTL far above the run time, so a slow machine never sees a worker expire.
      await first.register(worker(`w${String(i).padStart(2, '0')}`, { ttlMs: 600_000 }));
    }

    const holders = new Map<string, string>();
    const tenantCounts = new Map<string, number>();
    const fences = new Set<number>();
    const violations: string[] = [];
    let reserved = 0;
    let quotaRejections = 0;
    let noCapacity = 0;

    const hold = (reservation: Reservation, tenant: string) => {
      if (fences.has(reservation.fence)) violations.push(`fence ${reservation.fence} reused`);
      fences.add(reservation.fence);
      const holder = holders.get(reservation.workerId);
      if (holder !== undefined) {
        violations.push(`${reservation.workerId} held by ${holder} and ${reservation.callId}`);
      }
      holders.set(reservation.workerId, reservation.callId);
      const count = (tenantCounts.get(tenant) ?? 0) + 1;
      if (count > TENANT_LIMIT) violations.push(`${tenant} holds ${count} slots`);
      tenantCounts.set(tenant, count);
    };

    const client = async (registry: CapacityRegistry, index: number) => {
      for (let i = 0; reserved < TARGET_RESERVATIONS && violations.length === 0; i += 1) {
        const tenant = TENANT_TURNS[(index + i) % TENANT_TURNS.length] ?? 't0';
        let reservation: Reservation | null;
        try {
          reservation = await registry.reserve(
            reserveRequest(`c${index}-${i}`, {
              reservationTtlMs: 600_000,
              quotas: { tenant: { id: tenant, limit: TENANT_LIMIT } },
            }),
          );
        } catch (err) {
          if (!(err instanceof RegistryQuotaExceededError)) throw err;
          quotaRejections += 1;
          continue;
        }
        if (reservation === null) {
          noCapacity += 1;
          continue;
        }
        reserved += 1;
        hold(reservation, tenant);
        const confirmed = await registry.confirm(reservation.workerId, reservation.token);
        if (confirmed !== 'confirmed') violations.push(`confirm returned ${confirmed}`);
        // Leave the ledger before releasing, so the next holder never meets a stale entry.
        holders.delete(reservation.workerId);
        tenantCounts.set(tenant, (tenantCounts.get(tenant) ?? 1) - 1);
        if (!(await registry.release(reservation.workerId, reservation.token))) {
          violations.push(`release of ${reservation.callId} returned false`);
        }
      }
    };

    const started = performance.now();
    await Promise.all(
      registries.flatMap((registry, connection) =>
        Array.from({ length: CLIENTS_PER_CONNECTION }, (_, i) =>
          client(registry, connection * CLIENTS_PER_CONNECTION + i),
        ),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `contention: ${reserved} reservations in ${seconds.toFixed(1)} s, ` +
        `${quotaRejections} quota rejections, ${noCapacity} with no capacity`,
    );

    assert.deepEqual(violations, []);
    assert.ok(reserved >= TARGET_RESERVATIONS, `only ${reserved} reservations`);
    assert.ok(quotaRejections > 0, 'quotas were reached');
    assert.ok(noCapacity > 0, 'the pool was full at times');
    const slots = await first.list();
    assert.equal(slots.length, SLOTS);
    assert.deepEqual(new Set(slots.map((slot) => slot.state)), new Set(['idle']));
  } finally {
    for (const registry of registries) await registry.close();
    await redis.dispose();
  }
});
