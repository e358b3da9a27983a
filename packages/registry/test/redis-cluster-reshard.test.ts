/**
 * Resharding a Redis Cluster (`redis-cluster://`) while calls run. The hash slot of a pool
 * moves from its primary A to a primary B that joined after the registries opened, so B
 * starts without the function library, and back. Left without slots, B then becomes a
 * replica of A (Redis 7.0.15 does this by default, `cluster-allow-replica-migration yes`).
 * The slot then moves to another primary C that had the library from the start, and back.
 * Each move is the manual procedure: `CLUSTER SETSLOT IMPORTING` on the target,
 * `MIGRATING` on the source, `MIGRATE ... KEYS` of the slot's keys, then
 * `CLUSTER SETSLOT NODE` on every primary. Loops of two clients reserve, confirm and
 * release the whole time, the workers heartbeat, a monitor lists the pool and a reader
 * follows the event stream.
 *
 * A second test covers the ioredis behaviour behind one client fix: ASKING sent to a node
 * that a slot refresh drops must not end the process with an unhandled rejection.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import {
  openRegistry,
  parseRegistryUrl,
  RegistryClosedError,
  RegistryQuotaExceededError,
  type CapacityRegistry,
  type Reservation,
  type ReserveRequest,
  type SlotEvent,
} from '../src/index.js';
import { connectWithin, createClient } from '../src/redis/connection.js';
import { LIBRARY_NAME } from '../src/redis/scripts.js';
import { reserveRequest, worker } from './contract.js';
import { callNode, useTestCluster, waitUntil, type RedisProcess } from './redis-topology.js';

const POOL = 'default';
const WORKER_COUNT = 6;
const TENANT = 'tenant-a';
/** Below `WORKER_COUNT`, so the quota, not the number of idle workers, limits the loops. */
const TENANT_LIMIT = 4;
const CLIENT_COUNT = 2;
const LOOPS_PER_CLIENT = 4;
const WORKER_TTL_MS = 30_000;
const HEARTBEAT_INTERVAL_MS = 200;
/** Reservations the loops must make after each move before the next step starts. */
const RESERVATIONS_BETWEEN_MOVES = 50;

/** Every registry the test opened, closed after the tests before the cluster stops. */
const registries: CapacityRegistry[] = [];

const server = useTestCluster(3, async () => {
  for (const registry of registries) await registry.close();
});

/** Returns the port of the primary that owns `slot`, from `CLUSTER SLOTS` of `port`. */
async function ownerOf(port: number, slot: number): Promise<number> {
  const ranges = (await callNode(port, 'CLUSTER', 'SLOTS')) as Array<
    [number, number, [string, number, ...unknown[]]]
  >;
  const range = ranges.find(([start, end]) => slot >= start && slot <= end);
  assert.ok(range, `no node owns slot ${slot}`);
  return range[2][1];
}

async function nodeId(node: RedisProcess): Promise<string> {
  return String(await callNode(node.port, 'CLUSTER', 'MYID'));
}

async function libraryCount(node: RedisProcess): Promise<number> {
  const libraries = (await callNode(
    node.port,
    'FUNCTION',
    'LIST',
    'LIBRARYNAME',
    LIBRARY_NAME,
  )) as unknown[];
  return libraries.length;
}

interface SlotMove {
  /** Keys that MIGRATE moved. */
  keys: number;
  /** From `SETSLOT IMPORTING` on the target to the last `SETSLOT NODE`. */
  durationMs: number;
}

/**
 * Moves `slot` from `source` to `target` with the manual resharding procedure, and sets
 * the new owner on every other primary among `nodes` as `redis-cli --cluster reshard`
 * does, instead of waiting for gossip. Waits `pauseMs` between `MIGRATING` and the first
 * `MIGRATE`, as a move of a slot with many keys would take longer.
 */
