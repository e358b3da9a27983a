import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import {
  CallbackReceiver,
  TEST_SECRET,
  TestWorker,
  callRequest,
  placeCall,
  waitFor,
} from './helpers.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

test('main stops calls on SIGTERM', { timeout: 30_000 }, async (t) => {
  const receiver = await new CallbackReceiver().start();
  const worker = await new TestWorker().start();
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', MAIN], {
    env: {
      ...process.env,
      CARRIER_SIM_PORT: '0',
      CARRIER_SIM_SPEED: '10',
      CARRIER_CALLBACK_SECRET: TEST_SECRET,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await worker.close();
    await receiver.close();
  });

  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const url = await waitFor(
    'listening log line',
    () => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1],
    20_000,
  );

  const carrierCallId = await placeCall(url, callRequest(worker, receiver, { scenario: 'silent' }));
  const conn = await worker.nextConnection();
  await conn.waitForEvent('start');

  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];

  assert.equal(code, 0);
  assert.equal(conn.byEvent('stop').length, 1);
  assert.deepEqual(receiver.statuses(carrierCallId), ['ringing', 'answered', 'completed']);
  assert.equal(receiver.received[0]?.headers['x-carrier-secret'], TEST_SECRET);
  assert.match(output, /"msg":"carrier stopped"/);
  assert.ok(!output.includes(TEST_SECRET), 'the callback secret was logged');
  assert.ok(!output.includes('secret-token'), 'the stream URL token was logged');
});

test('main exits 1 on an invalid environment', { timeout: 20_000 }, async () => {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', MAIN], {
    env: { ...process.env, CARRIER_SIM_SPEED: 'fast' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 1);
  assert.match(stderr, /CARRIER_SIM_SPEED/);
});
