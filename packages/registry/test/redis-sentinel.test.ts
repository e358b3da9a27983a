/**
 * The Redis backend on a primary with one replica and three Sentinels
 * (`redis-sentinel://`): the shared contract suite, then a failover that loses writes the
 * primary had acknowledged, repaired by the workers' next heartbeats.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openRegistry, type Reservation } from '../src/index.js';
import { runContractSuite, reserveRequest, worker } from './contract.js';
import {
  callNode,
  reserveAndConfirm,
  startTestSentinels,
  waitUntil,
  type TestSentinelSetup,
} from './redis-topology.js';

const TTL_MS = 60_000;

let setup: TestSentinelSetup | undefined;

function sentinels(): TestSentinelSetup {
  assert.ok(setup, 'the Sentinel setup did not start');
  return setup;
}

before(async () => {
  setup = await startTestSentinels();
});

after(async () => {
  await setup?.dispose();
});

runContractSuite('redis sentinel', async () => {
  const keyPrefix = `test-${randomUUID()}:`;
  return {
    open: () => openRegistry(sentinels().url, { keyPrefix }),
    cleanup: async () => {
      const port = await sentinels().currentPrimaryPort();
      const keys = (await callNode(port, 'KEYS', `${keyPrefix}*`)) as string[];
      if (keys.length > 0) await callNode(port, 'DEL', ...keys);
    },
  };
});

/**
 * Cuts the replica off its primary so that the primary's next writes never reach it: the
 * primary drops the replica's link, and the replica is stopped before it reconnects (it
 * retries once a second). Returns once the primary reports no connected replica.
 */
async function cutReplication(topology: TestSentinelSetup): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    await callNode(topology.primary.port, 'CLIENT', 'KILL', 'TYPE', 'replica');
    topology.replica.signal('SIGSTOP');
    const info = String(await callNode(topology.primary.port, 'INFO', 'replication'));
    if (info.includes('connected_slaves:0')) return;
    topology.replica.signal('SIGCONT');
    await sleep(100);
  }
  throw new Error('the replica kept reconnecting to the primary');
}

test('sentinel failover loses writes that heartbeats repair', async (t) => {
  const topology = sentinels();
  const keyPrefix = `failover-${randomUUID()}:`;
  const registry = await openRegistry(topology.url, { keyPrefix, connectTimeoutMs: 2_000 });
  try {
    await registry.register(worker('w0', { ttlMs: TTL_MS }));
    await registry.register(worker('w1', { ttlMs: TTL_MS }));
    await registry.register(worker('w2', { ttlMs: TTL_MS, labels: { lang: 'hi' } }));
    const running = await reserveAndConfirm(registry, 'c0');
    const ending = await reserveAndConfirm(registry, 'c1');
    assert.deepEqual([running.workerId, ending.workerId], ['w0', 'w1']);
    // WAIT returns once the replica has every write so far.
    assert.equal(await callNode(topology.primary.port, 'WAIT', '1', '5000'), 1);

    await cutReplication(topology);
    // The primary acknowledges these, and they die with it: c1 ends on w1, and c2 starts
    // on w2.
    assert.equal(await registry.release('w1', ending.token), true);
    const started = await reserveAndConfirm(registry, 'c2', { lang: 'hi' });
    assert.equal(started.workerId, 'w2');
    await topology.primary.kill();
    const killedAt = Date.now();
    topology.replica.signal('SIGCONT');

    await waitUntil('replica promoted', 30_000, async () =>
      (await topology.currentPrimaryPort()) === topology.replica.port ? true : undefined,
    );
    // The promoted replica never saw the release or the new call.
    const before = await waitUntil('registry reachable', 10_000, () => registry.list());
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
  } finally {
    topology.replica.signal('SIGCONT');
    await registry.close();
  }
});