async function moveSlot(
  slot: number,
  source: RedisProcess,
  target: RedisProcess,
  nodes: RedisProcess[],
  pauseMs: number,
): Promise<SlotMove> {
  const sourceId = await nodeId(source);
  const targetId = await nodeId(target);
  const started = performance.now();
  await callNode(target.port, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId);
  await callNode(source.port, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId);
  await sleep(pauseMs);

  let keys = 0;
  for (;;) {
    const batch = (await callNode(
      source.port,
      'CLUSTER',
      'GETKEYSINSLOT',
      String(slot),
      '100',
    )) as string[];
    if (batch.length === 0) break;
    await callNode(
      source.port,
      'MIGRATE',
      '127.0.0.1',
      String(target.port),
      '',
      '0',
      '10000',
      'KEYS',
      ...batch,
    );
    keys += batch.length;
  }

  // The target goes first. Set on the source first, the source would send MOVED to a
  // target that does not own the slot yet.
  await callNode(target.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', targetId);
  await assignSlot(source, slot, targetId);
  for (const node of nodes) {
    if (node !== source && node !== target) await assignSlot(node, slot, targetId);
  }
  return { keys, durationMs: performance.now() - started };
}

/**
 * Sets the owner of `slot` on `node`. Redis 7 turns a primary that lost its last slot
 * into a replica of the new owner (`cluster-allow-replica-migration`), possibly before
 * this runs. A replica rejects SETSLOT and takes the slot table of its primary, so that
 * rejection is accepted.
 */
async function assignSlot(node: RedisProcess, slot: number, ownerId: string): Promise<void> {
  try {
    await callNode(node.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', ownerId);
  } catch (err) {
    const [role] = (await callNode(node.port, 'ROLE')) as [string, ...unknown[]];
    if (role === 'master') throw err;
  }
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}

/**
 * The shared record of the run: operation counts, the operations that overlapped a slot
 * move, the errors callers saw, and every broken invariant the loops noticed.
 */
class Traffic {
  running = true;
  operations = 0;
  operationsDuringMoves = 0;
  slowestDuringMovesMs = 0;
  reserved = 0;
  confirmed = 0;
  released = 0;
  quotaRejections = 0;
  errors: string[] = [];
  violations: string[] = [];
  /** Fences of the reservations the loops made, in the order their replies arrived. */
  fences: number[] = [];
  /**
   * The loop that holds each worker, from the reserve reply until just before the release
   * is sent. That interval lies inside the one in which Redis shows the reservation, so two
   * loops holding one worker at once means Redis handed out one slot twice.
   */
  holders = new Map<string, string>();
  private moving = false;
  private moveGeneration = 0;

  setMoving(moving: boolean): void {
    this.moving = moving;
    this.moveGeneration += 1;
  }

  /**
   * Runs one registry operation, counts it and records its error, then rethrows it. A
   * closed registry stops the run, because the test failed and is cleaning up.
   */
  async track<T>(name: string, operation: () => Promise<T>): Promise<T> {
    const generation = this.moveGeneration;
    const startedMoving = this.moving;
    const started = performance.now();
    try {
      return await operation();
    } catch (err) {
      if (err instanceof RegistryClosedError) {
        this.running = false;
      } else if (!(err instanceof RegistryQuotaExceededError)) {
        this.errors.push(`${name}: ${describeError(err)}`);
      }
      throw err;
    } finally {
      this.operations += 1;
      if (startedMoving || this.moving || generation !== this.moveGeneration) {
        this.operationsDuringMoves += 1;
        this.slowestDuringMovesMs = Math.max(
          this.slowestDuringMovesMs,
          performance.now() - started,
        );
      }
    }
  }

  /**
   * Runs an idempotent operation (confirm, release) until it succeeds, so a failed call
   * cannot leave a slot held. Gives up after 50 attempts.
   */
  async untilDone<T>(name: string, operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.track(name, operation);
      } catch (err) {
        if (attempt >= 50 || err instanceof RegistryClosedError) throw err;
        await sleep(100);
      }
    }
  }
}

function quotaRequest(callId: string): ReserveRequest {
  return reserveRequest(callId, {
    pool: POOL,
    tenantId: TENANT,
    quotas: { tenant: { id: TENANT, limit: TENANT_LIMIT } },
  });
}

