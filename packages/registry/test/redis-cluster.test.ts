/**
 * The Redis backend on a Redis Cluster of three primaries (`redis-cluster://`): the shared
 * contract suite, and calls across pools whose hash slots live on different nodes.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openRegistry } from '../src/index.js';
import { runContractSuite, reserveRequest, worker } from './contract.js';
import { callNode, useTestCluster } from './redis-topology.js';

const server = useTestCluster(3);

/** Deletes every key that starts with `prefix`, one at a time, on every node. */
async function deleteKeys(prefix: string): Promise<void> {
  for (const node of server().nodes) {
    const keys = (await callNode(node.port, 'KEYS', `${prefix}*`)) as string[];
    for (const key of keys) await callNode(node.port, 'UNLINK', key);
  }
}

/** Returns the port of the node that owns `key`'s hash slot. */
async function ownerOf(key: string): Promise<number> {
  const first = server().nodes[0];
  assert.ok(first);
  const slot = Number(await callNode(first.port, 'CLUSTER', 'KEYSLOT', key));
  const ranges = (await callNode(first.port, 'CLUSTER', 'SLOTS')) as Array<
    [number, number, [string, number, ...unknown[]]]
  >;
  const range = ranges.find(([start, end]) => slot >= start && slot <= end);
  assert.ok(range, `no node owns slot ${slot}`);
  return range[2][1];
}

/** Finds one pool name per node, so a test can put a pool on each of them. */
async function poolsOnEveryNode(keyPrefix: string): Promise<string[]> {
  const byNode = new Map<number, string>();
  for (let i = 0; byNode.size < server().nodes.length; i += 1) {
    assert.ok(i < 100, 'no pool name found for some node');
    const pool = `pool-${i}`;
    const port = await ownerOf(`${keyPrefix}{${pool}}:expiry`);
    if (!byNode.has(port)) byNode.set(port, pool);
  }
  return [...byNode.values()].sort();
}

runContractSuite('redis cluster', async () => {
  const keyPrefix = `test-${randomUUID()}:`;
  return {
    open: () => openRegistry(server().url, { keyPrefix }),
    cleanup: () => deleteKeys(keyPrefix),
  };
});

test('cluster contract pools span several nodes', async () => {
  // The contract suite's pools; at least two of them must live on different nodes.
  const pools = ['default', 'hindi', 'other', 'a', 'b', 'p1', 'p2'];
  const owners = new Set<number>();
  for (const pool of pools) owners.add(await ownerOf(`test-x:{${pool}}:expiry`));
  assert.ok(owners.size >= 2, `every contract pool is on node ${[...owners].join(',')}`);
});

test('cluster pools on three nodes list, reap and stream', async () => {
  const keyPrefix = `spread-${randomUUID()}:`;
  const pools = await poolsOnEveryNode(keyPrefix);
  const registry = await openRegistry(server().url, { keyPrefix });
  try {
    const start = await registry.readEvents(null, 100);
    for (const pool of pools) {
      await registry.register(worker(`${pool}-w`, { pool }));
      await registry.register(worker(`${pool}-short`, { pool, ttlMs: 200 }));
    }
    const owners = new Set(
      await Promise.all(pools.map((pool) => ownerOf(`${keyPrefix}{${pool}}:workers`))),
    );
    assert.equal(owners.size, 3, 'one pool per node');

    const slots = await registry.list();
    assert.deepEqual(
      slots.map((slot) => `${slot.pool}/${slot.workerId}`),
      pools.flatMap((pool) => [`${pool}/${pool}-short`, `${pool}/${pool}-w`]),
    );

    await sleep(400);
    const reaped = await registry.reap();
    assert.deepEqual(
      reaped.map((event) => `${event.type}:${event.workerId}`).sort(),
      pools.map((pool) => `expired:${pool}-short`).sort(),
    );

    const reservations = [];
    for (const pool of pools) {
      const reservation = await registry.reserve(reserveRequest(`c-${pool}`, { pool }));
      assert.equal(reservation?.workerId, `${pool}-w`);
      assert.ok(reservation);
      reservations.push(reservation);
      assert.equal(await registry.confirm(reservation.workerId, reservation.token), 'confirmed');
    }
    assert.deepEqual(
      (await registry.list()).map((slot) => slot.state),
      ['busy', 'busy', 'busy'],
    );
    assert.equal(await registry.setDrainingWhere({ host: 'host-a' }, true), 3);

    const { events } = await registry.readEvents(start.lastId, 1_000);
    for (const pool of pools) {
      assert.deepEqual(
        events.filter((event) => event.pool === pool).map((event) => event.type),
        ['registered', 'registered', 'expired', 'reserved', 'confirmed', 'drain'],
        `events of ${pool}`,
      );
    }
    for (const reservation of reservations) {
      assert.equal(await registry.release(reservation.workerId, reservation.token), true);
    }
  } finally {
    await registry.close();
    await deleteKeys(keyPrefix);
  }
});

test('cluster library is loaded on every primary', async () => {
  const keyPrefix = `library-${randomUUID()}:`;
  const pools = await poolsOnEveryNode(keyPrefix);
  const registry = await openRegistry(server().url, { keyPrefix });
  try {
    for (const node of server().nodes) {
      const libraries = (await callNode(node.port, 'FUNCTION', 'LIST')) as unknown[];
      assert.equal(libraries.length, 1, `library on node ${node.port}`);
    }
    // A node that lost its functions gets them again at the first "Function not found".
    const pool = pools[0] ?? '';
    const port = await ownerOf(`${keyPrefix}{${pool}}:expiry`);
    assert.equal(await callNode(port, 'FUNCTION', 'FLUSH'), 'OK');
    await registry.register(worker('w1', { pool }));
    assert.equal((await registry.reserve(reserveRequest('c1', { pool })))?.workerId, 'w1');
    assert.equal(((await callNode(port, 'FUNCTION', 'LIST')) as unknown[]).length, 1);
  } finally {
    await registry.close();
    await deleteKeys(keyPrefix);
  }
});
