/**
 * A Redis Cluster failover (`redis-cluster://`, three primaries with one replica each).
 * The primary that owns a pool's hash slot dies with writes it acknowledged but never
 * replicated. Its replica takes over the slot, and the workers' next heartbeats repair
 * what was lost.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openRegistry, type Reservation } from '../src/index.js';
import { reserveRequest, worker } from './contract.js';
import {
  callNode,
  reserveAndConfirm,
  startTestCluster,
  waitUntil,
  type RedisProcess,
  type TestCluster,
} from './redis-topology.js';

const TTL_MS = 60_000;

let cluster: TestCluster | undefined;

function server(): TestCluster {
  assert.ok(cluster, 'the Redis Cluster did not start');
  return cluster;
}

before(async () => {
  cluster = await startTestCluster(3, 1);
});

after(async () => {
  await cluster?.dispose();
});

/** Returns the primary of `key`'s hash slot, from `CLUSTER SLOTS` of the first running node that replies. */
async function primaryOf(key: string): Promise<RedisProcess> {
  for (const node of server().nodes.filter((candidate) => candidate.running)) {
    try {
      const slot = Number(await callNode(node.port, 'CLUSTER', 'KEYSLOT', key));
      const ranges = (await callNode(node.port, 'CLUSTER', 'SLOTS')) as Array<
        [number, number, [string, number, ...unknown[]]]
      >;
      const range = ranges.find(([start, end]) => slot >= start && slot <= end);
      const owner = server().nodes.find((candidate) => candidate.port === range?.[2][1]);
      if (owner !== undefined) return owner;
    } catch {
      // A node may not reply while the cluster fails over, so the next one is tried.
    }
  }
  throw new Error(`no running node knows the primary of ${key}`);
}

/** Returns the replica of `primary`, from `CLUSTER NODES` as the primary reports it. */
async function replicaOf(primary: RedisProcess): Promise<RedisProcess> {
  const lines = String(await callNode(primary.port, 'CLUSTER', 'NODES'))
    .trim()
    .split('\n');
  const fields = lines.map((line) => line.split(' '));
  const primaryId = fields.find((parts) => parts[2]?.includes('myself'))?.[0];
  const replicaLine = fields.find((parts) => parts[3] === primaryId);
  const port = Number(replicaLine?.[1]?.split('@')[0]?.split(':')[1]);
  const replica = server().nodes.find((node) => node.port === port);
  assert.ok(replica, `no replica of the primary on port ${primary.port}`);
  return replica;
}

/**
 * Cuts `replica` off `primary` so that the primary's next writes never reach it: the
 * primary drops the link, and the replica is stopped before it reconnects. Returns once the
 * primary reports no connected replica.
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

test('cluster failover loses writes that heartbeats repair', { timeout: 120_000 }, async (t) => {
  const keyPrefix = `failover-${randomUUID()}:`;
  const registry = await openRegistry(server().url, { keyPrefix, connectTimeoutMs: 2_000 });
  const primary = await primaryOf(`${keyPrefix}{default}:workers`);
  const replica = await replicaOf(primary);
  try {
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

    await waitUntil('replica promoted', 60_000, async () =>
      (await primaryOf(`${keyPrefix}{default}:workers`)) === replica ? true : undefined,
    );
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
  } finally {
    replica.signal('SIGCONT');
    await registry.close();
  }
});