/** Reserves, confirms and releases slots until `traffic.running` turns false. */
async function runCallLoop(
  registry: CapacityRegistry,
  loopId: string,
  traffic: Traffic,
): Promise<void> {
  let lastFence = 0;
  for (let cycle = 1; traffic.running; cycle += 1) {
    let reservation: Reservation | null;
    try {
      reservation = await traffic.track('reserve', () =>
        registry.reserve(quotaRequest(`${loopId}-${cycle}`)),
      );
    } catch (err) {
      if (err instanceof RegistryQuotaExceededError) traffic.quotaRejections += 1;
      await sleep(2);
      continue;
    }
    if (reservation === null) {
      traffic.violations.push(`${loopId} found no idle worker below the tenant limit`);
      await sleep(2);
      continue;
    }
    traffic.reserved += 1;
    traffic.fences.push(reservation.fence);
    const { workerId, token, fence } = reservation;
    const holder = traffic.holders.get(workerId);
    if (holder !== undefined) {
      traffic.violations.push(`${loopId} reserved ${workerId} while ${holder} held it`);
    }
    traffic.holders.set(workerId, loopId);
    if (traffic.holders.size > TENANT_LIMIT) {
      traffic.violations.push(`${traffic.holders.size} slots held, over the tenant limit`);
    }
    if (fence <= lastFence) {
      traffic.violations.push(`${loopId} got fence ${fence} after ${lastFence}`);
    }
    lastFence = fence;

    const result = await traffic.untilDone('confirm', () => registry.confirm(workerId, token));
    if (result === 'confirmed') traffic.confirmed += 1;
    else traffic.violations.push(`${loopId} confirm of ${workerId} returned ${result}`);
    await sleep(Math.random() * 3);

    if (traffic.holders.get(workerId) === loopId) traffic.holders.delete(workerId);
    const released = await traffic.untilDone('release', () => registry.release(workerId, token));
    if (released) traffic.released += 1;
    else traffic.violations.push(`${loopId} release of ${workerId} returned false`);
  }
}

/** Heartbeats every worker each `HEARTBEAT_INTERVAL_MS` until the run stops. */
async function runHeartbeats(
  registry: CapacityRegistry,
  workerIds: string[],
  traffic: Traffic,
): Promise<void> {
  while (traffic.running) {
    await Promise.all(
      workerIds.map(async (workerId) => {
        try {
          const found = await traffic.track('heartbeat', () =>
            registry.heartbeat(workerId, WORKER_TTL_MS),
          );
          if (!found) traffic.violations.push(`heartbeat of ${workerId} returned false`);
        } catch {
          // `track` recorded the error.
        }
      }),
    );
    await sleep(HEARTBEAT_INTERVAL_MS);
  }
}

/** Lists the pool until the run stops, checking the quota in each atomic snapshot. */
async function runMonitor(registry: CapacityRegistry, traffic: Traffic): Promise<void> {
  while (traffic.running) {
    try {
      const slots = await traffic.track('list', () => registry.list(POOL));
      if (slots.length !== WORKER_COUNT) {
        traffic.violations.push(`list returned ${slots.length} workers`);
      }
      const tenantReservations = slots.filter(
        (slot) =>
          (slot.state === 'reserved' || slot.state === 'busy') &&
          slot.reservation?.tenantId === TENANT,
      ).length;
      if (tenantReservations > TENANT_LIMIT) {
        traffic.violations.push(`list showed ${tenantReservations} tenant reservations`);
      }
    } catch {
      // `track` recorded the error.
    }
    await sleep(20);
  }
}

/** Reads every event after `cursor`, in pages of 500, and returns them with the new cursor. */
async function readAllEvents(
  registry: CapacityRegistry,
  cursor: string | null,
  traffic: Traffic,
): Promise<{ events: SlotEvent[]; cursor: string | null }> {
  const events: SlotEvent[] = [];
  let next = cursor;
  for (;;) {
    const page = await traffic.track('readEvents', () => registry.readEvents(next, 500));
    if (page.events.length === 0) return { events, cursor: next };
    events.push(...page.events);
    next = page.lastId;
  }
}

/**
 * Follows the event stream until the run stops. Returns the events and the cursor after
 * them, from which the test reads the events of the loops' last operations.
 */
async function runEventReader(
  registry: CapacityRegistry,
  traffic: Traffic,
): Promise<{ events: SlotEvent[]; cursor: string | null }> {
  const events: SlotEvent[] = [];
  let cursor: string | null = null;
  while (traffic.running) {
    try {
      const read = await readAllEvents(registry, cursor, traffic);
      events.push(...read.events);
      cursor = read.cursor;
    } catch {
      // `track` recorded the error, and the next round reads from the same cursor.
    }
    await sleep(20);
  }
  return { events, cursor };
}

/** Resolves once the loops have made `count` more reservations. */
async function waitForReservations(traffic: Traffic, count: number, step: string): Promise<void> {
  const target = traffic.reserved + count;
  await waitUntil(`${count} reservations ${step}`, 20_000, async () =>
    traffic.reserved >= target ? true : undefined,
  );
}

