import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { openRegistry } from '../src/index.js';
import { startTestRedis, type TestRedis } from './redis-server.js';
import { worker } from './contract.js';

const run = promisify(execFile);
const fixtures = join(import.meta.dirname, 'fixtures');
const nodeArgs = ['--conditions=development', '--import', 'tsx'];

let dir = '';
let redis: TestRedis | undefined;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'voxfleet-registry-'));
  redis = await startTestRedis();
});

after(async () => {
  await redis?.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('sqlite processes never share a slot', async () => {
  const dbPath = join(dir, 'shared.db');
  const lockDir = join(dir, 'held');
  await mkdir(lockDir);
  const registry = await openRegistry(`sqlite:${dbPath}`);
  try {
    for (let i = 0; i < 3; i += 1) await registry.register(worker(`w${i}`));
  } finally {
    await registry.close();
  }

  const children = Array.from({ length: 4 }, (_, index) =>
    run(
      process.execPath,
      [...nodeArgs, join(fixtures, 'reserve-loop.ts'), dbPath, lockDir, '150', String(index)],
      { timeout: 45_000 },
    ),
  );
  const outputs = (await Promise.all(children)).map(
    ({ stdout }) =>
      JSON.parse(stdout) as { reserved: number; fences: number[]; violations: string[] },
  );

  const fences = outputs.flatMap((output) => output.fences);
  assert.deepEqual(
    outputs.flatMap((output) => output.violations),
    [],
  );
  assert.equal(new Set(fences).size, fences.length, 'every fence is unique');
  assert.ok(fences.length >= 100, `only ${fences.length} reservations succeeded`);
  for (const output of outputs) assert.ok(output.reserved > 0, 'every child got a slot');
});

test('openRegistry loads only the backend it needs', async () => {
  const sqlite = await run(process.execPath, [
    ...nodeArgs,
    join(fixtures, 'load-backend.ts'),
    `sqlite:${join(dir, 'lazy.db')}`,
  ]);
  assert.deepEqual(JSON.parse(sqlite.stdout), { ioredis: false, sqliteDriver: true });

  assert.ok(redis);
  const viaRedis = await run(process.execPath, [
    ...nodeArgs,
    join(fixtures, 'load-backend.ts'),
    redis.url,
  ]);
  assert.deepEqual(JSON.parse(viaRedis.stdout), { ioredis: true, sqliteDriver: false });
});
