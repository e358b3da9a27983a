import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openRegistry } from '../src/index.js';
import { runContractSuite, worker, reserveRequest } from './contract.js';

async function createTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'voxfleet-registry-'));
}

runContractSuite('sqlite', async () => {
  const dir = await createTempDir();
  const path = join(dir, 'registry.db');
  return {
    open: () => openRegistry(`sqlite:${path}`),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test('sqlite injectable clock drives expiry', async () => {
  let now = 1_000_000;
  const registry = await openRegistry('sqlite::memory:', { now: () => now });
  try {
    await registry.register(worker('w1', { ttlMs: 10_000 }));
    const reservation = await registry.reserve(reserveRequest('c1', { reservationTtlMs: 500 }));
    assert.equal(reservation?.deadline, 1_000_500);
    assert.equal((await registry.list())[0]?.expiresAt, 1_010_000);

    now += 500;
    assert.equal((await registry.list())[0]?.state, 'idle');
    assert.equal(await registry.confirm('w1', reservation?.token ?? ''), 'expired');

    now += 9_499;
    assert.equal((await registry.list()).length, 1);
    now += 1;
    assert.deepEqual(await registry.list(), []);
    assert.equal(await registry.heartbeat('w1', 10_000), false);
  } finally {
    await registry.close();
  }
});

test('sqlite fence survives reopening the file', async () => {
  const dir = await createTempDir();
  const url = `sqlite:${join(dir, 'registry.db')}`;
  try {
    const first = await openRegistry(url);
    await first.register(worker('w1'));
    const a = await first.reserve(reserveRequest('c1'));
    await first.deregister('w1');
    await first.close();

    const second = await openRegistry(url);
    await second.register(worker('w1'));
    const b = await second.reserve(reserveRequest('c2'));
    await second.close();
    assert.ok(a, 'first reservation');
    assert.ok(b, 'second reservation');
    assert.ok(b.fence > a.fence, `fence ${b.fence} after ${a.fence}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sqlite unwritable path is unavailable', async () => {
  await assert.rejects(openRegistry('sqlite:/proc/voxfleet/registry.db'), {
    code: 'REGISTRY_UNAVAILABLE',
  });
});
