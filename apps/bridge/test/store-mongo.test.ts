/**
 * The MongoDB store: the store contract suite against a real server whenever MONGO_URL is
 * set, and unit tests of the document mapping and update plans that need no server.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';

import { CallResult } from '@voxfleet/schema';
import { BSON, MongoClient } from 'mongodb';

import { loadEnv } from '../src/env.js';
import { BridgeError } from '../src/errors.js';
import { toCall, toContact, toHistory } from '../src/store/mongo/documents.js';
import type { CallDoc, ContactDoc } from '../src/store/mongo/documents.js';
import { MongoStore } from '../src/store/mongo/mongo-store.js';
import {
  callListFilter,
  canonicalJson,
  contactListFilter,
  dueContactFilter,
  openSlotFilter,
  planResultUpdate,
  planStatusUpdate,
} from '../src/store/mongo/plans.js';
import type { Call } from '../src/store/types.js';
import { runStoreContract } from './store-contract.js';

const MONGO_URL = process.env.MONGO_URL;
const SKIP_MESSAGE = 'MONGO_URL is not set; MongoDB contract tests skipped';

if (MONGO_URL === undefined || MONGO_URL === '') {
  test('mongo store contract', { skip: SKIP_MESSAGE }, () => {});
} else {
  const url = MONGO_URL;
  runStoreContract('mongo', async () => {
    // A database of its own per test, dropped afterwards.
    const dbName = `voxbridge_test_${randomUUID().slice(0, 8)}`;
    const store = new MongoStore({ url, dbName, serverSelectionTimeoutMs: 5000 });
    await store.init();
    return {
      store,
      async cleanup() {
        await store.close();
        const client = new MongoClient(url);
        try {
          await client.db(dbName).dropDatabase();
        } finally {
          await client.close();
        }
      },
    };
  });
}

const T1 = '2026-01-01T10:01:00.000Z';
const T2 = '2026-01-01T10:02:00.000Z';

function callDoc(overrides: Partial<CallDoc> = {}): CallDoc {
  return {
    _id: 'call_1',
    seq: 7,
    tenantId: 'ten_1',
    botId: 'bot_1',
    campaignId: 'cmp_1',
    contactId: 'cnt_1',
    attempt: 1,
    to: '+15550000001',
    status: 'queued',
    reason: null,
    carrierCallId: null,
    workerId: null,
    createdAt: T1,
    updatedAt: T1,
    answeredAt: null,
    endedAt: null,
    outcome: null,
    result: null,
    recording: null,
    history: [{ status: 'queued', at: T1, reason: null }],
    ...overrides,
  };
}

function call(overrides: Partial<CallDoc> = {}): Call {
  return toCall(callDoc(overrides));
}

function result(overrides: Partial<CallResult> = {}): CallResult {
  return CallResult.parse({
    callId: 'call_1',
    botId: 'bot_1',
    workerId: 'worker-1',
    status: 'completed',
    outcome: 'informed',
    hangupBy: 'bot',
    startedAt: T1,
    endedAt: T2,
    durationMs: 60_000,
    transcript: [{ kind: 'dtmf', atMs: 2500, digit: '1' }],
    timeline: [{ event: 'stream-started', at: T1 }],
    recording: null,
    error: null,
    ...overrides,
  });
}

/** Encodes and decodes a document as the driver does with `ignoreUndefined: true`. */
function throughBson<T extends object>(doc: T): T {
  return BSON.deserialize(BSON.serialize(doc, { ignoreUndefined: true })) as T;
}

