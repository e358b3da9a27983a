/**
 * Contract tests of an idle worker's heartbeat re-asserting its slot with the token of the
 * last reservation it released. Both backends run them through `runContractSuite`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  RegistryInvalidArgumentError,
  RegistryQuotaExceededError,
  type CapacityRegistry,
  type Reservation,
  type ReserveRequest,
  type WorkerRegistration,
} from '../src/index.js';

type WithRegistry = (body: (registry: CapacityRegistry) => Promise<void>) => Promise<void>;

interface Helpers {
  worker: (id: string, extra?: Partial<WorkerRegistration>) => WorkerRegistration;
  reserveRequest: (callId: string, extra?: Partial<ReserveRequest>) => ReserveRequest;
}

const TTL_MS = 60_000;

async function reserveOrFail(
  registry: CapacityRegistry,
  request: ReserveRequest,
): Promise<Reservation> {
  const reservation = await registry.reserve(request);
  assert.ok(reservation, `expected a free slot for ${request.callId}`);
  return reservation;
}

async function slotOf(registry: CapacityRegistry, workerId: string) {
  return (await registry.list()).find((slot) => slot.workerId === workerId);
}

export function runHeartbeatTests(withRegistry: WithRegistry, helpers: Helpers): void {
  const { worker, reserveRequest } = helpers;
  const quota = { quotas: { tenant: { id: 't1', limit: 1 } } };

  test('heartbeat released token frees a lost release', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w1'));
      const ended = await reserveOrFail(registry, reserveRequest('c1', quota));
      assert.equal(await registry.confirm('w1', ended.token), 'confirmed');
      // The worker released the call, but the store never applied it.
      const start = await registry.readEvents(null, 100);

      assert.equal(await registry.heartbeat('w1', TTL_MS, undefined, ended.token), true);
      const slot = await slotOf(registry, 'w1');
      assert.equal(slot?.state, 'idle');
      assert.equal(slot?.reservation, null);
      const { events } = await registry.readEvents(start.lastId, 100);
      assert.deepEqual(
        events.map((event) => `${event.type}:${event.callId}`),
        ['released:c1'],
      );
      assert.equal(await registry.release('w1', ended.token), false);

      // The quota count dropped with it, so tenant t1 may reserve again.
      const next = await reserveOrFail(registry, reserveRequest('c2', quota));
      assert.ok(next.fence > ended.fence);
    }));

  test('heartbeat released token spares a reservation in flight', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w1'));
      const ended = await reserveOrFail(registry, reserveRequest('c1'));
      assert.equal(await registry.release('w1', ended.token), true);
      // A dialler reserved the worker again; its attach has not reached the worker.
      const inFlight = await reserveOrFail(registry, reserveRequest('c2', quota));

      assert.equal(await registry.heartbeat('w1', TTL_MS, undefined, ended.token), true);
      let slot = await slotOf(registry, 'w1');
      assert.equal(slot?.state, 'reserved');
      assert.equal(slot?.reservation?.callId, 'c2');
      await assert.rejects(
        registry.reserve(reserveRequest('c3', quota)),
        RegistryQuotaExceededError,
      );

      // The attach arrives after the heartbeat was sent; a late heartbeat still spares it.
      assert.equal(await registry.confirm('w1', inFlight.token), 'confirmed');
      assert.equal(await registry.heartbeat('w1', TTL_MS, undefined, ended.token), true);
      slot = await slotOf(registry, 'w1');
      assert.equal(slot?.state, 'busy');
      assert.equal(slot?.reservation?.fence, inFlight.fence);
      assert.equal(await registry.release('w1', inFlight.token), true);
    }));

  test('heartbeat released token is idempotent', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w1'));
      const ended = await reserveOrFail(registry, reserveRequest('c1'));
      assert.equal(await registry.confirm('w1', ended.token), 'confirmed');
      assert.equal(await registry.heartbeat('w1', TTL_MS, undefined, ended.token), true);
      const start = await registry.readEvents(null, 100);
      assert.equal(await registry.heartbeat('w1', TTL_MS, undefined, ended.token), true);
      assert.deepEqual((await registry.readEvents(start.lastId, 100)).events, []);
      assert.equal((await slotOf(registry, 'w1'))?.state, 'idle');
      assert.equal(await registry.heartbeat('nobody', TTL_MS, undefined, ended.token), false);
    }));

  test('heartbeat released token keeps drain', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w1'));
      const ended = await reserveOrFail(registry, reserveRequest('c1'));
      assert.equal(await registry.confirm('w1', ended.token), 'confirmed');
      assert.equal(await registry.setDraining('w1', true), true);
      assert.equal(await registry.heartbeat('w1', TTL_MS, undefined, ended.token), true);
      assert.equal((await slotOf(registry, 'w1'))?.state, 'draining');
      assert.equal(await registry.reserve(reserveRequest('c2')), null);
    }));

  test('heartbeat active reservation wins over released token', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w1'));
      const running = await reserveOrFail(registry, reserveRequest('c1'));
      assert.equal(await registry.confirm('w1', running.token), 'confirmed');
      const active = { token: running.token, fence: running.fence, callId: 'c1' };
      assert.equal(await registry.heartbeat('w1', TTL_MS, active, running.token), true);
      assert.equal((await slotOf(registry, 'w1'))?.state, 'busy');
    }));

  test('heartbeat rejects an empty released token', () =>
    withRegistry(async (registry) => {
      await registry.register(worker('w1'));
      await assert.rejects(
        registry.heartbeat('w1', TTL_MS, undefined, ''),
        RegistryInvalidArgumentError,
      );
    }));
}
