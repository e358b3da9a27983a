import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { openDatabase } from '@voxfleet/sqlite';

import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { runStoreContract } from './store-contract.js';

runStoreContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'voxbridge-store-'));
  const store = new SqliteStore({ path: join(dir, 'bridge.db') });
  await store.init();
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

test('sqlite store reopens with WAL', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'voxbridge-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'nested', 'bridge.db');

  const first = new SqliteStore({ path });
  await first.init();
  await first.createTenant('acme', { hash: 'a'.repeat(64), prefix: 'vfk_a' });
  await first.close();
  assert.equal(await first.ping(), false);

  const second = new SqliteStore({ path });
  await second.init();
  t.after(() => second.close());
  assert.equal(await second.ping(), true);
  assert.equal((await second.findApiKey('a'.repeat(64)))?.tenant.name, 'acme');

  const raw = openDatabase({ path, readOnly: true });
  t.after(() => raw.close());
  assert.equal(raw.pragmaValue('journal_mode'), 'wal');
  assert.equal(raw.pragmaValue('user_version'), 2);
});