describe('mongo documents', () => {
  test('contact variables survive unsafe names', () => {
    const doc: ContactDoc = {
      _id: 'cnt_1',
      seq: 1,
      tenantId: 'ten_1',
      campaignId: 'cmp_1',
      phone: '+15550000001',
      name: null,
      scenario: null,
      variables: [
        { name: '$where', value: 'x' },
        { name: 'a.b', value: 'y' },
      ],
      state: 'pending',
      attempts: 0,
      nextAttemptAt: T1,
      lastCallId: null,
      createdAt: T1,
      updatedAt: T1,
    };
    const contact = toContact(throughBson(doc));
    assert.deepEqual(contact.variables, { $where: 'x', 'a.b': 'y' });
    assert.equal(contact.id, 'cnt_1');
    assert.equal(contact.state, 'pending');
  });

  test('call result round trips through BSON', () => {
    const stored = throughBson(callDoc({ status: 'completed', result: result() }));
    const mapped = toCall(stored);
    assert.deepEqual(mapped.result, result());
    assert.equal(canonicalJson(mapped.result), canonicalJson(result()));
    assert.deepEqual(toHistory(stored), [{ status: 'queued', at: T1, reason: null }]);
  });

  test('corrupt status fails loudly', () => {
    assert.throws(() => toCall(callDoc({ status: 'lost' })));
  });
});

describe('mongo status plan', () => {
  test('forward move sets times and history', () => {
    const plan = planStatusUpdate(call({ status: 'ringing' }), {
      status: 'in-progress',
      at: T2,
      workerId: 'w1',
    });
    assert.equal(plan.statusChanged, true);
    assert.equal(plan.set.status, 'in-progress');
    assert.equal(plan.set.answeredAt, T2);
    assert.equal(plan.set.endedAt, undefined);
    assert.equal(plan.set.workerId, 'w1');
    assert.deepEqual(plan.history, { status: 'in-progress', at: T2, reason: null });
  });

  test('backward or final move is ignored', () => {
    const back = planStatusUpdate(call({ status: 'ringing' }), { status: 'dialling', at: T2 });
    assert.equal(back.statusChanged, false);
    assert.deepEqual(back.set, {});
    assert.equal(back.history, null);
    const late = planStatusUpdate(call({ status: 'completed' }), {
      status: 'in-progress',
      at: T2,
      carrierCallId: 'c-1',
    });
    assert.equal(late.statusChanged, false);
    assert.deepEqual(late.set, { carrierCallId: 'c-1' });
  });

  test('final move sets end and keeps answer', () => {
    const plan = planStatusUpdate(call({ status: 'in-progress', answeredAt: T1 }), {
      status: 'completed',
      at: T2,
      reason: 'hangup',
    });
    assert.equal(plan.set.endedAt, T2);
    assert.equal(plan.set.answeredAt, undefined);
    assert.equal(plan.set.reason, 'hangup');
  });
});

describe('mongo result plan', () => {
  test('result finalises live call', () => {
    const plan = planResultUpdate(call({ status: 'in-progress' }), result(), T2);
    assert.equal(plan.set.status, 'completed');
    assert.equal(plan.set.endedAt, T2);
    assert.equal(plan.set.workerId, 'worker-1');
    assert.deepEqual(plan.history, { status: 'completed', at: T2, reason: 'result: informed' });
  });

  test('result turns completed into aborted', () => {
    const plan = planResultUpdate(
      call({ status: 'completed', endedAt: T1, workerId: 'w0' }),
      result({ status: 'aborted', outcome: 'error', error: 'worker stopped' }),
      T2,
    );
    assert.equal(plan.set.status, 'aborted');
    assert.equal(plan.set.endedAt, T1);
    assert.equal(plan.set.workerId, 'w0');
    assert.equal(plan.set.reason, 'worker stopped');
    assert.equal(plan.history?.status, 'aborted');
  });

  test('result leaves busy alone', () => {
    const plan = planResultUpdate(call({ status: 'busy' }), result({ status: 'failed' }), T2);
    assert.equal(plan.set.status, undefined);
    assert.equal(plan.set.outcome, 'informed');
    assert.equal(plan.history, null);
  });

  test('canonical json ignores key order', () => {
    assert.equal(
      canonicalJson({ a: 1, b: { c: 2, d: 3 } }),
      canonicalJson({ b: { d: 3, c: 2 }, a: 1 }),
    );
    assert.notEqual(canonicalJson({ a: 1 }), canonicalJson({ a: 2 }));
  });
});

