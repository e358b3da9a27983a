/**
 * Inbound calls end to end on real processes and sockets: voxbridge (in this process), a
 * SQLite capacity registry, voxcore-worker processes and the sim carrier ringing the bot's
 * number. A call completes with its result and recording. A call whose stream never opens
 * and a call whose worker dies are closed too, so none stays `in-progress`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { createSimCarrier, type SimCarrier } from '@voxfleet/carrier-sim';
import { openRegistry, type CapacityRegistry } from '@voxfleet/registry';

import { INTERNAL_TOKEN, json, SIMPLE_BOT, startTestBridge, type TestBridge } from './helpers.js';
import { postForm } from './inbound-support.js';

const TO = '+15550100000';
const CARRIER_SECRET = 'carrier-secret-for-inbound-tests';
const FINAL = new Set(['completed', 'busy', 'no-answer', 'failed', 'aborted']);

type Provider = 'twilio' | 'plivo' | 'telnyx' | 'exotel';

interface CallDetail {
  id: string;
  direction: string;
  from: string | null;
  status: string;
  reason: string | null;
  workerId: string | null;
  answeredAt: string | null;
  endedAt: string | null;
  result: { outcome: string; status: string; transcript: unknown[] } | null;
  recording: { bytes: number } | null;
}

let dir: string;
let registryUrl: string;
let registry: CapacityRegistry;
let bridge: TestBridge;
let carrier: SimCarrier;
let carrierUrl: string;
const workers: ChildProcess[] = [];

/** Starts a worker process on a free port and waits until its slot is idle in the registry. */
async function startWorker(
  workerId: string,
  extraEnv: Record<string, string> = {},
): Promise<ChildProcess> {
  const entry = fileURLToPath(import.meta.resolve('@voxfleet/worker/main'));
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', entry], {
    env: {
      ...process.env,
      WORKER_ID: workerId,
      WORKER_HOST: '127.0.0.1',
      WORKER_PORT: '0',
      REGISTRY_URL: registryUrl,
      BRIDGE_URL: bridge.url,
      BRIDGE_INTERNAL_TOKEN: INTERNAL_TOKEN,
      WORKER_DATA_DIR: join(dir, workerId),
      WORKER_TTS_CACHE_DIR: join(dir, 'tts-cache'),
      WORKER_DRAIN_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  workers.push(child);
  await waitFor(`worker ${workerId} idle in the registry`, 30_000, async () => {
    const slot = (await registry.list()).find((view) => view.workerId === workerId);
    return slot?.state === 'idle' ? true : undefined;
  });
  return child;
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await once(child, 'exit');
  clearTimeout(timer);
}

async function waitFor<T>(
  description: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function callDetail(callId: string): Promise<CallDetail> {
  return (await json(await bridge.api('GET', `/v1/calls/${callId}`))) as unknown as CallDetail;
}

async function waitForFinal(callId: string, timeoutMs: number): Promise<CallDetail> {
  return waitFor(`call ${callId} to close`, timeoutMs, async () => {
    const call = await callDetail(callId);
    return FINAL.has(call.status) ? call : undefined;
  });
}

async function createBotWithKey(
  config: Record<string, unknown> = {},
): Promise<Record<Provider, string>> {
  const bot = await json(
    await bridge.api('POST', '/v1/bots', {
      ...SIMPLE_BOT,
      config: { ...SIMPLE_BOT.config, ...config },
    }),
  );
  const rotated = await json(await bridge.api('POST', `/v1/bots/${String(bot.id)}/inbound-key`));
  return rotated.inboundUrl as Record<Provider, string>;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'voxbridge-inbound-e2e-'));
  registryUrl = `sqlite:${join(dir, 'registry.db')}`;
  registry = await openRegistry(registryUrl);
  bridge = await startTestBridge({
    registryUrl,
    fleetSampleIntervalMs: 200,
    attemptStaleMs: 500,
    inbound: { streamTimeoutMs: 2_000, sweepIntervalMs: 200 },
  });
  carrier = createSimCarrier({ port: 0, speed: 10, callbackSecret: CARRIER_SECRET });
  carrierUrl = (await carrier.start()).url;
});

