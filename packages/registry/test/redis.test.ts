import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createLogger } from '@voxfleet/logger';
import { openRegistry } from '../src/index.js';
import { runContractSuite, reserveRequest, worker } from './contract.js';
import { startTestRedis, type TestRedis } from './redis-server.js';

let redis: TestRedis | undefined;

function server(): TestRedis {
  assert.ok(redis, 'redis-server did not start');
  return redis;
}

before(async () => {
  redis = await startTestRedis();
});

after(async () => {
  await redis?.dispose();
});

/** Returns a store factory on the shared server, each store under its own key prefix. */
function redisStore(options: { maxBatch?: number } = {}) {
  return async () => {
    const keyPrefix = `test-${randomUUID()}:`;
    return {
      open: () => openRegistry(server().url, { keyPrefix, ...options }),
      cleanup: async () => {
        const client = new Redis(server().url);
        try {
          const keys = await client.keys(`${keyPrefix}*`);
          if (keys.length > 0) await client.del(...keys);
        } finally {
          client.disconnect();
        }
      },
    };
  };
}

runContractSuite('redis', redisStore());
// The same contract with every operation sent on its own.
runContractSuite('redis unbatched', redisStore({ maxBatch: 1 }));

test('redis keys of a pool share a hash tag', async () => {
  const keyPrefix = `tag-${randomUUID()}:`;
  const registry = await openRegistry(server().url, { keyPrefix });
  const client = new Redis(server().url);
  try {
    await registry.register(worker('w1', { pool: 'blue' }));
    // Every key of the pool exists from the first registration on, and stays after the
    // last worker leaves, so a Cluster that moves the pool's hash slot finds them all.
    await registry.deregister('w1');
    const keys = (await client.keys(`${keyPrefix}*`)).sort();
    assert.deepEqual(keys, [
      `${keyPrefix}pools`,
      `${keyPrefix}{blue}:deadlines`,
      `${keyPrefix}{blue}:events`,
      `${keyPrefix}{blue}:expiry`,
      `${keyPrefix}{blue}:fence`,
      `${keyPrefix}{blue}:holders`,
      `${keyPrefix}{blue}:idle`,
      `${keyPrefix}{blue}:workers`,
    ]);
    assert.deepEqual(await registry.list('blue'), []);
    assert.equal(await registry.reserve(reserveRequest('c1', { pool: 'blue' })), null);
  } finally {
    client.disconnect();
    await registry.close();
  }
});

test('redis small sorted sets stay skiplists', async () => {
  const keyPrefix = `encoding-${randomUUID()}:`;
  const registry = await openRegistry(server().url, { keyPrefix });
  const client = new Redis(server().url);
  try {
    await registry.register(worker('w1', { labels: { lang: 'en' } }));
    const reservation = await registry.reserve(reserveRequest('c1'));
    assert.ok(reservation);
    assert.equal(await registry.release(reservation.workerId, reservation.token), true);
    for (const name of ['idle', 'holders', 'deadlines']) {
      const encoding = await client.object('ENCODING', `${keyPrefix}{default}:${name}`);
      assert.equal(encoding, 'skiplist', `${name} is a ${String(encoding)}`);
    }
    assert.deepEqual(
      (await registry.list()).map((slot) => [slot.workerId, slot.state]),
      [['w1', 'idle']],
    );
  } finally {
    client.disconnect();
    await registry.close();
  }
});

test('redis events skip malformed stream entries', async () => {
  const keyPrefix = `malformed-${randomUUID()}:`;
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ service: 'test', destination });
  const registry = await openRegistry(server().url, { keyPrefix, logger });
  const client = new Redis(server().url);
  try {
    await registry.register(worker('w1'));
    const stream = `${keyPrefix}{default}:events`;
    const written = [
      await client.xadd(stream, '*', 'events', 'reserved\u001fw1'),
      await client.xadd(stream, '*', 'note', 'written by hand'),
      await client.xadd(
        stream,
        '*',
        'events',
        'confirmed\u001fw1\u001fh\u001fc9\u001fnot-a-fence\u001f\u001f',
      ),
    ];
    await registry.reserve(reserveRequest('c1'));
    for (let read = 0; read < 2; read += 1) {
      const page = await registry.readEvents(null, 100);
      assert.deepEqual(
        page.events.map((event) => [event.type, event.callId]),
        [
          ['registered', undefined],
          ['reserved', 'c1'],
        ],
      );
    }
    const warnings = lines.map((line) => JSON.parse(line) as { msg: string; entryId: string });
    assert.deepEqual(
      warnings.map((warning) => [warning.msg, warning.entryId]),
      written.map((id) => ['registry skipped a malformed event', id]),
    );
  } finally {
    client.disconnect();
    await registry.close();
  }
});

