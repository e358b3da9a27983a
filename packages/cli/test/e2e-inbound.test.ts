/**
 * End to end for inbound lines: the local stack as `voxfleet start` runs it (separate
 * processes, SQLite, the sim carrier at 10x speed). The sim carrier rings the demo bot's
 * number through each carrier's webhook and markup. Every call must reach a worker and end
 * with its result and recording stored, marked inbound.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiClient, LocalStack, runInboundCalls, type StackInfo } from '../src/index.ts';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const basePort = 20_000 + Math.floor(Math.random() * 20_000);
let dataDir: string;
let stack: LocalStack;
let info: StackInfo;
const logs: string[] = [];

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'voxfleet-e2e-inbound-'));
  const output = new PassThrough();
  output.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
  stack = new LocalStack({
    host: '127.0.0.1',
    basePort,
    workers: 2,
    dataDir,
    simSpeed: 10,
    logLevel: 'info',
    output,
    colour: false,
  });
  info = await stack.start();
});

after(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

test('inbound calls on every carrier reach a worker', { timeout: 180_000 }, async (t) => {
  const api = new ApiClient({ baseUrl: info.bridgeUrl, apiKey: info.apiKey });
  const definition = JSON.parse(await readFile(join(examples, 'demo-bot.json'), 'utf8')) as object;
  const bot: { id: string } = await api.request('POST', '/v1/bots', definition);
  let printed = '';
  const output = new PassThrough();
  output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  let passed = false;
  t.after(() => {
    if (!passed) console.log(`${printed}\n${logs.join('').split('\n').slice(-60).join('\n')}`);
  });

  for (const provider of ['twilio', 'plivo', 'telnyx', 'exotel'] as const) {
    // A worker frees its slot just after its result is stored, so each round starts once
    // both slots are idle again.
    await waitForIdleSlots(api, 2);
    const report = await runInboundCalls({
      api,
      botId: bot.id,
      carrierUrl: `http://127.0.0.1:${basePort + 20}`,
      carrierSecret: stack.secrets?.carrierSecret,
      count: 2,
      provider,
      timeoutMs: 120_000,
      output,
    });
    assert.deepEqual(report.problems, [], provider);
    assert.equal(report.placed, 2, provider);
    assert.equal(report.answered, 2, provider);
    assert.equal(report.results, report.answered, provider);
    assert.equal(report.recordings, report.answered, provider);
  }

  const page: { items: Array<{ direction: string; status: string; answeredAt: string | null }> } =
    await api.request('GET', `/v1/calls?direction=inbound&botId=${bot.id}&limit=100`);
  assert.equal(page.items.length, 8);
  assert.ok(page.items.every((call) => call.direction === 'inbound'));
  assert.ok(page.items.every((call) => call.answeredAt !== null));
  assert.ok(
    page.items.every((call) => call.status === 'completed'),
    JSON.stringify(page.items),
  );
  const outbound: { items: unknown[] } = await api.request('GET', '/v1/calls?direction=outbound');
  assert.equal(outbound.items.length, 0);
  passed = true;
});

async function waitForIdleSlots(api: ApiClient, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const fleet: { counts: { idle: number } } = await api.request('GET', '/v1/fleet');
    if (fleet.counts.idle >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${fleet.counts.idle} of ${count} slots idle`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