test('cluster reshard keeps calls running', { timeout: 120_000 }, async (t) => {
  const keyPrefix = `reshard-${randomUUID()}:`;
  const primaries = [...server().nodes];
  const [first] = primaries;
  assert.ok(first);
  const slot = Number(
    await callNode(first.port, 'CLUSTER', 'KEYSLOT', `${keyPrefix}{${POOL}}:workers`),
  );
  const ownerPort = await ownerOf(first.port, slot);
  const home = primaries.find((node) => node.port === ownerPort);
  const other = primaries.find((node) => node.port !== ownerPort);
  assert.ok(home, `no started node has port ${ownerPort}`);
  assert.ok(other);

  const traffic = new Traffic();
  const tasks: Array<Promise<unknown>> = [];
  try {
    for (let i = 0; i <= CLIENT_COUNT; i += 1) {
      registries.push(await openRegistry(server().url, { keyPrefix }));
    }
    const [workerSide, ...diallers] = registries;
    assert.ok(workerSide);

    // The registries loaded the library on the primaries they saw, which excludes this one.
    const joined = await server().addPrimary();
    primaries.push(joined);
    assert.equal(await libraryCount(joined), 0, 'the joined primary starts without the library');

    const workerIds = Array.from({ length: WORKER_COUNT }, (_, i) => `w${i}`);
    for (const workerId of workerIds) {
      await workerSide.register(worker(workerId, { pool: POOL, ttlMs: WORKER_TTL_MS }));
    }

    tasks.push(runHeartbeats(workerSide, workerIds, traffic), runMonitor(workerSide, traffic));
    const reader = runEventReader(workerSide, traffic);
    tasks.push(reader);
    diallers.forEach((registry, client) => {
      for (let loop = 0; loop < LOOPS_PER_CLIENT; loop += 1) {
        tasks.push(runCallLoop(registry, `client${client}-loop${loop}`, traffic));
      }
    });
    await waitForReservations(traffic, RESERVATIONS_BETWEEN_MOVES, 'before the first move');

    // The third move pauses, so functions keep running on the source while it is MIGRATING.
    const moves: string[] = [];
    const route = [
      { source: home, target: joined, pauseMs: 0 },
      { source: joined, target: home, pauseMs: 0 },
      { source: home, target: other, pauseMs: 300 },
      { source: other, target: home, pauseMs: 0 },
    ];
    for (const { source, target, pauseMs } of route) {
      const operationsBefore = traffic.operationsDuringMoves;
      traffic.setMoving(true);
      const move = await moveSlot(slot, source, target, primaries, pauseMs);
      traffic.setMoving(false);
      const label = `${source.port} -> ${target.port}`;
      // The source is not checked for keys, because once a replica it copies its primary's.
      assert.ok(move.keys > 0, `no key moved ${label}`);
      assert.ok(
        Number(await callNode(target.port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot))) > 0,
        `no key on the target after ${label}`,
      );
      assert.equal(await ownerOf(target.port, slot), target.port, `owner after ${label}`);
      await waitForReservations(traffic, RESERVATIONS_BETWEEN_MOVES, `after ${label}`);
      assert.equal(await libraryCount(target), 1, `library on the new owner ${target.port}`);
      moves.push(
        `${label}: ${move.keys} keys in ${move.durationMs.toFixed(1)} ms ` +
          `(${pauseMs} ms paused), ` +
          `${traffic.operationsDuringMoves - operationsBefore} operations overlapped it`,
      );
    }

    traffic.running = false;
    const outcomes = await Promise.allSettled(tasks);
    const followed = await reader;
    const events = [
      ...followed.events,
      ...(await readAllEvents(workerSide, followed.cursor, traffic)).events,
    ];
    for (const move of moves) t.diagnostic(move);
    t.diagnostic(
      `${traffic.operations} operations, ${traffic.operationsDuringMoves} during moves ` +
        `(slowest ${traffic.slowestDuringMovesMs.toFixed(1)} ms), ` +
        `${traffic.errors.length} errors, ${traffic.reserved} reservations, ` +
        `${traffic.quotaRejections} quota rejections`,
    );

    assert.deepEqual(
      outcomes.filter((outcome) => outcome.status === 'rejected'),
      [],
      'every loop ended',
    );
    assert.deepEqual(traffic.errors, [], 'errors seen by callers');
    assert.deepEqual(traffic.violations, [], 'invariants broken during the run');
    assert.equal(traffic.holders.size, 0, 'a loop still holds a slot');
    assert.equal(
      new Set(traffic.fences).size,
      traffic.fences.length,
      'a fence was handed out twice',
    );

    const slots = await workerSide.list(POOL);
    assert.deepEqual(
      slots.map((slot) => `${slot.workerId}:${slot.state}`),
      workerIds.map((workerId) => `${workerId}:idle`),
      'every slot is idle after the run',
    );

    // The quota counts are exact, so the limit can be reached again but not exceeded.
    const dialler = diallers[0];
    assert.ok(dialler);
    const final: Reservation[] = [];
    for (let i = 0; i < TENANT_LIMIT; i += 1) {
      const reservation = await dialler.reserve(quotaRequest(`final-${i}`));
      assert.ok(reservation, `reservation ${i + 1} of ${TENANT_LIMIT} after the run`);
      final.push(reservation);
    }
    await assert.rejects(dialler.reserve(quotaRequest('final-over')), RegistryQuotaExceededError);
    for (const reservation of final) {
      assert.equal(await dialler.release(reservation.workerId, reservation.token), true);
    }

    const reservedEvents = events.filter((event) => event.type === 'reserved');
    assert.equal(new Set(events.map((event) => event.id)).size, events.length, 'event ids repeat');
    assert.equal(reservedEvents.length, traffic.reserved, 'reserved events');
    assert.equal(
      events.filter((event) => event.type === 'confirmed').length,
      traffic.confirmed,
      'confirmed events',
    );
    assert.equal(
      events.filter((event) => event.type === 'released').length,
      traffic.released,
      'released events',
    );
    const streamFences = reservedEvents.map((event) => event.fence ?? 0);
    streamFences.forEach((fence, i) => {
      const previous = streamFences[i - 1];
      if (previous !== undefined) assert.ok(fence > previous, `fence ${fence} after ${previous}`);
    });
    assert.deepEqual(
      [...streamFences].sort((a, b) => a - b),
      [...traffic.fences].sort((a, b) => a - b),
      'the stream carries the fences the loops saw',
    );
  } finally {
    traffic.running = false;
    // After a failure, calls may wait on a cluster left mid-move, and closing the
    // registries ends them.
    await Promise.race([Promise.allSettled(tasks), sleep(15_000, undefined, { ref: false })]);
    for (const registry of registries) await registry.close();
  }
});