test('redis default key prefix is voxfleet', async () => {
  const registry = await openRegistry(server().url);
  const client = new Redis(server().url);
  try {
    await registry.register(worker('prefix-check', { pool: 'prefix-check' }));
    assert.equal(await client.hexists('voxfleet:{prefix-check}:workers', 'w:prefix-check'), 1);
    await registry.deregister('prefix-check');
  } finally {
    await client.del('voxfleet:pools', 'voxfleet:{prefix-check}:workers');
    client.disconnect();
    await registry.close();
  }
});

test('redis expiry uses the server clock', async () => {
  const registry = await openRegistry(server().url, { keyPrefix: `clock-${randomUUID()}:` });
  const client = new Redis(server().url);
  try {
    const [seconds, micros] = await client.time();
    const serverNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    await registry.register(worker('w1', { ttlMs: 10_000 }));
    const reservation = await registry.reserve(reserveRequest('c1', { reservationTtlMs: 5_000 }));
    assert.ok(reservation);
    assert.ok(Math.abs(reservation.deadline - (serverNow + 5_000)) < 1_000);
    const expiresAt = (await registry.list())[0]?.expiresAt ?? 0;
    assert.ok(Math.abs(expiresAt - (serverNow + 10_000)) < 1_000);
  } finally {
    client.disconnect();
    await registry.close();
  }
});

test('redis unreachable server is unavailable', async () => {
  // Port 1 on loopback has no listener, so the connection is refused at once.
  await assert.rejects(openRegistry('redis://127.0.0.1:1', { connectTimeoutMs: 1_000 }), {
    code: 'REGISTRY_UNAVAILABLE',
    retryable: true,
  });
});

