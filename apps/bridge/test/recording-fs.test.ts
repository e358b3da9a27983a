import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';

import { FsRecordingStore } from '../src/recordings/fs-recording-store.js';
import { runRecordingContract } from './recording-contract.js';

runRecordingContract('fs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'voxbridge-recordings-'));
  const store = new FsRecordingStore({ dir: join(dir, 'recordings') });
  await store.init();
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

test('fs store leaves no temp file on failure', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'voxbridge-recordings-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new FsRecordingStore({ dir });
  await store.init();
  const source = new Readable({
    read() {
      this.destroy(new Error('client went away'));
    },
  });
  await assert.rejects(store.put('ten_1/call_1.wav', source), /client went away/);
  assert.deepEqual(await readdir(dir), []);
});
