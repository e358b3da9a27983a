/**
 * Stores written before inbound lines existed: the SQLite migration and the MongoDB
 * document mapping read their calls as outbound and their bots as keyless.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { openDatabase } from '@voxfleet/sqlite';

import { toBot, toCall } from '../src/store/mongo/documents.js';
import type { BotDoc, CallDoc } from '../src/store/mongo/documents.js';
import { callListFilter } from '../src/store/mongo/plans.js';
import { MIGRATIONS } from '../src/store/sqlite/migrations.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';

const T0 = '2026-01-01T10:00:00.000Z';
const CONFIG = JSON.stringify({
  start: 'bye',
  nodes: { bye: { type: 'hangup', outcome: 'done' } },
});

test('sqlite migration reads earlier calls as outbound', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'voxbridge-migration-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'bridge.db');

  // A database as the first schema version left it, with one bot and one call.
  const raw = openDatabase({ path });
  raw.exec(MIGRATIONS[0] ?? '');
  raw.pragma('user_version = 1');
  raw
    .prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)')
    .run('ten_1', 'acme', T0);
  raw
    .prepare(
      `INSERT INTO bots (id, tenant_id, name, config, revision, created_at, updated_at)
       VALUES ('bot_1', 'ten_1', 'b', ?, 1, ?, ?)`,
    )
    .run(CONFIG, T0, T0);
  raw
    .prepare(
      `INSERT INTO calls (id, tenant_id, bot_id, campaign_id, contact_id, attempt, to_phone,
         status, created_at, updated_at)
       VALUES ('call_old', 'ten_1', 'bot_1', NULL, NULL, 1, '+15550000001', 'completed', ?, ?)`,
    )
    .run(T0, T0);
  raw.close();

  const store = new SqliteStore({ path });
  await store.init();
  t.after(() => store.close());
  const call = await store.getCallById('call_old');
  assert.equal(call?.direction, 'outbound');
  assert.equal(call?.from, null);
  assert.equal((await store.getBotById('bot_1'))?.inboundKey, null);
  const outbound = await store.listCalls('ten_1', { limit: 10, direction: 'outbound' });
  assert.deepEqual(
    outbound.items.map((item) => item.id),
    ['call_old'],
  );
  assert.equal(
    (await store.listCalls('ten_1', { limit: 10, direction: 'inbound' })).items.length,
    0,
  );
  await store.setCarrierCredential('ten_1', 'twilio', 'token', T0);
  assert.equal(await store.getCarrierCredential('ten_1', 'twilio'), 'token');
});

test('mongo documents without direction read as outbound', () => {
  const legacyCall = {
    _id: 'call_old',
    seq: 1,
    tenantId: 'ten_1',
    botId: 'bot_1',
    campaignId: null,
    contactId: null,
    attempt: 1,
    to: '+15550000001',
    status: 'completed',
    reason: null,
    carrierCallId: null,
    workerId: null,
    createdAt: T0,
    updatedAt: T0,
    answeredAt: null,
    endedAt: null,
    outcome: null,
    result: null,
    recording: null,
    history: [],
  } satisfies CallDoc;
  const call = toCall(legacyCall);
  assert.equal(call.direction, 'outbound');
  assert.equal(call.from, null);
  assert.equal(
    toCall({ ...legacyCall, direction: 'inbound', from: 'anonymous' }).from,
    'anonymous',
  );

  const legacyBot = {
    _id: 'bot_1',
    seq: 1,
    tenantId: 'ten_1',
    name: 'b',
    config: JSON.parse(CONFIG) as unknown,
    revision: 1,
    createdAt: T0,
    updatedAt: T0,
  } satisfies BotDoc;
  assert.equal(toBot(legacyBot).inboundKey, null);
  assert.equal(toBot({ ...legacyBot, inboundKey: 'vik_1' }).inboundKey, 'vik_1');
});

test('mongo call filter matches unmigrated calls as outbound', () => {
  assert.deepEqual(callListFilter('ten_1', { limit: 10, direction: 'outbound' }, 5), {
    tenantId: 'ten_1',
    seq: { $lt: 5 },
    direction: { $ne: 'inbound' },
  });
  assert.deepEqual(callListFilter('ten_1', { limit: 10, direction: 'inbound' }, 5), {
    tenantId: 'ten_1',
    seq: { $lt: 5 },
    direction: 'inbound',
  });
  assert.deepEqual(callListFilter('ten_1', { limit: 10 }, 5), {
    tenantId: 'ten_1',
    seq: { $lt: 5 },
  });
});