test('redis restart loses state until workers re-register', async () => {
  const registry = await openRegistry(server().url, { keyPrefix: `restart-${randomUUID()}:` });
  try {
    await registry.register(worker('w1'));
    await registry.register(worker('w2'));
    const before = await registry.reserve(reserveRequest('c1'));
    assert.ok(before);
    assert.equal(await registry.release('w1', before.token), true);
    const running = await registry.reserve(reserveRequest('running'));
    assert.ok(running);
    assert.equal(await registry.confirm(running.workerId, running.token), 'confirmed');

    await server().stop();
    await assert.rejects(registry.reserve(reserveRequest('c2')), {
      code: 'REGISTRY_UNAVAILABLE',
      retryable: true,
    });
    await server().start();

    // The restarted server has no keys and no scripts; the client reconnects by itself.
    let heartbeat: boolean | undefined;
    for (let attempt = 0; attempt < 50 && heartbeat === undefined; attempt += 1) {
      try {
        heartbeat = await registry.heartbeat('w1', 60_000);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    assert.equal(heartbeat, false, 'heartbeat tells the worker to register again');
    assert.equal(await registry.reserve(reserveRequest('c3')), null);

    // Both workers register again; the one with a call running re-asserts it.
    const idleWorker = running.workerId === 'w1' ? 'w2' : 'w1';
    await registry.register(worker(idleWorker));
    await registry.register(
      worker(running.workerId, {
        activeReservation: { token: running.token, fence: running.fence, callId: 'running' },
      }),
    );
    const states = (await registry.list()).map((slot) => `${slot.workerId}:${slot.state}`);
    assert.deepEqual(states.sort(), [`${idleWorker}:idle`, `${running.workerId}:busy`].sort());
    const after = await registry.reserve(reserveRequest('c4'));
    assert.ok(after);
    assert.equal(after.workerId, idleWorker);
    assert.ok(after.fence > running.fence, `fence ${after.fence} after ${running.fence}`);
    assert.equal(await registry.release(running.workerId, running.token), true);
  } finally {
    await registry.close();
  }
});

test('redis reserve skips and expires a dead idle worker', async () => {
  const registry = await openRegistry(server().url, { keyPrefix: `dead-${randomUUID()}:` });
  try {
    // w1 comes first in id order, so the reserve meets it before w2.
    await registry.register(worker('w1', { ttlMs: 200 }));
    await registry.register(worker('w2'));
    const start = await registry.readEvents(null, 100);
    await sleep(400);

    const reservation = await registry.reserve(reserveRequest('c1'));
    assert.equal(reservation?.workerId, 'w2');
    const { events } = await registry.readEvents(start.lastId, 100);
    assert.deepEqual(
      events.map((event) => `${event.type}:${event.workerId}`),
      ['expired:w1', 'reserved:w2'],
    );
    assert.deepEqual(await registry.reap(), [], 'the expiry is reported once');
    assert.equal(await registry.heartbeat('w1', 60_000), false);
  } finally {
    await registry.close();
  }
});

test('redis reserve sweeps lapses only when the pool is full', async () => {
  const registry = await openRegistry(server().url, { keyPrefix: `lapse-${randomUUID()}:` });
  try {
    await registry.register(worker('w1'));
    await registry.register(worker('w2'));
    const lapsing = await registry.reserve(reserveRequest('c1', { reservationTtlMs: 150 }));
    assert.equal(lapsing?.workerId, 'w1');
    const start = await registry.readEvents(null, 100);
    await sleep(300);

    // An idle worker is left, so this reserve does not need the lapsed slot.
    const second = await registry.reserve(reserveRequest('c2'));
    assert.equal(second?.workerId, 'w2');
    let { events } = await registry.readEvents(start.lastId, 100);
    assert.deepEqual(
      events.map((event) => event.type),
      ['reserved'],
    );

    // The pool is full now, so the reserve sweeps and takes the lapsed slot.
    const third = await registry.reserve(reserveRequest('c3'));
    assert.equal(third?.workerId, 'w1');
    assert.ok(lapsing);
    assert.ok(third);
    assert.ok(third.fence > lapsing.fence);
    ({ events } = await registry.readEvents(start.lastId, 100));
    assert.deepEqual(
      events.map((event) => `${event.type}:${event.callId}`),
      ['reserved:c2', 'reservation-lapsed:c1', 'reserved:c3'],
    );
    assert.equal(await registry.confirm('w1', lapsing?.token ?? ''), 'token-mismatch');
  } finally {
    await registry.close();
  }
});

test('redis quota at its limit is counted after a sweep', async () => {
  const registry = await openRegistry(server().url, { keyPrefix: `quota-${randomUUID()}:` });
  const quotas = { tenant: { id: 't1', limit: 1 } };
  try {
    await registry.register(worker('w1'));
    await registry.register(worker('w2'));
    const lapsing = await registry.reserve(reserveRequest('c1', { reservationTtlMs: 150, quotas }));
    assert.ok(lapsing);
    await assert.rejects(registry.reserve(reserveRequest('c2', { quotas })), {
      code: 'REGISTRY_QUOTA_EXCEEDED',
    });
    await sleep(300);
    // The lapsed reservation still has its holder entry until this reserve sweeps it.
    const next = await registry.reserve(reserveRequest('c3', { quotas }));
    // The sweep put w1 back in idle, and it comes first in id order.
    assert.equal(next?.workerId, 'w1');
    assert.equal(await registry.confirm('w1', lapsing.token), 'token-mismatch');
    await assert.rejects(registry.reserve(reserveRequest('c4', { quotas })), {
      code: 'REGISTRY_QUOTA_EXCEEDED',
    });
  } finally {
    await registry.close();
  }
});

test('redis functions are loaded again after a flush', async () => {
  const registry = await openRegistry(server().url, { keyPrefix: `flush-${randomUUID()}:` });
  const client = new Redis(server().url);
  try {
    await registry.register(worker('w1'));
    assert.equal(await client.call('FUNCTION', 'FLUSH'), 'OK');
    const reservation = await registry.reserve(reserveRequest('c1'));
    assert.equal(reservation?.workerId, 'w1');
    const libraries = (await client.call('FUNCTION', 'LIST')) as unknown[];
    assert.equal(libraries.length, 1);
  } finally {
    client.disconnect();
    await registry.close();
  }
});