test('cluster client handles ASKING rejections', { timeout: 150_000 }, async () => {
  const location = parseRegistryUrl(server().url);
  if (location.kind !== 'redis-cluster') assert.fail(`${server().url} is not a cluster URL`);
  const client = createClient(location, 5_000);
  assert.ok(client instanceof Cluster);
  const unhandled: unknown[] = [];
  const recordUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', recordUnhandled);
  try {
    await connectWithin(client, 5_000);
    const key = `asking-${randomUUID()}:{asking}:count`;
    await client.set(key, '0');
    const [first] = server().nodes;
    assert.ok(first);
    const slot = Number(await callNode(first.port, 'CLUSTER', 'KEYSLOT', key));
    const ownerPort = await ownerOf(first.port, slot);
    const target = await server().addPrimary();
    // The slot stays mid-move with its key on the target, which owns no slot, so every
    // command on the key gets an ASK redirection to it. The file's `after` stops the cluster
    // in that state.
    const sourceId = String(await callNode(ownerPort, 'CLUSTER', 'MYID'));
    const targetId = await nodeId(target);
    await callNode(target.port, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId);
    await callNode(ownerPort, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', targetId);
    await callNode(
      ownerPort,
      'MIGRATE',
      '127.0.0.1',
      String(target.port),
      '',
      '0',
      '5000',
      'KEYS',
      key,
    );

    // Each time the client connects to the target, a slot refresh drops the target again,
    // which closes the connection while ASKING and the command wait on it.
    const refresh = () => new Promise<void>((resolve) => client.refreshSlotsCache(() => resolve()));
    client.on('+node', () => void refresh());
    // A round meets the closed connection about one time in five on an idle machine, and a
    // round takes about 0.5 s, so rounds go on until one does, for at most 90 s.
    let closedDuringAsk = 0;
    const giveUpAt = Date.now() + 90_000;
    while (closedDuringAsk === 0 && Date.now() < giveUpAt) {
      await refresh();
      try {
        await client.incr(key);
      } catch (err) {
        // The refreshes use up the redirections, so commands fail here, which is expected.
        if (String(err).includes('Connection is closed')) closedDuringAsk += 1;
      }
    }
    await sleep(200);
    assert.ok(closedDuringAsk > 0, 'no command met a connection closed by a refresh');
    assert.deepEqual(unhandled.map(String), [], 'unhandled rejections');
  } finally {
    process.off('unhandledRejection', recordUnhandled);
    client.disconnect();
  }
});