describe('mongo filters', () => {
  test('slot filter bounds slots by concurrency', () => {
    assert.deepEqual(openSlotFilter('cmp_1'), {
      _id: 'cmp_1',
      status: 'running',
      $expr: { $lt: [{ $size: '$slots' }, '$concurrency'] },
    });
  });

  test('due filter matches pending contacts', () => {
    assert.deepEqual(dueContactFilter('cmp_1', T1), {
      campaignId: 'cmp_1',
      state: 'pending',
      nextAttemptAt: { $lte: T1 },
    });
  });

  test('list filters skip unset fields', () => {
    assert.deepEqual(callListFilter('ten_1', { limit: 10 }, 50), {
      tenantId: 'ten_1',
      seq: { $lt: 50 },
    });
    assert.deepEqual(
      callListFilter(
        'ten_1',
        { limit: 10, campaignId: 'cmp_1', botId: 'bot_1', status: 'busy' },
        9,
      ),
      { tenantId: 'ten_1', seq: { $lt: 9 }, campaignId: 'cmp_1', botId: 'bot_1', status: 'busy' },
    );
    assert.deepEqual(contactListFilter('cmp_1', { limit: 5, state: 'done' }, 3), {
      campaignId: 'cmp_1',
      seq: { $gt: 3 },
      state: 'done',
    });
  });
});

/** Returns a loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('mongo store without server', () => {
  test('init fails with STORE_UNAVAILABLE', async () => {
    const port = await closedPort();
    const store = new MongoStore({
      url: `mongodb://127.0.0.1:${port}`,
      dbName: 'voxfleet',
      serverSelectionTimeoutMs: 300,
    });
    assert.equal(await store.ping(), false);
    await assert.rejects(
      store.listBots('ten_1'),
      (err: unknown) => err instanceof BridgeError && err.code === 'STORE_UNAVAILABLE',
    );
    await assert.rejects(
      store.init(),
      (err: unknown) =>
        err instanceof BridgeError &&
        err.code === 'STORE_UNAVAILABLE' &&
        err.message.includes('MONGO_URL'),
    );
    await store.close();
    await store.close();
    await assert.rejects(store.init(), /store is closed/);
  });
});

describe('mongo environment', () => {
  const BASE = { BRIDGE_INTERNAL_TOKEN: 'internal-token-for-tests' };

  test('sqlite store by default', () => {
    assert.equal(loadEnv(BASE).mongo, undefined);
    assert.equal(loadEnv({ ...BASE, MONGO_URL: 'mongodb://mongo:27017' }).mongo, undefined);
  });

  test('mongo settings are parsed', () => {
    const env = loadEnv({ ...BASE, BRIDGE_STORE: 'mongo', MONGO_URL: 'mongodb://mongo:27017' });
    assert.deepEqual(env.mongo, { url: 'mongodb://mongo:27017', dbName: 'voxfleet' });
    const named = loadEnv({
      ...BASE,
      BRIDGE_STORE: 'mongo',
      MONGO_URL: 'mongodb+srv://cluster.example/',
      MONGO_DB: 'calls',
    });
    assert.equal(named.mongo?.dbName, 'calls');
  });

  test('mongo settings are validated', () => {
    assert.throws(() => loadEnv({ ...BASE, BRIDGE_STORE: 'mongo' }), /MONGO_URL: is required/);
    assert.throws(
      () => loadEnv({ ...BASE, BRIDGE_STORE: 'mongo', MONGO_URL: 'http://mongo' }),
      /MONGO_URL: must start with "mongodb:\/\/"/,
    );
    assert.throws(() => loadEnv({ ...BASE, BRIDGE_STORE: 'postgres' }), /BRIDGE_STORE/);
  });
});
