/**
 * The Redis `batch` function keeps its scratch tables (operation lists, replies, pass
 * buffers, pending events and cached holders prefixes) from one FCALL to the next. These
 * tests send batches straight to the function, with sizes that change a lot from one call
 * to the next. Each batch is compared with the same operations run one at a time, in the
 * order that `run_order` gives, through each operation's own function on a second pool
 * with the same workers (a twin).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import {
  openRegistry,
  RegistryQuotaExceededError,
  type CapacityRegistry,
  type Reservation,
  type ReserveRequest,
  type SlotEvent,
} from '../src/index.js';
import { LIBRARY_NAME, LIBRARY_SOURCE, POOL_KEY_NAMES } from '../src/redis/scripts.js';
import { startTestRedis, useTestRedis } from './redis-server.js';

/** TTL of workers and reservations that must not expire while a test runs. */
const LONG_MS = 600_000;
const EVENT_SEPARATOR = '\x1e';
const PART_SEPARATOR = '\x1f';

const { server, client } = useTestRedis((admin) => admin.function('LOAD', LIBRARY_SOURCE));

// ---------------------------------------------------------------------------------------
// Pools and operations, sent to the library's functions without the registry client.

/** One pool's keys on a test server. */
interface Pool {
  connection: Redis;
  name: string;
  keys: string[];
}

type PoolKeyName = (typeof POOL_KEY_NAMES)[number];

function newPool(connection = client()): Pool {
  const prefix = `reuse-${randomUUID()}:`;
  const name = 'p';
  return {
    connection,
    name,
    keys: POOL_KEY_NAMES.map((suffix) => `${prefix}{${name}}:${suffix}`),
  };
}

function keyOf(pool: Pool, name: PoolKeyName): string {
  const key = pool.keys[POOL_KEY_NAMES.indexOf(name)];
  assert.ok(key !== undefined, `no key ${name}`);
  return key;
}

async function callFunction(pool: Pool, name: string, args: string[]): Promise<unknown> {
  return pool.connection.fcall(
    `${LIBRARY_NAME}_${name}`,
    pool.keys.length,
    ...pool.keys,
    '10000',
    pool.name,
    ...args,
  );
}

/** One operation of a batch: its name and its arguments, as `send()` lays them out. */
interface Operation {
  name: string;
  args: string[];
}

interface ReserveOptions {
  labels?: Record<string, string>;
  tenantId?: string;
  campaignId?: string;
  tenantLimit?: number;
  campaignLimit?: number;
  ttlMs?: number;
}

function tokenOf(callId: string): string {
  return `token-${callId}`;
}

function reserveOp(callId: string, options: ReserveOptions = {}): Operation {
  return {
    name: 'reserve',
    args: [
      callId,
      String(options.ttlMs ?? LONG_MS),
      tokenOf(callId),
      JSON.stringify(options.labels ?? {}),
      options.tenantId ?? '',
      options.campaignId ?? '',
      String(options.tenantLimit ?? -1),
      String(options.campaignLimit ?? -1),
    ],
  };
}

function confirmOp(workerId: string, token: string): Operation {
  return { name: 'confirm', args: [workerId, token] };
}

function releaseOp(workerId: string, token: string): Operation {
  return { name: 'release', args: [workerId, token] };
}

function encodeBatch(operations: Operation[]): string[] {
  return operations.flatMap((operation) => [
    operation.name,
    String(operation.args.length),
    ...operation.args,
  ]);
}

async function runBatch(pool: Pool, operations: Operation[]): Promise<unknown[]> {
  const reply = await callFunction(pool, 'batch', encodeBatch(operations));
  assert.ok(Array.isArray(reply), `batch reply is not an array: ${String(reply)}`);
  return reply;
}

const BATCHABLE = new Set(['reserve', 'confirm', 'release']);

/** Runs one operation through its own function, as the batch function runs it alone. */
async function runAlone(pool: Pool, operation: Operation): Promise<unknown> {
  if (!BATCHABLE.has(operation.name)) {
    return ['error', `not a batch operation: ${operation.name}`];
  }
  return callFunction(pool, operation.name, operation.args);
}

/**
 * Returns the indexes of the operations in the order the batch function runs them:
 * operations it cannot batch, then confirms, releases and reserves, each in the order
 * given. A batch of one kind, or one where two confirms or releases name one worker, runs
 * in the order given.
 */
function runOrder(operations: Operation[]): number[] {
  const inGivenOrder = operations.map((_, index) => index);
  const mixed = operations.some((operation) => operation.name !== operations[0]?.name);
  const named = new Set<string>();
  let twice = false;
  for (const operation of operations) {
    if (operation.name !== 'confirm' && operation.name !== 'release') continue;
    const workerId = operation.args[0] ?? '';
    if (named.has(workerId)) twice = true;
    named.add(workerId);
  }
  if (!mixed || twice) return inGivenOrder;
  const kinds = ['confirm', 'release', 'reserve'];
  const others = inGivenOrder.filter((index) => !kinds.includes(operations[index]?.name ?? ''));
  const byKind = kinds.flatMap((kind) =>
    inGivenOrder.filter((index) => operations[index]?.name === kind),
  );
  return [...others, ...byKind];
}

interface WorkerSpec {
  id: string;
  labels?: Record<string, string>;
  ttlMs?: number;
}

/** `idle` member prefixes of the labels, as the client computes them for `register`. */
function labelPrefixes(labels: Record<string, string>): string {
  const prefixes = Object.entries(labels).map(
    ([key, value]) => `l${Buffer.byteLength(key)}:${key}${Buffer.byteLength(value)}:${value}`,
  );
  return prefixes.length === 0 ? '' : JSON.stringify(prefixes);
}

async function registerWorker(pool: Pool, spec: WorkerSpec): Promise<void> {
  const labels = spec.labels ?? {};
  const reply = await callFunction(pool, 'register', [
    spec.id,
    `http://127.0.0.1:7801/${spec.id}`,
    'host-a',
    JSON.stringify(labels),
    labelPrefixes(labels),
    String(spec.ttlMs ?? LONG_MS),
    '',
  ]);
  assert.equal(reply, 1, `register ${spec.id}`);
}

