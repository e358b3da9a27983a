/**
 * End to end through each non-Twilio media-stream protocol: the local stack (separate
 * processes, SQLite, the sim carrier at 10x speed) runs a six-contact campaign with the sim
 * carrier speaking Exotel, Plivo or Telnyx to the workers. Every contact must reach its
 * scenario's outcome, and every call's result must record the provider its stream used.
 *
 * NOTE: each provider starts its own stack, so the file takes about 75 s on a 2-core machine,
 * over the 60 s that other test files keep to.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ApiClient, LocalStack, runDemo } from '../src/index.ts';

const examples = fileURLToPath(new URL('../../../examples/', import.meta.url));

// The silent and hangup-early contacts come first: the first call on each fresh worker
// sets up slowly, and their outcomes do not depend on the bot's timing.
const CONTACTS_CSV = [
  'phone,name,scenario',
  '+919800000101,Silent Caller,silent',
  '+919800000102,Early Hangup,hangup-early',
  '+919800000103,First Presser,press-1',
  '+919800000104,Second Presser,press-2',
  '+919800000105,Speaker,speak',
  '+919800000106,Third Presser,press-1',
  '',
].join('\n');

const EXPECTED_OUTCOMES = {
  'no-response': 1,
  'caller-hangup': 1,
  confirmed: 2,
  'reschedule-requested': 1,
  'callback-requested': 1,
};

for (const [offset, provider] of (['exotel', 'plivo', 'telnyx'] as const).entries()) {
  test(`campaign over ${provider} streams`, { timeout: 180_000 }, async (t) => {
    const dataDir = await mkdtemp(join(tmpdir(), `voxfleet-e2e-${provider}-`));
    const logs: string[] = [];
    const output = new PassThrough();
    output.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    const stack = new LocalStack({
      host: '127.0.0.1',
      basePort: 20_000 + Math.floor(Math.random() * 6_000) + offset * 7_000,
      workers: 2,
      dataDir,
      simSpeed: 10,
      logLevel: 'info',
      provider,
      output,
      colour: false,
    });
    let passed = false;
    t.after(async () => {
      if (!passed) console.log(logs.join('').split('\n').slice(-80).join('\n'));
      await stack.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    const info = await stack.start();
    const contactsFile = join(dataDir, 'contacts.csv');
    await writeFile(contactsFile, CONTACTS_CSV);
    const report = await runDemo({
      bridgeUrl: info.bridgeUrl,
      apiKey: info.apiKey,
      botFile: join(examples, 'demo-bot.json'),
      contactsFile,
      concurrency: 2,
      maxAttempts: 1,
      retryBackoffMs: 200,
      timeoutMs: 120_000,
      output: new PassThrough(),
      interactive: false,
    });

    assert.deepEqual(report.problems, []);
    assert.equal(report.contacts, 6);
    assert.equal(report.contactsDone, 6);
    assert.equal(report.answered, 6);
    assert.equal(report.results, 6);
    assert.equal(report.recordings, 6);
    assert.deepEqual(report.outcomes, EXPECTED_OUTCOMES);

    const api = new ApiClient({ baseUrl: info.bridgeUrl, apiKey: info.apiKey });
    const calls: { items: Array<{ id: string }> } = await api.request(
      'GET',
      `/v1/calls?campaignId=${report.campaignId}&limit=100`,
    );
    assert.equal(calls.items.length, 6);
    for (const call of calls.items) {
      const detail: {
        result: {
          status: string;
          timeline: Array<{ event: string; detail?: Record<string, unknown> }>;
        };
      } = await api.request('GET', `/v1/calls/${call.id}`);
      assert.equal(detail.result.status, 'completed', `call ${call.id}`);
      const started = detail.result.timeline.find((entry) => entry.event === 'stream-started');
      assert.equal(started?.detail?.['provider'], provider, `call ${call.id}`);
    }
    passed = true;
  });
}
