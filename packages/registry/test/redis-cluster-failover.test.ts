/**
 * A Redis Cluster failover (`redis-cluster://`, three primaries with one replica each).
 * The primary that owns a pool's hash slot dies with writes it acknowledged but never
 * replicated. Its replica takes over the slot, and the workers' next heartbeats repair
 * what was lost.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { openRegistry } from '../src/index.js';
import { loseWritesAndRepair } from './failover-scenario.js';
import {
  callNode,
  startTestCluster,
  type RedisProcess,
  type TestCluster,
} from './redis-topology.js';

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

test('cluster failover loses writes that heartbeats repair', { timeout: 120_000 }, async (t) => {
  const keyPrefix = `failover-${randomUUID()}:`;
  const registry = await openRegistry(server().url, { keyPrefix, connectTimeoutMs: 2_000 });
  const primary = await primaryOf(`${keyPrefix}{default}:workers`);
  const replica = await replicaOf(primary);
  try {
    await loseWritesAndRepair(
      t,
      registry,
      primary,
      replica,
      async () => (await primaryOf(`${keyPrefix}{default}:workers`)) === replica,
    );
  } finally {
    replica.signal('SIGCONT');
    await registry.close();
  }
});