async function serverTimeMs(connection = client()): Promise<number> {
  const [seconds, micros] = (await connection.time()) as [string | number, string | number];
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

async function fenceCounter(pool: Pool): Promise<number> {
  return Number(await pool.connection.get(keyOf(pool, 'fence')));
}

async function lastEntryId(pool: Pool): Promise<string> {
  const entries = await pool.connection.xrevrange(keyOf(pool, 'events'), '+', '-', 'COUNT', 1);
  return entries[0]?.[0] ?? '0-0';
}

/**
 * Returns the events written after the stream entry `entryId`, each split into its parts:
 * type, workerId and host, then callId, fence, tenantId and campaignId for an event about
 * a reservation.
 */
async function eventsAfter(pool: Pool, entryId: string): Promise<string[][]> {
  const entries = await pool.connection.xrange(keyOf(pool, 'events'), `(${entryId}`, '+');
  return entries.flatMap(([id, fields]) => {
    assert.equal(fields[0], 'events', `stream entry ${id} has no events field`);
    return (fields[1] ?? '').split(EVENT_SEPARATOR).map((event) => event.split(PART_SEPARATOR));
  });
}

function eventTypes(events: string[][]): string[] {
  return events.map((parts) => parts[0] ?? '');
}

/** A worker as the `list` function returns it, with every field a string. */
type WorkerRecord = Record<string, string>;

async function listWorkers(pool: Pool): Promise<WorkerRecord[]> {
  const [, ...workers] = (await callFunction(pool, 'list', [])) as [number, ...string[][]];
  return workers.map((fields) => {
    const record: WorkerRecord = {};
    for (let i = 0; i + 1 < fields.length; i += 2) {
      record[fields[i] ?? ''] = fields[i + 1] ?? '';
    }
    return record;
  });
}

/** Live reservations (reserved or busy) per tenant id and per campaign id. */
function quotaCounts(workers: WorkerRecord[]): {
  tenants: Map<string, number>;
  campaigns: Map<string, number>;
} {
  const tenants = new Map<string, number>();
  const campaigns = new Map<string, number>();
  for (const worker of workers) {
    if (worker.state !== 'reserved' && worker.state !== 'busy') continue;
    const tenantId = worker.tenantId ?? '';
    const campaignId = worker.campaignId ?? '';
    if (tenantId !== '') tenants.set(tenantId, (tenants.get(tenantId) ?? 0) + 1);
    if (campaignId !== '') campaigns.set(campaignId, (campaigns.get(campaignId) ?? 0) + 1);
  }
  return { tenants, campaigns };
}

// ---------------------------------------------------------------------------------------
// Twins: the same workers in two pools, one fed batches, the other single operations.

interface Twin {
  batched: Pool;
  alone: Pool;
  /** Each pool's fence counter after registration; fences are compared relative to it. */
  batchedFenceBase: number;
  aloneFenceBase: number;
}

async function newTwin(workers: WorkerSpec[]): Promise<Twin> {
  const batched = newPool();
  const alone = newPool();
  for (const spec of workers) {
    await registerWorker(batched, spec);
    await registerWorker(alone, spec);
  }
  return {
    batched,
    alone,
    batchedFenceBase: await fenceCounter(batched),
    aloneFenceBase: await fenceCounter(alone),
  };
}

/** Returns the reply with its fence made relative to the pool's base and no deadline. */
function normalizeReply(reply: unknown, fenceBase: number): unknown {
  if (Array.isArray(reply) && reply[0] === 'reserved') {
    return ['reserved', reply[1], reply[2], Number(reply[3]) - fenceBase];
  }
  return reply;
}

function normalizeEvent(parts: string[], fenceBase: number): string[] {
  const copy = [...parts];
  if (copy.length > 4) copy[4] = String(Number(copy[4]) - fenceBase);
  return copy;
}

/** Returns the pool's workers and sorted-set members, with fences relative to its base. */
async function poolState(pool: Pool, fenceBase: number): Promise<unknown> {
  const workers = (await listWorkers(pool)).map((worker) => {
    const rest = { ...worker };
    delete rest.expiresAt;
    delete rest.deadline;
    if (rest.fence !== undefined && rest.fence !== '0') {
      rest.fence = String(Number(rest.fence) - fenceBase);
    }
    return rest;
  });
  // list returns workers in expiry order, which differs between the pools.
  workers.sort((a, b) => ((a.workerId ?? '') < (b.workerId ?? '') ? -1 : 1));
  // Scores are server times, which differ between the pools, so members are compared as sets.
  const members = async (name: PoolKeyName) =>
    (await pool.connection.zrange(keyOf(pool, name), 0, -1)).sort();
  return {
    workers,
    idle: await members('idle'),
    holders: await members('holders'),
    deadlines: await members('deadlines'),
    expiry: await members('expiry'),
  };
}

async function assertSameState(twin: Twin, message: string): Promise<void> {
  assert.deepEqual(
    await poolState(twin.batched, twin.batchedFenceBase),
    await poolState(twin.alone, twin.aloneFenceBase),
    message,
  );
}

function describeOperation(index: number, operation: Operation | undefined): string {
  return `operation ${index}: ${operation?.name} ${operation?.args.join(' ')}`;
}

/**
 * Runs the operations as one batch on the twin's batched pool and one at a time, in run
 * order, on its other pool, and checks that replies, events and (with `compareState`) the
 * pools' state agree. Returns the batch's replies.
 */
async function runBoth(
  twin: Twin,
  operations: Operation[],
  compareState = false,
): Promise<unknown[]> {
  const batchedStart = await lastEntryId(twin.batched);
  const aloneStart = await lastEntryId(twin.alone);
  const startedAt = await serverTimeMs();
  const replies = await runBatch(twin.batched, operations);
  const endedAt = await serverTimeMs();
  assert.equal(replies.length, operations.length, 'batch returned one reply per operation');

  const aloneReplies: unknown[] = new Array<unknown>(operations.length);
  for (const index of runOrder(operations)) {
    const operation = operations[index];
    assert.ok(operation !== undefined);
    aloneReplies[index] = await runAlone(twin.alone, operation);
  }
  operations.forEach((operation, index) => {
    assert.deepEqual(
      normalizeReply(replies[index], twin.batchedFenceBase),
      normalizeReply(aloneReplies[index], twin.aloneFenceBase),
      describeOperation(index, operation),
    );
    const reply = replies[index];
    if (Array.isArray(reply) && reply[0] === 'reserved') {
      // Every operation of a batch runs at the batch's one server time.
      const reservedAt = Number(reply[4]) - Number(operation.args[1]);
      assert.ok(
        reservedAt >= startedAt && reservedAt <= endedAt,
        `${describeOperation(index, operation)}: deadline ${reply[4]} is not its TTL after ` +
          `a time from ${startedAt} to ${endedAt}`,
      );
    }
  });

  assert.deepEqual(
    (await eventsAfter(twin.batched, batchedStart)).map((parts) =>
      normalizeEvent(parts, twin.batchedFenceBase),
    ),
    (await eventsAfter(twin.alone, aloneStart)).map((parts) =>
      normalizeEvent(parts, twin.aloneFenceBase),
    ),
    'events of the batch and of the operations run alone',
  );
  if (compareState) await assertSameState(twin, 'state after the batch');
  return replies;
}

function workerSpecs(count: number, prefix = 'w'): WorkerSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${String(i).padStart(3, '0')}`,
  }));
}

/** Returns the reserve reply's worker id, failing the test for any other reply. */
function reservedWorker(reply: unknown): string {
  assert.ok(Array.isArray(reply), `reply ${JSON.stringify(reply)} is not an array`);
  assert.equal(reply[0], 'reserved', `reply ${JSON.stringify(reply)}`);
  return String(reply[1]);
}

// ---------------------------------------------------------------------------------------
// Batches of changing size and shape.

test('small batch after a large one', async () => {
  const twin = await newTwin(workerSpecs(50));
  const firstReplies = await runBoth(
    twin,
    Array.from({ length: 13 }, (_, i) => reserveOp(`first${i}`)),
  );
  const heldIds = firstReplies.map(reservedWorker);

  const big: Operation[] = [
    ...Array.from({ length: 24 }, (_, i) =>
      reserveOp(`big${i}`, { labels: i % 6 === 0 ? { lang: 'en' } : {} }),
    ),
    ...heldIds.slice(0, 6).map((id, i) => confirmOp(id, tokenOf(`first${i}`))),
    ...heldIds.slice(6, 12).map((id, i) => releaseOp(id, tokenOf(`first${i + 6}`))),
    confirmOp(heldIds[12] ?? '', 'wrong-token'),
    releaseOp('ghost', 'token'),
    { name: 'drop', args: [] },
    { name: 'peek', args: ['x', 'y'] },
  ];
  // Shuffle deterministically so kinds interleave.
  const shuffled = big.map((operation, i) => ({ operation, key: (i * 17) % big.length }));
  shuffled.sort((a, b) => a.key - b.key);
  const bigReplies = await runBoth(
    twin,
    shuffled.map((entry) => entry.operation),
    true,
  );
  assert.equal(bigReplies.length, 40);
  assert.ok(bigReplies.includes('token-mismatch'));

  const small = await runBoth(
    twin,
    [reserveOp('small1'), releaseOp(heldIds[0] ?? '', tokenOf('first0'))],
    true,
  );
  assert.equal(small.length, 2);
  reservedWorker(small[0]);
  assert.equal(small[1], 1);

  const singleReplies = await runBoth(twin, [reserveOp('one')], true);
  assert.equal(singleReplies.length, 1);
  reservedWorker(singleReplies[0]);

  const none = await runBatch(twin.batched, []);
  assert.deepEqual(none, []);

  const confirmOnly = await runBoth(twin, [confirmOp(heldIds[1] ?? '', tokenOf('first1'))], true);
  assert.deepEqual(confirmOnly, ['confirmed']);
});

test('malformed batch changes nothing', async () => {
  const twin = await newTwin(workerSpecs(80));
  await runBoth(
    twin,
    Array.from({ length: 60 }, (_, i) => reserveOp(`first${i}`)),
    true,
  );
  const start = await lastEntryId(twin.batched);
  const before = await poolState(twin.batched, twin.batchedFenceBase);

  const valid = Array.from({ length: 70 }, (_, i) => reserveOp(`never${i}`));
  const malformedTails: string[][] = [
    ['confirm', '5', 'w000', 'token'],
    ['confirm', '2', 'w000'],
    ['reserve', '7', ...Array.from({ length: 7 }, () => 'x')],
    ['drop', '-1'],
    ['drop', '1.5'],
    ['drop', 'many', 'x'],
  ];
  for (const tail of malformedTails) {
    await assert.rejects(
      callFunction(twin.batched, 'batch', [...encodeBatch(valid), ...tail]),
      /malformed batch at argument/,
      JSON.stringify(tail),
    );
  }
  assert.deepEqual(await eventsAfter(twin.batched, start), [], 'no events');
  assert.deepEqual(await poolState(twin.batched, twin.batchedFenceBase), before, 'no change');

  const replies = await runBoth(
    twin,
    [reserveOp('after1'), reserveOp('after2'), releaseOp('w000', tokenOf('first0'))],
    true,
  );
  assert.equal(replies.length, 3);
  assert.equal(replies[2], 1);
});

test('batch ending in a bare name', async () => {
  // An operation name as the last argument, with no argument count after it, is malformed,
  // whether or not the batch function batches that name.
  const pool = newPool();
  await registerWorker(pool, { id: 'w1' });
  for (const name of ['confirm', 'drop']) {
    await assert.rejects(
      callFunction(pool, 'batch', [...encodeBatch([reserveOp('c1')]), name]),
      /malformed batch at argument 13/,
      name,
    );
  }
  const [worker] = await listWorkers(pool);
  assert.equal(worker?.state, '', 'the reserve before it did not run');
});

test('pass failing part way', async () => {
  // Deadlines of the wrong type: reserve_many fails at ZADD after writing the records.
  const brokenDeadlines = newPool();
  for (const spec of workerSpecs(30)) await registerWorker(brokenDeadlines, spec);
  await brokenDeadlines.connection.del(keyOf(brokenDeadlines, 'deadlines'));
  await brokenDeadlines.connection.set(keyOf(brokenDeadlines, 'deadlines'), 'not-a-sorted-set');

  // Holders of the wrong type, after some reservations: release_many fails at ZREM.
  const brokenHolders = newPool();
  for (const spec of workerSpecs(30)) await registerWorker(brokenHolders, spec);
  const heldReplies = await runBatch(
    brokenHolders,
    Array.from({ length: 6 }, (_, i) => reserveOp(`h${i}`, { tenantId: 'T', campaignId: 'C' })),
  );
  const heldIds = heldReplies.map(reservedWorker);
  await brokenHolders.connection.del(keyOf(brokenHolders, 'holders'));
  await brokenHolders.connection.set(keyOf(brokenHolders, 'holders'), 'not-a-sorted-set');

  const twin = await newTwin([
    ...workerSpecs(40),
    ...workerSpecs(10, 'en').map((spec) => ({ ...spec, labels: { lang: 'en' } })),
  ]);
  const reservations: { workerId: string; callId: string }[] = [];
  const sizes = [40, 2, 1, 7, 64, 3];
  for (const [round, size] of sizes.entries()) {
    const deadlinesStart = await lastEntryId(brokenDeadlines);
    const failedReserves = await runBatch(
      brokenDeadlines,
      Array.from({ length: 5 }, (_, i) => reserveOp(`bad${round}-${i}`)),
    );
    assert.equal(failedReserves.length, 5);
    for (const reply of failedReserves) {
      assert.ok(Array.isArray(reply), JSON.stringify(reply));
      assert.equal(reply[0], 'error');
      assert.match(String(reply[1]), /WRONGTYPE/);
    }
    assert.deepEqual(await eventsAfter(brokenDeadlines, deadlinesStart), [], 'no events');

    // The first pass wrote the records before it failed, so later releases find nothing
    // to release, as they would one at a time.
    const failedReleases = await runBatch(
      brokenHolders,
      heldIds.map((id, i) => releaseOp(id, tokenOf(`h${i}`))),
    );
    assert.equal(failedReleases.length, heldIds.length);
    for (const reply of failedReleases) {
      if (round > 0) {
        assert.equal(reply, 0);
        continue;
      }
      assert.ok(Array.isArray(reply), JSON.stringify(reply));
      assert.equal(reply[0], 'error');
      assert.match(String(reply[1]), /WRONGTYPE/);
    }

    // A healthy pool: half reserves, a quarter confirms and a quarter releases.
    const operations: Operation[] = [];
    for (let i = 0; i < size; i += 1) {
      const reservation = reservations[i];
      if (i % 4 === 1 && reservation)
        operations.push(confirmOp(reservation.workerId, tokenOf(reservation.callId)));
      else if (i % 4 === 3 && reservation)
        operations.push(releaseOp(reservation.workerId, tokenOf(reservation.callId)));
      else operations.push(reserveOp(`ok${round}-${i}`, { tenantId: i % 3 === 0 ? 'T' : '' }));
    }
    const replies = await runBoth(twin, operations, true);
    replies.forEach((reply, i) => {
      const operation = operations[i];
      if (operation?.name === 'reserve' && Array.isArray(reply) && reply[0] === 'reserved') {
        reservations.push({ workerId: String(reply[1]), callId: operation.args[0] ?? '' });
      }
    });
  }
});

test('replies after a batch that raises', async () => {
  // The final XADD of a batch fails when the events key has the wrong type, so the FCALL
  // raises after it has filled its reply table. The next, smaller batch must still return
  // exactly one reply per operation, without the stale replies after its own.
  const own = await startTestRedis();
  const connection = new Redis(own.url);
  try {
    await connection.function('LOAD', LIBRARY_SOURCE);
    const healthy = newPool(connection);
    const broken = newPool(connection);
    for (const spec of workerSpecs(4)) await registerWorker(healthy, spec);
    for (const spec of workerSpecs(4, 'other')) await registerWorker(broken, spec);

    const first = await runBatch(healthy, [reserveOp('c1'), reserveOp('c2')]);
    assert.equal(first.length, 2);

    await connection.del(keyOf(broken, 'events'));
    await connection.set(keyOf(broken, 'events'), 'not-a-stream');
    const failing = [
      reserveOp('other-call'),
      ...Array.from({ length: 39 }, (): Operation => ({ name: 'drop', args: [] })),
    ];
    await assert.rejects(runBatch(broken, failing), /WRONGTYPE/);

    const replies = await runBatch(healthy, [reserveOp('c3'), releaseOp('w000', tokenOf('c1'))]);
    assert.equal(
      replies.length,
      2,
      `a batch of 2 returned ${replies.length} replies: ${JSON.stringify(replies.slice(2, 4))}...`,
    );
    // The release runs first, so the reserve takes the worker it frees.
    assert.equal(reservedWorker(replies[0]), 'w000');
    assert.equal(replies[1], 1);
  } finally {
    connection.disconnect();
    await own.dispose();
  }
});

test('runs above 100 operations', async () => {
  const twin = await newTwin(workerSpecs(250));
  const reserves = Array.from({ length: 150 }, (_, i) => reserveOp(`r${i}`));
  const reserved = await runBoth(twin, reserves, true);
  const ids = reserved.map(reservedWorker);
  assert.equal(new Set(ids).size, 150, 'distinct workers');
  const fences = reserved.map((reply) => Number((reply as unknown[])[3]));
  fences.forEach((fence, i) => {
    assert.equal(fence, twin.batchedFenceBase + i + 1, `fence of reserve ${i}`);
  });

  const confirmed = await runBoth(
    twin,
    ids.map((id, i) => confirmOp(id, tokenOf(`r${i}`))),
    true,
  );
  assert.deepEqual(new Set(confirmed), new Set(['confirmed']));

  // 101 releases where the last names the first one's worker again: one pass of 100, then
  // a release that finds nothing to release.
  const start = await lastEntryId(twin.batched);
  const releases = ids.slice(0, 100).map((id, i) => releaseOp(id, tokenOf(`r${i}`)));
  releases.push(releaseOp(ids[0] ?? '', tokenOf('r0')));
  const released = await runBoth(twin, releases, true);
  assert.deepEqual(released, [...Array.from({ length: 100 }, () => 1), 0]);
  const events = await eventsAfter(twin.batched, start);
  assert.deepEqual(
    eventTypes(events),
    Array.from({ length: 100 }, () => 'released'),
  );

  // 230 mixed operations: 130 reserves after 50 confirms and 50 releases.
  const mixed: Operation[] = [];
  for (let i = 0; i < 130; i += 1) mixed.push(reserveOp(`m${i}`));
  for (let i = 100; i < 150; i += 1) mixed.push(releaseOp(ids[i] ?? '', tokenOf(`r${i}`)));
  for (let i = 0; i < 50; i += 1) mixed.push(confirmOp(`w${String(200 + i)}`, 'no-token'));
  const mixedReplies = await runBoth(twin, mixed, true);
  assert.equal(mixedReplies.filter((reply) => reply === 1).length, 50);
  assert.equal(mixedReplies.filter((reply) => reply === 'token-mismatch').length, 50);
  assert.equal(
    mixedReplies.filter((reply) => Array.isArray(reply) && reply[0] === 'reserved').length,
    130,
  );
});

/** Returns the number of events in each stream entry written after `entryId`. */
async function entrySizes(pool: Pool, entryId: string): Promise<number[]> {
  const entries = await pool.connection.xrange(keyOf(pool, 'events'), `(${entryId}`, '+');
  return entries.map(([, fields]) => (fields[1] ?? '').split(EVENT_SEPARATOR).length);
}

test('batch of over 1000 events', async () => {
  // A batch writes its events as one stream entry, or one entry per 1,000 events.
  const twin = await newTwin(workerSpecs(1100));
  const start = await lastEntryId(twin.batched);
  const reserves = Array.from({ length: 1050 }, (_, i) => reserveOp(`r${i}`));
  const replies = await runBoth(twin, reserves);
  assert.equal(new Set(replies.map(reservedWorker)).size, 1050);
  assert.deepEqual(await entrySizes(twin.batched, start), [1000, 50]);

  const next = await lastEntryId(twin.batched);
  const small = await runBoth(
    twin,
    [releaseOp('w000', tokenOf('r0')), confirmOp('w001', tokenOf('r1')), reserveOp('last')],
    true,
  );
  assert.equal(small[0], 1);
  assert.equal(small[1], 'confirmed');
  assert.equal(reservedWorker(small[2]), 'w000');
  assert.deepEqual(await entrySizes(twin.batched, next), [3]);
  assert.deepEqual(eventTypes(await eventsAfter(twin.batched, next)), [
    'confirmed',
    'released',
    'reserved',
  ]);
});

test('labelled and unlabelled reserves mixed', async () => {
  const twin = await newTwin([
    ...workerSpecs(5, 'a'),
    ...workerSpecs(5, 'b').map((spec) => ({ ...spec, labels: { lang: 'en' } })),
    ...workerSpecs(3, 'c').map((spec) => ({ ...spec, labels: { lang: 'de', tier: 'gold' } })),
  ]);
  const en = { labels: { lang: 'en' } };
  const operations = [
    reserveOp('u1'),
    reserveOp('en1', en),
    reserveOp('u2'),
    reserveOp('en2', en),
    reserveOp('u3'),
    reserveOp('fr1', { labels: { lang: 'fr' } }),
    reserveOp('de1', { labels: { tier: 'gold', lang: 'de' } }),
    ...Array.from({ length: 5 }, (_, i) => reserveOp(`tail${i}`)),
  ];
  const replies = await runBoth(twin, operations, true);
  assert.equal(reservedWorker(replies[0]), 'a000');
  assert.equal(reservedWorker(replies[1]), 'b000');
  assert.equal(reservedWorker(replies[2]), 'a001');
  assert.equal(reservedWorker(replies[3]), 'b001');
  assert.equal(reservedWorker(replies[4]), 'a002');
  assert.deepEqual(replies[5], ['none']);
  assert.equal(reservedWorker(replies[6]), 'c000');
  assert.deepEqual(replies.slice(7).map(reservedWorker), ['a003', 'a004', 'b002', 'b003', 'b004']);

  // Every 'en' worker is taken: labelled reserves find none, unlabelled ones take 'c'.
  const second = await runBoth(
    twin,
    [reserveOp('en3', en), reserveOp('u4'), reserveOp('en4', en), reserveOp('u5')],
    true,
  );
  assert.deepEqual(second[0], ['none']);
  assert.equal(reservedWorker(second[1]), 'c001');
  assert.deepEqual(second[2], ['none']);
  assert.equal(reservedWorker(second[3]), 'c002');
});

test('two operations on one worker', async () => {
  const twin = await newTwin(workerSpecs(4));
  const first = await runBoth(twin, [reserveOp('c1'), reserveOp('c2')]);
  assert.deepEqual(first.map(reservedWorker), ['w000', 'w001']);

  const mixed = await runBoth(
    twin,
    [
      releaseOp('w000', tokenOf('c1')),
      confirmOp('w000', tokenOf('c1')),
      confirmOp('w001', tokenOf('c2')),
      reserveOp('c3'),
    ],
    true,
  );
  assert.equal(mixed[0], 1);
  assert.equal(mixed[1], 'token-mismatch');
  assert.equal(mixed[2], 'confirmed');
  assert.equal(reservedWorker(mixed[3]), 'w000');

  const start = await lastEntryId(twin.batched);
  const repeated = await runBoth(
    twin,
    [
      confirmOp('w001', tokenOf('c2')),
      confirmOp('w001', tokenOf('c2')),
      releaseOp('w001', tokenOf('c2')),
      releaseOp('w001', tokenOf('c2')),
    ],
    true,
  );
  assert.deepEqual(repeated, ['confirmed', 'confirmed', 1, 0]);
  assert.deepEqual(eventTypes(await eventsAfter(twin.batched, start)), ['released']);

  const releasesOnly = await runBoth(
    twin,
    [releaseOp('w000', tokenOf('c3')), releaseOp('w000', tokenOf('c3'))],
    true,
  );
  assert.deepEqual(releasesOnly, [1, 0]);
});

test('unknown operations fail alone', async () => {
  const twin = await newTwin(workerSpecs(6));
  const [firstReply] = await runBoth(twin, [reserveOp('c0')]);
  const heldId = reservedWorker(firstReply);

  const mixed = await runBoth(
    twin,
    [
      { name: 'drop', args: [] },
      reserveOp('c1'),
      { name: 'peek', args: ['x'] },
      confirmOp(heldId, tokenOf('c0')),
      { name: 'register', args: ['a', 'b'] },
      { name: 'batch', args: [] },
      releaseOp(heldId, tokenOf('c0')),
      reserveOp('c2'),
    ],
    true,
  );
  assert.deepEqual(mixed[0], ['error', 'not a batch operation: drop']);
  reservedWorker(mixed[1]);
  assert.deepEqual(mixed[2], ['error', 'not a batch operation: peek']);
  assert.equal(mixed[3], 'confirmed');
  assert.deepEqual(mixed[4], ['error', 'not a batch operation: register']);
  assert.deepEqual(mixed[5], ['error', 'not a batch operation: batch']);
  assert.equal(mixed[6], 1);
  reservedWorker(mixed[7]);

  const unknownOnly = await runBoth(
    twin,
    Array.from({ length: 5 }, (_, i): Operation => ({ name: `op${i}`, args: ['1'] })),
    true,
  );
  assert.deepEqual(
    unknownOnly,
    Array.from({ length: 5 }, (_, i) => ['error', `not a batch operation: op${i}`]),
  );
});

test('quota reached inside one batch', async () => {
  const twin = await newTwin(workerSpecs(20));
  const tenantT = { tenantId: 'T', tenantLimit: 3 };
  const [before] = await runBoth(twin, [reserveOp('t0', tenantT)]);
  reservedWorker(before);

  // One holder already; the limit of 3 is reached by the second reserve of the batch.
  const tenantBatch = await runBoth(
    twin,
    Array.from({ length: 5 }, (_, i) => reserveOp(`t${i + 1}`, tenantT)),
    true,
  );
  reservedWorker(tenantBatch[0]);
  reservedWorker(tenantBatch[1]);
  for (const reply of tenantBatch.slice(2)) assert.deepEqual(reply, ['quota', 'tenant']);

  // Interleaved: campaign C (limit 2) and tenant U (limit 1).
  const campaignC = { campaignId: 'C', campaignLimit: 2 };
  const tenantU = { tenantId: 'U', tenantLimit: 1 };
  const interleaved = await runBoth(
    twin,
    [
      reserveOp('c1', campaignC),
      reserveOp('u1', tenantU),
      reserveOp('c2', campaignC),
      reserveOp('u2', tenantU),
      reserveOp('c3', campaignC),
      reserveOp('free', { tenantId: 'U', campaignId: 'C' }),
      reserveOp('both', { ...tenantU, ...campaignC }),
    ],
    true,
  );
  reservedWorker(interleaved[0]);
  reservedWorker(interleaved[1]);
  reservedWorker(interleaved[2]);
  assert.deepEqual(interleaved[3], ['quota', 'tenant']);
  assert.deepEqual(interleaved[4], ['quota', 'campaign']);
  // Without limits it is counted anyway, so U and C are both over their limits after it.
  reservedWorker(interleaved[5]);
  assert.deepEqual(interleaved[6], ['quota', 'tenant']);

  // A release earlier in the batch (releases run before reserves) frees one of T's slots.
  const freeing = await runBoth(
    twin,
    [
      reserveOp('t6', tenantT),
      releaseOp(reservedWorker(before), tokenOf('t0')),
      reserveOp('t7', tenantT),
    ],
    true,
  );
  reservedWorker(freeing[0]);
  assert.equal(freeing[1], 1);
  assert.deepEqual(freeing[2], ['quota', 'tenant']);

  // Limit 0 never admits a reserve.
  const zero = await runBoth(
    twin,
    [
      reserveOp('z1', { tenantId: 'Z', tenantLimit: 0 }),
      reserveOp('z2', { campaignId: 'Y', campaignLimit: 0 }),
    ],
    true,
  );
  assert.deepEqual(zero, [
    ['quota', 'tenant'],
    ['quota', 'campaign'],
  ]);

  const counts = quotaCounts(await listWorkers(twin.batched));
  assert.equal(counts.tenants.get('T'), 3);
  assert.equal(counts.tenants.get('U'), 2);
  assert.equal(counts.campaigns.get('C'), 3);
});

test('lapsed reservations in a batch', async () => {
  const twin = await newTwin(workerSpecs(8));
  const tenantT = { tenantId: 'T', tenantLimit: 4 };
  const setup = await runBoth(twin, [
    ...Array.from({ length: 4 }, (_, i) => reserveOp(`short${i}`, { ...tenantT, ttlMs: 200 })),
    reserveOp('long0'),
    reserveOp('long1'),
  ]);
  const ids = setup.map(reservedWorker);
  assert.deepEqual(ids, ['w000', 'w001', 'w002', 'w003', 'w004', 'w005']);
  assert.deepEqual(await runBoth(twin, [confirmOp('w004', tokenOf('long0'))]), ['confirmed']);
  await sleep(1500);

  const start = await lastEntryId(twin.batched);
  const replies = await runBoth(
    twin,
    [
      confirmOp('w000', tokenOf('short0')),
      releaseOp('w001', tokenOf('short1')),
      confirmOp('w005', tokenOf('long1')),
      releaseOp('w004', tokenOf('long0')),
      ...Array.from({ length: 4 }, (_, i) => reserveOp(`again${i}`, tenantT)),
    ],
    true,
  );
  assert.equal(replies[0], 'expired');
  assert.equal(replies[1], 0);
  assert.equal(replies[2], 'confirmed');
  assert.equal(replies[3], 1);
  const again = replies.slice(4).map(reservedWorker);
  assert.equal(new Set(again).size, 4);

  const events = await eventsAfter(twin.batched, start);
  const lapsed = events.filter((parts) => parts[0] === 'reservation-lapsed');
  assert.deepEqual(
    lapsed.map((parts) => parts[1]).sort(),
    ['w000', 'w001', 'w002', 'w003'],
    'one lapse event per lapsed reservation',
  );
  assert.equal(eventTypes(events).filter((type) => type === 'reserved').length, 4);
  const counts = quotaCounts(await listWorkers(twin.batched));
  assert.equal(counts.tenants.get('T'), 4);

  // Confirming or releasing the lapsed reservations again changes nothing.
  const late = await runBoth(
    twin,
    [confirmOp('w002', tokenOf('short2')), releaseOp('w003', tokenOf('short3'))],
    true,
  );
  assert.equal(late[0], 'token-mismatch');
  assert.equal(late[1], 0);
});

test('workers expiring between batches', async () => {
  const twin = await newTwin([
    ...workerSpecs(4, 'e').map((spec) => ({ ...spec, ttlMs: 2500 })),
    ...workerSpecs(6, 'k'),
  ]);
  const setup = await runBoth(twin, [reserveOp('c0'), reserveOp('c1')]);
  assert.deepEqual(setup.map(reservedWorker), ['e000', 'e001']);
  assert.deepEqual(await runBoth(twin, [confirmOp('e000', tokenOf('c0'))]), ['confirmed']);
  await sleep(3500);

  const start = await lastEntryId(twin.batched);
  const replies = await runBoth(
    twin,
    [
      confirmOp('e001', tokenOf('c1')),
      releaseOp('e000', tokenOf('c0')),
      ...Array.from({ length: 5 }, (_, i) => reserveOp(`k${i}`)),
    ],
    true,
  );
  assert.equal(replies[0], 'unknown-worker');
  assert.equal(replies[1], 0);
  assert.deepEqual(replies.slice(2).map(reservedWorker), ['k000', 'k001', 'k002', 'k003', 'k004']);
  const expired = (await eventsAfter(twin.batched, start)).filter(
    (parts) => parts[0] === 'expired',
  );
  assert.deepEqual(expired.map((parts) => parts[1]).sort(), ['e000', 'e001', 'e002', 'e003']);
  const withCall = expired.filter((parts) => parts.length > 3).map((parts) => parts[3]);
  assert.deepEqual(withCall.sort(), ['c0', 'c1'], 'expired workers report the calls they held');

  const last = await runBoth(
    twin,
    Array.from({ length: 5 }, (_, i) => reserveOp(`last${i}`)),
    true,
  );
  assert.equal(reservedWorker(last[0]), 'k005');
  for (const reply of last.slice(1)) assert.deepEqual(reply, ['none']);
  const workers = await listWorkers(twin.batched);
  assert.deepEqual(
    workers.map((worker) => worker.workerId).sort(),
    workerSpecs(6, 'k').map((spec) => spec.id),
  );
});

/** Returns the `holders` member prefix of a quota id, as the Lua code builds it. */
function holdersPrefix(scope: 't' | 'c', quotaId: string): string {
  return `${scope}${Buffer.byteLength(quotaId)}:${quotaId}`;
}

async function countHolders(pool: Pool, scope: 't' | 'c', quotaId: string): Promise<number> {
  const prefix = holdersPrefix(scope, quotaId);
  return pool.connection.zlexcount(keyOf(pool, 'holders'), `[${prefix}`, `(${prefix}\xff`);
}

test('quota counts across prefix cache resets', async () => {
  const pool = newPool();
  for (const spec of workerSpecs(100)) await registerWorker(pool, spec);
  const holdersKey = keyOf(pool, 'holders');
  const baseline = await pool.connection.zcard(holdersKey);

  // 25 rounds of 100 reserves with two new quota ids each: 5,000 ids, more than the 4,096
  // the cache keeps, so it is emptied in the middle of a pass.
  for (let round = 0; round < 25; round += 1) {
    // Every fifth id is both a tenant and a campaign id.
    const tenantOf = (i: number) => (i % 5 === 0 ? `shared-${round}-${i}` : `tenant-${round}-${i}`);
    const campaignOf = (i: number) =>
      i % 5 === 0 ? `shared-${round}-${i}` : `campagne-é-${round}-${i}`;
    const reserves = Array.from({ length: 100 }, (_, i) =>
      reserveOp(`r${round}-${i}`, {
        tenantId: tenantOf(i),
        tenantLimit: 1,
        campaignId: campaignOf(i),
        campaignLimit: i % 2 === 0 ? 1 : -1,
      }),
    );
    const reserved = await runBatch(pool, reserves);
    const ids = reserved.map(reservedWorker);
    assert.equal(await pool.connection.zcard(holdersKey), baseline + 200, `round ${round}`);
    for (const i of [0, 37, 99, 55]) {
      assert.equal(await countHolders(pool, 't', tenantOf(i)), 1, `tenant ${tenantOf(i)}`);
      assert.equal(await countHolders(pool, 'c', campaignOf(i)), 1, `campaign ${campaignOf(i)}`);
    }
    const released = await runBatch(
      pool,
      ids.map((id, i) => releaseOp(id, tokenOf(`r${round}-${i}`))),
    );
    assert.deepEqual(new Set(released), new Set([1]));
    assert.equal(await pool.connection.zcard(holdersKey), baseline, `round ${round} released`);
  }

  // Ids met before the resets, and a limit reached by the k-th reserve of a pass.
  const replies = await runBatch(pool, [
    reserveOp('old1', { tenantId: 'tenant-0-1', tenantLimit: 2 }),
    reserveOp('old2', { tenantId: 'tenant-0-1', tenantLimit: 2, campaignId: 'shared-0-0' }),
    reserveOp('old3', { tenantId: 'tenant-0-1', tenantLimit: 2 }),
    reserveOp('old4', { campaignId: 'campagne-é-0-1', campaignLimit: 1 }),
    reserveOp('old5', { campaignId: 'campagne-é-0-1', campaignLimit: 1 }),
    reserveOp('old6', { tenantId: 'shared-0-0', tenantLimit: 1 }),
  ]);
  const first = reservedWorker(replies[0]);
  const second = reservedWorker(replies[1]);
  assert.deepEqual(replies[2], ['quota', 'tenant']);
  const third = reservedWorker(replies[3]);
  assert.deepEqual(replies[4], ['quota', 'campaign']);
  // The campaign holder of shared-0-0 does not count against the tenant of that id.
  const fourth = reservedWorker(replies[5]);
  assert.equal(await countHolders(pool, 't', 'tenant-0-1'), 2);
  assert.equal(await countHolders(pool, 'c', 'campagne-é-0-1'), 1);
  assert.equal(await countHolders(pool, 'c', 'shared-0-0'), 1);
  assert.equal(await countHolders(pool, 't', 'shared-0-0'), 1);
  const released = await runBatch(pool, [
    releaseOp(first, tokenOf('old1')),
    releaseOp(second, tokenOf('old2')),
    releaseOp(third, tokenOf('old4')),
    releaseOp(fourth, tokenOf('old6')),
  ]);
  assert.deepEqual(released, [1, 1, 1, 1]);
  assert.equal(await pool.connection.zcard(holdersKey), baseline);
});

// ---------------------------------------------------------------------------------------
// Random workloads.

/** Xorshift32, seeded, so a failing workload can be replayed from its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4_294_967_296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  assert.ok(item !== undefined, 'pick from an empty list');
  return item;
}

/**
 * Tenants and campaigns with their limits; -1 for none. Tenant T2 and campaigns C1 and T2
 * always have limits. Some ids are both a tenant and a campaign, which count apart.
 */
const TENANTS = [
  { id: '', limit: -1 },
  { id: '', limit: -1 },
  { id: 'T1', limit: 5 },
  { id: 'T1', limit: -1 },
  { id: 'T2', limit: 12 },
  { id: 'T3', limit: -1 },
  { id: 'C2', limit: -1 },
] as const;
const CAMPAIGNS = [
  { id: '', limit: -1 },
  { id: '', limit: -1 },
  { id: 'C1', limit: 9 },
  { id: 'C2', limit: -1 },
  { id: 'C3', limit: 0 },
  { id: 'T1', limit: -1 },
  { id: 'T2', limit: 6 },
] as const;
const REQUIRED_LABELS: Record<string, string>[] = [
  {},
  {},
  {},
  {},
  {},
  { lang: 'en' },
  { lang: 'de' },
  { lang: 'en', tier: 'gold' },
  { lang: 'fr' },
];
const BATCH_SIZES = [0, 1, 1, 1, 2, 2, 3, 4, 6, 9, 15, 30, 40, 64, 99, 100, 101, 150];

function randomWorkers(): WorkerSpec[] {
  const labelSets: Record<string, string>[] = [
    { lang: 'en' },
    { lang: 'de' },
    { lang: 'en', tier: 'gold' },
    {},
  ];
  return Array.from({ length: 160 }, (_, i) => ({
    id: `w${String(i).padStart(3, '0')}`,
    labels: labelSets[i % labelSets.length] ?? {},
  }));
}

/** A seeded stream of batches over one twin, from the reservations its batches made. */
class RandomWorkload {
  private readonly random: () => number;
  private nextCall = 0;
  /** Reservations made so far, newest last, as worker id and token. */
  private readonly known: { workerId: string; token: string }[] = [];
  private readonly removed: WorkerSpec[] = [];

  constructor(
    readonly seed: number,
    readonly twin: Twin,
    private readonly workers: WorkerSpec[],
  ) {
    this.random = seededRandom(seed);
  }

  private reserve(): Operation {
    this.nextCall += 1;
    const tenant = pick(this.random, TENANTS);
    const campaign = pick(this.random, CAMPAIGNS);
    return reserveOp(`s${this.seed}-${this.nextCall}`, {
      labels: pick(this.random, REQUIRED_LABELS),
      tenantId: tenant.id,
      tenantLimit: tenant.limit,
      campaignId: campaign.id,
      campaignLimit: campaign.limit,
    });
  }

  private confirmOrRelease(name: 'confirm' | 'release', chosen: Set<number>): Operation {
    const roll = this.random();
    if (this.known.length === 0 || roll < 0.03) return { name, args: ['ghost', 'token'] };
    let index = Math.floor(this.random() * this.known.length);
    // Mostly distinct workers, so passes run; sometimes the same one twice.
    for (let tries = 0; tries < 5 && chosen.has(index) && this.random() < 0.9; tries += 1) {
      index = Math.floor(this.random() * this.known.length);
    }
    chosen.add(index);
    const target = this.known[index];
    assert.ok(target !== undefined);
    const token = roll < 0.12 ? 'wrong-token' : target.token;
    return { name, args: [target.workerId, token] };
  }

  nextBatch(): Operation[] {
    const size = pick(this.random, BATCH_SIZES);
    const mode = this.random();
    const chosen = new Set<number>();
    const operations: Operation[] = [];
    for (let i = 0; i < size; i += 1) {
      let kind: string;
      if (mode < 0.45) {
        const roll = this.random();
        if (roll < 0.45) kind = 'reserve';
        else if (roll < 0.7) kind = 'confirm';
        else if (roll < 0.97) kind = 'release';
        else kind = 'unknown';
      } else if (mode < 0.65) kind = 'reserve';
      else if (mode < 0.8) kind = 'confirm';
      else kind = 'release';

      if (kind === 'reserve') operations.push(this.reserve());
      else if (kind === 'confirm' || kind === 'release') {
        operations.push(this.confirmOrRelease(kind, chosen));
      } else operations.push({ name: 'drop', args: this.random() < 0.5 ? [] : ['x'] });
    }
    return operations;
  }

  record(operations: Operation[], replies: unknown[]): void {
    operations.forEach((operation, index) => {
      const reply = replies[index];
      if (operation.name === 'reserve' && Array.isArray(reply) && reply[0] === 'reserved') {
        this.known.push({ workerId: String(reply[1]), token: operation.args[2] ?? '' });
      }
    });
    if (this.known.length > 120) this.known.splice(0, this.known.length - 120);
  }

  /**
   * Drains, undrains, deregisters or registers again a worker in both pools, or makes a
   * heartbeat re-assert a busy reservation on it, with a fence above any handed out.
   */
  async changeWorkers(): Promise<void> {
    const roll = this.random();
    const { batched, alone } = this.twin;
    if (roll < 0.05) {
      const spec = pick(this.random, this.workers);
      this.nextCall += 1;
      // A re-asserted reservation skips quota checks, so it takes only ids whose limits
      // the test does not check.
      const tenant = pick(
        this.random,
        TENANTS.filter((quota) => quota.limit < 0),
      );
      const campaign = pick(
        this.random,
        CAMPAIGNS.filter((quota) => quota.limit < 0),
      );
      const callId = `hb${this.seed}-${this.nextCall}`;
      const active = (fenceBase: number) =>
        JSON.stringify({
          token: tokenOf(callId),
          fence: String(fenceBase + 1_000_000 + this.nextCall),
          callId,
          ...(tenant.id === '' ? {} : { tenantId: tenant.id }),
          ...(campaign.id === '' ? {} : { campaignId: campaign.id }),
        });
      const args = (fenceBase: number) => [spec.id, String(LONG_MS), active(fenceBase), ''];
      const found = await callFunction(batched, 'heartbeat', args(this.twin.batchedFenceBase));
      assert.equal(
        found,
        await callFunction(alone, 'heartbeat', args(this.twin.aloneFenceBase)),
        `heartbeat ${spec.id}`,
      );
      if (found === 1) this.known.push({ workerId: spec.id, token: tokenOf(callId) });
    } else if (roll < 0.12) {
      const spec = pick(this.random, this.workers);
      const args = [spec.id, this.random() < 0.6 ? '1' : '0'];
      assert.equal(
        await callFunction(batched, 'set_draining', args),
        await callFunction(alone, 'set_draining', args),
        `set_draining ${args.join(' ')}`,
      );
    } else if (roll < 0.18) {
      const spec = pick(this.random, this.workers);
      assert.equal(
        await callFunction(batched, 'deregister', [spec.id]),
        await callFunction(alone, 'deregister', [spec.id]),
        `deregister ${spec.id}`,
      );
      this.removed.push(spec);
    } else if (roll < 0.26 && this.removed.length > 0) {
      const spec = this.removed.shift();
      assert.ok(spec !== undefined);
      await registerWorker(batched, spec);
      await registerWorker(alone, spec);
    }
  }
}

test('random batches match single operations', async () => {
  // Two workloads take turns, so each batch finds the scratch tables as the other
  // workload's batch, of another size, pool and shape, left them.
  const seeds = [1, 77, 4242, 90210];
  const workloads: RandomWorkload[] = [];
  for (const seed of seeds) {
    const workers = randomWorkers();
    workloads.push(new RandomWorkload(seed, await newTwin(workers), workers));
  }
  const rounds = 80;
  let operationCount = 0;
  for (let round = 0; round < rounds; round += 1) {
    for (const workload of workloads) {
      await workload.changeWorkers();
      const operations = workload.nextBatch();
      operationCount += operations.length;
      const replies = await runBoth(workload.twin, operations, round % 5 === 4).catch(
        (err: unknown) => {
          throw new Error(`seed ${workload.seed}, round ${round}: ${String(err)}`, { cause: err });
        },
      );
      workload.record(operations, replies);

      const counts = quotaCounts(await listWorkers(workload.twin.batched));
      assert.ok(
        (counts.tenants.get('T2') ?? 0) <= 12,
        `tenant T2 over its limit, seed ${workload.seed}`,
      );
      assert.ok(
        (counts.campaigns.get('C1') ?? 0) <= 9,
        `campaign C1 over its limit, seed ${workload.seed}`,
      );
      assert.ok(
        (counts.campaigns.get('T2') ?? 0) <= 6,
        `campaign T2 over its limit, seed ${workload.seed}`,
      );
      assert.equal(
        counts.campaigns.get('C3'),
        undefined,
        `campaign C3 admitted, seed ${workload.seed}`,
      );
    }
  }
  for (const workload of workloads) {
    await assertSameState(workload.twin, `final state, seed ${workload.seed}`);
  }
  assert.ok(operationCount > 1000, `only ${operationCount} operations ran`);
});

// ---------------------------------------------------------------------------------------
// The registry client, batching concurrent callers.

/** Reads every event of the store from the start. */
async function readAllEvents(registry: CapacityRegistry): Promise<SlotEvent[]> {
  const events: SlotEvent[] = [];
  let cursor: string | null = null;
  for (;;) {
    const page = await registry.readEvents(cursor, 1000);
    if (page.events.length === 0) return events;
    events.push(...page.events);
    cursor = page.lastId;
  }
}

/** What the callers observed, for comparison with the events. */
interface Outcomes {
  reserved: number;
  none: number;
  quota: number;
  confirmed: number;
  mismatched: number;
  released: number;
  notReleased: number;
  /** Per caller, its outcomes in order. */
  log: string[][];
}

interface ClientWorkloadOptions {
  seed: number;
  callers: number;
  cycles: number;
  /** Quota limits per id; a reserve names one of these ids or none. */
  tenantLimits: Map<string, number>;
  requestLabels: boolean;
}

/**
 * Runs `callers` concurrent loops, each `cycles` times: reserve, maybe confirm (sometimes
 * with a wrong token), then release, sometimes twice at once, or keep the reservation to
 * release at the end. Each loop draws from its own seeded generator, so its draws do not
 * depend on how the loops interleave.
 */
async function runClientWorkload(
  registries: CapacityRegistry[],
  options: ClientWorkloadOptions,
): Promise<Outcomes> {
  const outcomes: Outcomes = {
    reserved: 0,
    none: 0,
    quota: 0,
    confirmed: 0,
    mismatched: 0,
    released: 0,
    notReleased: 0,
    log: [],
  };
  const keptReservations: { registry: CapacityRegistry; reservation: Reservation }[] = [];
  const tenantIds = [...options.tenantLimits.keys()];

  const caller = async (index: number) => {
    const random = seededRandom(options.seed * 1000 + index + 1);
    const log: string[] = [];
    outcomes.log[index] = log;
    for (let cycle = 0; cycle < options.cycles; cycle += 1) {
      const registry = pick(random, registries);
      const tenantId = random() < 0.7 ? pick(random, tenantIds) : undefined;
      const request: ReserveRequest = {
        pool: 'default',
        callId: `caller${index}-${cycle}`,
        reservationTtlMs: LONG_MS,
        ...(options.requestLabels && random() < 0.3 ? { labels: { lang: 'en' } } : {}),
        ...(tenantId === undefined
          ? {}
          : {
              quotas: { tenant: { id: tenantId, limit: options.tenantLimits.get(tenantId) ?? 0 } },
            }),
      };
      let reservation: Reservation | null;
      try {
        reservation = await registry.reserve(request);
      } catch (err) {
        if (!(err instanceof RegistryQuotaExceededError)) throw err;
        outcomes.quota += 1;
        log.push('quota');
        continue;
      }
      if (reservation === null) {
        outcomes.none += 1;
        log.push('none');
        continue;
      }
      outcomes.reserved += 1;
      log.push('reserved');
      const confirmRoll = random();
      if (confirmRoll < 0.1) {
        const result = await registry.confirm(reservation.workerId, 'wrong-token');
        assert.equal(result, 'token-mismatch');
        outcomes.mismatched += 1;
        log.push(result);
      } else if (confirmRoll < 0.8) {
        const result = await registry.confirm(reservation.workerId, reservation.token);
        assert.equal(result, 'confirmed');
        outcomes.confirmed += 1;
        log.push(result);
      }
      const releaseRoll = random();
      if (releaseRoll < 0.1) {
        keptReservations.push({ registry, reservation });
        log.push('kept');
        continue;
      }
      const releases =
        releaseRoll < 0.2
          ? [
              registry.release(reservation.workerId, reservation.token),
              pick(random, registries).release(reservation.workerId, reservation.token),
            ]
          : [registry.release(reservation.workerId, reservation.token)];
      const results = await Promise.all(releases);
      assert.equal(results.filter(Boolean).length, 1, `release of ${reservation.callId}`);
      outcomes.released += 1;
      outcomes.notReleased += results.length - 1;
      log.push(`released x${results.length}`);
    }
  };
  await Promise.all(Array.from({ length: options.callers }, (_, index) => caller(index)));

  const finalReleases = await Promise.all(
    keptReservations.map(({ registry, reservation }) =>
      registry.release(reservation.workerId, reservation.token),
    ),
  );
  assert.deepEqual(
    new Set(finalReleases),
    keptReservations.length === 0 ? new Set() : new Set([true]),
  );
  outcomes.released += keptReservations.length;
  return outcomes;
}

/**
 * Replays the events in stream order and checks that no worker has two holders, each
 * confirm and release follows its reservation, fences increase, and no tenant goes over
 * its limit. Returns the number of events of each type.
 */
function replayEvents(events: SlotEvent[], tenantLimits: Map<string, number>): Map<string, number> {
  const open = new Map<string, { fence: number; confirmed: boolean; tenantId?: string }>();
  const tenantCounts = new Map<string, number>();
  const types = new Map<string, number>();
  let lastFence = 0;
  for (const event of events) {
    types.set(event.type, (types.get(event.type) ?? 0) + 1);
    const current = open.get(event.workerId);
    const where = `event ${event.id} (${event.type} ${event.workerId} ${event.callId})`;
    if (event.type === 'reserved') {
      assert.equal(current, undefined, `${where}: worker already open`);
      assert.ok(
        (event.fence ?? 0) > lastFence,
        `${where}: fence ${event.fence} after ${lastFence}`,
      );
      lastFence = event.fence ?? 0;
      open.set(event.workerId, {
        fence: event.fence ?? 0,
        confirmed: false,
        ...(event.tenantId === undefined ? {} : { tenantId: event.tenantId }),
      });
      if (event.tenantId !== undefined) {
        const count = (tenantCounts.get(event.tenantId) ?? 0) + 1;
        tenantCounts.set(event.tenantId, count);
        const limit = tenantLimits.get(event.tenantId) ?? Infinity;
        assert.ok(count <= limit, `${where}: tenant ${event.tenantId} has ${count} of ${limit}`);
      }
    } else if (event.type === 'confirmed') {
      assert.ok(current, `${where}: not open`);
      assert.equal(current.fence, event.fence, `${where}: fence`);
      assert.equal(current.confirmed, false, `${where}: confirmed twice`);
      current.confirmed = true;
    } else if (event.type === 'released') {
      assert.ok(current, `${where}: not open`);
      assert.equal(current.fence, event.fence, `${where}: fence`);
      open.delete(event.workerId);
      if (current.tenantId !== undefined) {
        tenantCounts.set(current.tenantId, (tenantCounts.get(current.tenantId) ?? 0) - 1);
      }
    } else {
      assert.equal(event.type, 'registered', `${where}: unexpected event`);
    }
  }
  assert.equal(open.size, 0, 'every reservation was released');
  return types;
}

async function openClientStore(
  workers: number,
  maxBatches: (number | undefined)[],
): Promise<CapacityRegistry[]> {
  const keyPrefix = `reuse-client-${randomUUID()}:`;
  const registries: CapacityRegistry[] = [];
  for (const maxBatch of maxBatches) {
    registries.push(
      await openRegistry(server().url, {
        keyPrefix,
        ...(maxBatch === undefined ? {} : { maxBatch }),
      }),
    );
  }
  const [first] = registries;
  assert.ok(first !== undefined);
  for (let i = 0; i < workers; i += 1) {
    const en = i % 2 === 1;
    await first.register({
      workerId: `${en ? 'z-en' : 'plain'}-${String(i).padStart(3, '0')}`,
      url: `http://127.0.0.1:7801/${i}`,
      host: 'host-a',
      pool: 'default',
      labels: en ? { lang: 'en' } : {},
      ttlMs: LONG_MS,
    });
  }
  return registries;
}

