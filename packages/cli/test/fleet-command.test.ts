import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openRegistry, type CapacityRegistry } from '@voxfleet/registry';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
let dir: string;
let url: string;
let registry: CapacityRegistry;

async function voxfleet(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', bin, ...args],
      { timeout: 30_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'voxfleet-fleet-cli-'));
  url = `sqlite:${join(dir, 'registry.db')}`;
  registry = await openRegistry(url);
  for (const [workerId, host] of [
    ['w1', 'host-a'],
    ['w2', 'host-b'],
  ] as const) {
    await registry.register({
      workerId,
      url: `http://127.0.0.1:1/${workerId}`,
      host,
      pool: 'default',
      labels: {},
      ttlMs: 60_000,
    });
  }
  const reservation = await registry.reserve({
    pool: 'default',
    callId: 'call-cli',
    reservationTtlMs: 60_000,
  });
  assert.ok(reservation);
  assert.equal(await registry.confirm(reservation.workerId, reservation.token), 'confirmed');
});

after(async () => {
  await registry.close();
  await rm(dir, { recursive: true, force: true });
});

test('fleet status lists slots and their call', async () => {
  const { code, stdout } = await voxfleet('fleet', 'status', '--registry-url', url);
  assert.equal(code, 0);
  assert.match(stdout, /^worker\s+host\s+pool\s+state\s+call\s+ttl left$/m);
  assert.match(stdout, /busy\s+call-cli/);
  assert.match(stdout, /2 workers: 1 idle, 1 busy/);
});

test('fleet drain by host then undrain', async () => {
  const drained = await voxfleet('fleet', 'drain', '--host', 'host-a', '--registry-url', url);
  assert.equal(drained.code, 0);
  assert.match(drained.stdout, /drained 1 workers/);
  const slot = (await registry.list()).find((s) => s.workerId === 'w1');
  assert.equal(slot?.draining, true);

  const undrained = await voxfleet('fleet', 'undrain', '--host', 'host-a', '--registry-url', url);
  assert.equal(undrained.code, 0);
  const again = (await registry.list()).find((s) => s.workerId === 'w1');
  assert.equal(again?.draining, false);
});

test('fleet drain without a filter is rejected', async () => {
  const { code, stderr } = await voxfleet('fleet', 'drain', '--registry-url', url);
  assert.equal(code, 1);
  assert.match(stderr, /needs --worker, --host or --pool/);
  const draining = (await registry.list()).filter((s) => s.draining);
  assert.equal(draining.length, 0);
});

test('fleet status as json', async () => {
  const { code, stdout } = await voxfleet('fleet', 'status', '--json', '--registry-url', url);
  assert.equal(code, 0);
  const slots = JSON.parse(stdout) as Array<{ workerId: string }>;
  assert.deepEqual(slots.map((s) => s.workerId).sort(), ['w1', 'w2']);
});

test('fleet action help prints the usage', async () => {
  for (const args of [['status', '--help'], ['drain', '-h']]) {
    const result = await voxfleet('fleet', ...args);
    assert.equal(result.code, 0, args.join(' '));
    assert.match(result.stdout, /voxfleet fleet status/);
  }
});
