/**
 * Slot events that close call records: an `expired` worker closes its answered call as
 * `worker-lost`, and a `released` inbound call with no result closes as `no-result` after
 * the grace period. Runs on a real SQLite store.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { createLogger } from '@voxfleet/logger';
import type { SlotEvent } from '@voxfleet/registry';
import { BotConfig } from '@voxfleet/schema';
import type { CallResult } from '@voxfleet/schema';

import { LostCalls } from '../src/routes/lost-calls.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

const CONFIG = BotConfig.parse({
  start: 'bye',
  nodes: { bye: { type: 'hangup', outcome: 'done' } },
});
const T1 = '2026-01-01T10:01:00.000Z';
const T2 = '2026-01-01T10:02:00.000Z';
const GRACE_MS = 100;

function slotEvent(type: SlotEvent['type'], callId: string): SlotEvent {
  return {
    id: `${type}-${callId}`,
    type,
    workerId: 'w1',
    pool: 'default',
    host: 'h',
    at: Date.parse(T2),
    callId,
  };
}

describe('lost calls', () => {
  let store: SqliteStore;
  let lost: LostCalls;
  let tenantId: string;
  let botId: string;

  beforeEach(async () => {
    store = new SqliteStore({ path: ':memory:' });
    await store.init();
    tenantId = (await store.createTenant('acme', { hash: '1'.padStart(64, '0'), prefix: 'vfk_1' }))
      .tenant.id;
    botId = (await store.createBot(tenantId, { name: 'line', config: CONFIG })).id;
    lost = new LostCalls({
      store,
      logger: createLogger({ service: 'test', level: 'silent' }),
      releaseGraceMs: GRACE_MS,
      now: () => new Date(T2),
    });
  });

  afterEach(async () => {
    await lost.stop();
    await store.close();
  });

  function result(callId: string): CallResult {
    return {
      callId,
      botId,
      workerId: 'w1',
      status: 'completed',
      outcome: 'done',
      hangupBy: 'bot',
      startedAt: T1,
      endedAt: T2,
      durationMs: 60_000,
      transcript: [],
      timeline: [],
      recording: null,
      error: null,
    };
  }

  async function inboundCall(id: string): Promise<void> {
    await store.createInboundCall({
      id,
      tenantId,
      botId,
      from: '+15550000009',
      to: '+15550000001',
      carrierCallId: `CA-${id}`,
      status: 'in-progress',
      reason: null,
      workerId: 'w1',
      at: T1,
    });
  }

  test('expired worker closes its call', async () => {
    await inboundCall('call_expired');
    await lost.onEvents([slotEvent('expired', 'call_expired')]);
    const call = await store.getCallById('call_expired');
    assert.equal(call?.status, 'failed');
    assert.equal(call?.reason, 'worker-lost');
  });

  test('release without result closes after grace', async () => {
    await inboundCall('call_silent');
    await lost.onEvents([slotEvent('released', 'call_silent')]);
    assert.equal((await store.getCallById('call_silent'))?.status, 'in-progress');
    await sleep(GRACE_MS * 3);
    const call = await store.getCallById('call_silent');
    assert.equal(call?.status, 'failed');
    assert.equal(call?.reason, 'no-result');
    assert.equal(call?.endedAt, T2);

    // A result from the worker's spool that arrives later is still stored.
    const saved = await store.saveCallResult('call_silent', result('call_silent'), T2);
    assert.equal(saved.call.result?.outcome, 'done');
  });

  test('release after a result changes nothing', async () => {
    await inboundCall('call_done');
    await store.saveCallResult('call_done', result('call_done'), T2);
    await lost.onEvents([slotEvent('released', 'call_done')]);
    await sleep(GRACE_MS * 3);
    const call = await store.getCallById('call_done');
    assert.equal(call?.status, 'completed');
    assert.equal(call?.reason, null);
  });

  test('stop cancels pending release checks', async () => {
    await inboundCall('call_pending');
    await lost.onEvents([slotEvent('released', 'call_pending')]);
    await lost.stop();
    await sleep(GRACE_MS * 3);
    assert.equal((await store.getCallById('call_pending'))?.status, 'in-progress');
  });

  test('unknown call ids are ignored', async () => {
    await lost.onEvents([
      slotEvent('expired', 'call_missing'),
      slotEvent('released', 'call_missing'),
    ]);
    await sleep(GRACE_MS * 3);
    assert.equal(await store.getCallById('call_missing'), null);
  });
});
