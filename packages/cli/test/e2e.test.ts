/**
 * End to end: the local stack as `voxfleet start` runs it (separate processes, SQLite,
 * filesystem recordings, the sim carrier at 10x speed) runs the demo campaign; every
 * contact must reach a final state and every answered call must have its result and
 * recording stored.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiClient, LocalStack, runDemo, type DemoReport, type StackInfo } from '../src/index.ts';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));
const basePort = 20_000 + Math.floor(Math.random() * 20_000);
let dataDir: string;
let stack: LocalStack;
let info: StackInfo;
const logs: string[] = [];

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'voxfleet-e2e-'));
  const output = new PassThrough();
  output.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
  stack = new LocalStack({
    host: '127.0.0.1',
    basePort,
    workers: 4,
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
  if (process.env.VOXFLEET_KEEP_E2E_LOG) {
    console.log(logs.join(''));
  }
  await rm(dataDir, { recursive: true, force: true });
});

test('demo campaign completes with every result stored', { timeout: 240_000 }, async (t) => {
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  let report: DemoReport;
  try {
    report = await runDemo({
      bridgeUrl: info.bridgeUrl,
      apiKey: info.apiKey,
      botFile: join(examples, 'demo-bot.json'),
      contactsFile: join(examples, 'contacts.csv'),
      concurrency: 4,
      maxAttempts: 2,
      retryBackoffMs: 200,
      timeoutMs: 180_000,
      output,
      interactive: false,
    });
  } catch (error) {
    console.log(printed);
    console.log(logs.join('').split('\n').slice(-80).join('\n'));
    throw error;
  }
  t.after(() => {
    // The table and the stack's last lines explain a failed assertion.
    if (!passed) console.log(`${printed}\n${logs.join('').split('\n').slice(-60).join('\n')}`);
  });
  let passed = false;

  assert.deepEqual(report.problems, []);
  assert.equal(report.contacts, 22);
  assert.equal(report.contactsDone + report.contactsFailed, 22);
  assert.ok(report.answered >= 17, `answered ${report.answered}`);
  assert.equal(report.results, report.answered);
  assert.equal(report.recordings, report.answered);
  // Busy, no-answer and failed contacts are retried once (maxAttempts 2).
  assert.equal(report.callsPlaced, 22 + 5);
  assert.equal(report.outcomes['confirmed'], 6);
  assert.equal(report.outcomes['reschedule-requested'], 3);
  assert.equal(report.outcomes['callback-requested'], 4);
  assert.equal(report.outcomes['no-response'], 2);
  assert.equal(report.outcomes['caller-hangup'], 2);

  // One answered call in detail: transcript, DTMF and timeline.
  const api = new ApiClient({ baseUrl: info.bridgeUrl, apiKey: info.apiKey });
  const calls: { items: Array<{ id: string; status: string }> } = await api.request(
    'GET',
    `/v1/calls?campaignId=${report.campaignId}&status=completed&limit=100`,
  );
  let sawDtmf = false;
  for (const call of calls.items) {
    const detail: {
      result: {
        transcript: Array<{ kind: string; digit?: string }>;
        timeline: Array<{ event: string }>;
      };
    } = await api.request('GET', `/v1/calls/${call.id}`);
    const events = detail.result.timeline.map((entry) => entry.event);
    assert.ok(events.includes('stream-started'), `timeline of ${call.id}: ${events.join(',')}`);
    assert.ok(detail.result.transcript.some((entry) => entry.kind === 'prompt'));
    if (detail.result.transcript.some((entry) => entry.kind === 'dtmf')) sawDtmf = true;
  }
  assert.ok(sawDtmf, 'some call recorded a DTMF digit');
  passed = true;
});