async function checkClientRun(
  registries: CapacityRegistry[],
  options: ClientWorkloadOptions,
): Promise<Outcomes> {
  const outcomes = await runClientWorkload(registries, options);
  const [first] = registries;
  assert.ok(first !== undefined);
  const types = replayEvents(await readAllEvents(first), options.tenantLimits);
  assert.equal(types.get('reserved') ?? 0, outcomes.reserved, 'one reserved event per reservation');
  assert.equal(types.get('confirmed') ?? 0, outcomes.confirmed, 'one confirmed event per confirm');
  assert.equal(types.get('released') ?? 0, outcomes.released, 'one released event per release');
  const slots = await first.list('default');
  assert.deepEqual(new Set(slots.map((slot) => slot.state)), new Set(['idle']));
  return outcomes;
}

test('client batching keeps invariants', async () => {
  // Contended: more callers than workers, and low tenant limits. Registries with
  // different maxBatch share the store, so batch sizes keep changing.
  const tenantLimits = new Map([
    ['tenant-a', 4],
    ['tenant-b', 7],
    ['tenant-c', 1],
  ]);
  const contended = await openClientStore(16, [undefined, 1, 3, 64, 1000]);
  try {
    const outcomes = await checkClientRun(contended, {
      seed: 11,
      callers: 40,
      cycles: 12,
      tenantLimits,
      requestLabels: true,
    });
    assert.ok(outcomes.reserved > 100, `only ${outcomes.reserved} reservations`);
    assert.ok(outcomes.quota > 0, 'no reserve reached a quota');
    assert.ok(outcomes.none > 0, 'no reserve found the pool full');
  } finally {
    for (const registry of contended) await registry.close();
  }
});

test('client batching matches maxBatch 1', async () => {
  // Uncontended: every reserve finds a worker and no quota is reached, so each caller's
  // outcomes depend only on its own draws and must match between the two runs.
  const tenantLimits = new Map([
    ['tenant-a', 1000],
    ['tenant-b', 1000],
  ]);
  const options = { seed: 5, callers: 20, cycles: 15, tenantLimits, requestLabels: true };
  const batched = await openClientStore(120, [undefined, 2, 7]);
  let batchedOutcomes: Outcomes;
  try {
    batchedOutcomes = await checkClientRun(batched, options);
  } finally {
    for (const registry of batched) await registry.close();
  }
  const single = await openClientStore(120, [1]);
  try {
    const singleOutcomes = await checkClientRun(single, options);
    assert.deepEqual(batchedOutcomes, singleOutcomes);
    assert.equal(singleOutcomes.none, 0);
    assert.equal(singleOutcomes.quota, 0);
  } finally {
    for (const registry of single) await registry.close();
  }
});