after(async () => {
  await Promise.all(workers.map(stopWorker));
  await carrier?.stop();
  await bridge?.close();
  await registry?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('inbound call through the sim carrier', () => {
  let worker: ChildProcess;
  before(async () => {
    worker = await startWorker('w-inbound');
  });
  after(async () => {
    await stopWorker(worker);
  });

  for (const provider of ['twilio', 'plivo', 'telnyx', 'exotel'] as const) {
    test(`${provider} call completes with result and recording`, { timeout: 60_000 }, async () => {
      const urls = await createBotWithKey();
      const from = '+15550100042';
      const response = await fetch(`${carrierUrl}/v1/inbound-calls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-carrier-secret': CARRIER_SECRET },
        body: JSON.stringify({
          webhookUrl: urls[provider],
          from,
          to: TO,
          provider,
          scenario: 'speak',
        }),
      });
      assert.equal(response.status, 201, await response.clone().text());
      const placed = (await response.json()) as {
        carrierCallId: string;
        callId: string;
        action: string;
      };
      assert.equal(placed.action, 'stream');
      assert.match(placed.callId, /^call_/);

      const call = await waitForFinal(placed.callId, 45_000);
      assert.equal(call.status, 'completed', JSON.stringify(call));
      assert.equal(call.direction, 'inbound');
      assert.equal(call.from, from);
      assert.equal(call.workerId, 'w-inbound');
      assert.notEqual(call.answeredAt, null);
      assert.ok(call.result, 'result stored');
      assert.equal(call.result.status, 'completed');
      assert.ok(call.result.transcript.length > 0);
      assert.ok(call.recording, 'recording stored');
      assert.ok(call.recording.bytes > 44);
      const wav = Buffer.from(
        await (await bridge.api('GET', `/v1/calls/${call.id}/recording`)).arrayBuffer(),
      );
      assert.equal(wav.subarray(0, 4).toString('ascii'), 'RIFF');

      const snapshot = (await (
        await fetch(`${carrierUrl}/v1/calls/${placed.carrierCallId}`, {
          headers: { 'x-carrier-secret': CARRIER_SECRET },
        })
      ).json()) as {
        direction: string;
        provider: string;
        callId: string;
        media: { framesReceived: number };
      };
      assert.equal(snapshot.direction, 'inbound');
      assert.equal(snapshot.provider, provider);
      assert.equal(snapshot.callId, placed.callId);
      assert.ok(snapshot.media.framesReceived > 0, 'the caller heard the bot');

      // The worker is idle again before the next call.
      await waitFor('worker idle', 10_000, async () => {
        const slot = (await registry.list()).find((view) => view.workerId === 'w-inbound');
        return slot?.state === 'idle' ? true : undefined;
      });
    });
  }

  test('stream never opened closes the record', { timeout: 30_000 }, async () => {
    const urls = await createBotWithKey({ maxCallDurationMs: 5_000 });
    // The webhook gets its response, but no carrier opens the stream it names.
    const response = await postForm(urls.twilio, {
      CallSid: 'CAnostream',
      From: '+15550100043',
      To: TO,
    });
    assert.equal(response.status, 200);
    const page = (await json(await bridge.api('GET', '/v1/calls?direction=inbound&limit=500'))) as {
      items: CallDetail[] & Array<{ carrierCallId: string }>;
    };
    const record = page.items.find(
      (item) => (item as { carrierCallId?: string }).carrierCallId === 'CAnostream',
    );
    assert.ok(record);
    assert.equal(record.status, 'in-progress');

    // The worker's stream timeout (2 s here) frees the slot without posting a result...
    await waitFor('slot freed by the stream timeout', 10_000, async () => {
      const slot = (await registry.list()).find((view) => view.workerId === 'w-inbound');
      return slot?.state === 'idle' ? true : undefined;
    });
    // ...and voxbridge's sweep closes the record after the stale time plus the bot's limit.
    const closed = await waitForFinal(record.id, 15_000);
    assert.equal(closed.status, 'failed');
    assert.equal(closed.reason, 'abandoned');
    assert.notEqual(closed.endedAt, null);
    assert.equal(closed.result, null);
  });
});

describe('inbound call whose worker dies', () => {
  test('record closes as worker-lost', { timeout: 45_000 }, async () => {
    const worker = await startWorker('w-doomed', {
      WORKER_TTL_MS: '1000',
      WORKER_HEARTBEAT_INTERVAL_MS: '200',
    });
    const urls = await createBotWithKey();
    const response = await postForm(urls.plivo, {
      CallUUID: 'plivo-doomed',
      From: '15550100044',
      To: TO.slice(1),
    });
    assert.equal(response.status, 200);
    const page = (await json(await bridge.api('GET', '/v1/calls?direction=inbound&limit=500'))) as {
      items: Array<CallDetail & { carrierCallId: string }>;
    };
    const record = page.items.find((item) => item.carrierCallId === 'plivo-doomed');
    assert.ok(record);
    assert.equal(record.workerId, 'w-doomed');

    worker.kill('SIGKILL');
    await once(worker, 'exit');
    const closed = await waitForFinal(record.id, 20_000);
    assert.equal(closed.status, 'failed');
    assert.equal(closed.reason, 'worker-lost');
  });
});
