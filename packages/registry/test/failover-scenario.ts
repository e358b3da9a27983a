/**
 * The failover scenario of the Sentinel and Cluster tests: writes that the primary
 * acknowledged but never replicated are lost when it dies, and one heartbeat from each
 * worker repairs them.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CapacityRegistry, Reservation } from '../src/index.js';
import { reserveRequest, worker } from './contract.js';
import { callNode, reserveAndConfirm, waitUntil, type RedisProcess } from './redis-topology.js';

const TTL_MS = 60_000;

/**
 * Cuts `replica` off `primary` so that the primary's next writes never reach it: the
 * primary drops the link, and the replica is stopped before it reconnects (it retries
 * once a second). Returns once the primary reports no connected replica.
 */
async function cutReplication(primary: RedisProcess, replica: RedisProcess): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    await callNode(primary.port, 'CLIENT', 'KILL', 'TYPE', 'replica');
    replica.signal('SIGSTOP');
    const info = String(await callNode(primary.port, 'INFO', 'replication'));
    if (info.includes('connected_slaves:0')) return;
    replica.signal('SIGCONT');
    await sleep(100);
  }
  throw new Error('the replica kept reconnecting to the primary');
}

/**
 * Runs the scenario on the pool `default` of `registry`, whose primary is `primary` with
 * the one replica `replica`. `promoted` returns true once the deployment has made the
 * replica the pool's primary. The caller sends SIGCONT to the replica and closes the
 * registry after.
 */
export async function loseWritesAndRepair(
  t: TestContext,
  registry: CapacityRegistry,
  primary: RedisProcess,
  replica: RedisProcess,
  promoted: () => Promise<boolean>,
): Promise<void> {
  await registry.register(worker('w0', { ttlMs: TTL_MS }));
  await registry.register(worker('w1', { ttlMs: TTL_MS }));
  await registry.register(worker('w2', { ttlMs: TTL_MS, labels: { lang: 'hi' } }));
  const running = await reserveAndConfirm(registry, 'c0');
  const ending = await reserveAndConfirm(registry, 'c1');
  assert.deepEqual([running.workerId, ending.workerId], ['w0', 'w1']);
  // WAIT returns once the replica has every write so far.
  assert.equal(await callNode(primary.port, 'WAIT', '1', '5000'), 1);

  await cutReplication(primary, replica);
  // The primary acknowledges these, and they die with it: c1 ends on w1, and c2 starts
  // on w2.
  assert.equal(await registry.release('w1', ending.token), true);
  const started = await reserveAndConfirm(registry, 'c2', { lang: 'hi' });
  assert.equal(started.workerId, 'w2');
  await primary.kill();
  const killedAt = Date.now();
  replica.signal('SIGCONT');

  await waitUntil('replica promoted', 60_000, async () => ((await promoted()) ? true : undefined));
  const before = await waitUntil('registry reachable', 30_000, () => registry.list());
  const failoverMs = Date.now() - killedAt;
  t.diagnostic(`registry usable ${failoverMs} ms after the primary was killed`);
  assert.deepEqual(
    before.map((slot) => `${slot.workerId}:${slot.state}:${slot.reservation?.callId ?? ''}`),
    ['w0:busy:c0', 'w1:busy:c1', 'w2:idle:'],
    `state after a failover of ${failoverMs} ms`,
  );

  // One heartbeat from each worker: w0 and w2 re-assert their calls, and w1, idle,
  // passes the token it released.
  const activeOf = (reservation: Reservation) => ({
    token: reservation.token,
    fence: reservation.fence,
    callId: reservation.callId,
  });
  assert.equal(await registry.heartbeat('w0', TTL_MS, activeOf(running)), true);
  assert.equal(await registry.heartbeat('w1', TTL_MS, undefined, ending.token), true);
  assert.equal(await registry.heartbeat('w2', TTL_MS, activeOf(started)), true);

  const after = await registry.list();
  assert.deepEqual(
    after.map((slot) => `${slot.workerId}:${slot.state}:${slot.reservation?.callId ?? ''}`),
    ['w0:busy:c0', 'w1:idle:', 'w2:busy:c2'],
  );
  const next = await registry.reserve(reserveRequest('c3'));
  assert.ok(next, 'the idle worker is reservable');
  assert.equal(next.workerId, 'w1');
  assert.ok(next.fence > started.fence, 'the fence counter moved past c2');
  assert.equal(await registry.reserve(reserveRequest('c4')), null);
  assert.equal(await registry.confirm('w1', next.token), 'confirmed');
  assert.equal(await registry.release('w1', next.token), true);
}
