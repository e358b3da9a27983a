import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, test } from 'node:test';
import { INTERNAL_TOKEN } from './support/bridge-stand-in.js';
import { Harness, SOUNDS_DIR, attachBody, postJson, waitUntil } from './support/harness.js';
import { TwilioCaller } from './support/twilio-caller.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

interface WorkerProcess {
  child: ChildProcess;
  url: string;
  lines: Array<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

let harness: Harness;
const children: ChildProcess[] = [];

beforeEach(async () => {
  harness = await new Harness().open();
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  await harness.close();
});

function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', MAIN], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      WORKER_ID: 'proc-1',
      WORKER_PORT: '0',
      REGISTRY_URL: `sqlite:${join(harness.dir, 'registry.db')}`,
      BRIDGE_URL: harness.bridge.url,
      BRIDGE_INTERNAL_TOKEN: INTERNAL_TOKEN,
      WORKER_DATA_DIR: join(harness.dir, 'proc-1'),
      WORKER_PROMPTS_DIR: SOUNDS_DIR,
      WORKER_TTS_CACHE_DIR: join(harness.dir, 'tts'),
      WORKER_HEARTBEAT_INTERVAL_MS: '200',
      WORKER_DRAIN_TIMEOUT_MS: '20000',
      LOG_LEVEL: 'debug',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);

  const lines: Array<Record<string, unknown>> = [];
  let stdout = '';
  let stderr = '';
  let resolveUrl: (url: string) => void = () => {};
  const urlPromise = new Promise<string>((resolve) => {
    resolveUrl = resolve;
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    const parts = stdout.split('\n');
    stdout = parts.pop() ?? '';
    for (const part of parts) {
      if (part.trim() === '') continue;
      const line = JSON.parse(part) as Record<string, unknown>;
      lines.push(line);
      if (line['msg'] === 'worker listening') resolveUrl(String(line['url']));
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const handle: WorkerProcess = { child, url: '', lines, exited, stderr: () => stderr };
  void urlPromise.then((url) => {
    handle.url = url;
  });
  return handle;
}

/** Sends silence frames every 5 ms (4 times real time) until the stream closes. */
function keepStreaming(caller: TwilioCaller): void {
  const silence = new Int16Array(160);
  const timer = setInterval(() => {
    if (!caller.isOpen) {
      clearInterval(timer);
      return;
    }
    void caller.sendAudio(silence, 0);
  }, 5);
}

async function startCall(worker: WorkerProcess): Promise<{ callId: string; caller: TwilioCaller }> {
  await waitUntil(() => worker.url !== '', 'worker listening', 15_000);
  await waitUntil(
    async () => (await fetch(`${worker.url}/ready`)).status === 200,
    'worker ready',
    10_000,
  );
  const reservation = await harness.reserve();
  const attach = await postJson(`${worker.url}/attach`, attachBody(reservation));
  assert.equal(attach.status, 200);
  const caller = await TwilioCaller.connect(String(attach.body['streamUrl']));
  caller.sendConnected();
  caller.sendStart();
  keepStreaming(caller);
  await waitUntil(() => caller.marks.length > 0, 'greeting mark', 10_000);
  return { callId: reservation.callId, caller };
}

test('SIGTERM mid-call: call finishes, result posted, exit 0', { timeout: 40_000 }, async () => {
  const worker = spawnWorker({});
  const { callId, caller } = await startCall(worker);

  worker.child.kill('SIGTERM');
  await waitUntil(
    async () => (await fetch(`${worker.url}/ready`)).status === 503,
    'ready turns 503',
  );
  // The registry reserves no draining worker, so this attach carries a made-up token.
  const late = { workerId: 'proc-1', url: worker.url, token: 'unused', fence: 0, deadline: 0 };
  const refused = await postJson(
    `${worker.url}/attach`,
    attachBody({ ...late, callId: 'late-call' }),
  );
  assert.equal(refused.status, 503);
  assert.ok(caller.isOpen, 'drain cut the call');

  caller.sendDtmf('1');
  await caller.waitForClose(10_000);
  const exit = await worker.exited;
  assert.equal(exit.code, 0, worker.stderr());

  const result = await harness.bridge.waitForResult(callId);
  assert.equal(result.status, 'completed');
  assert.equal(result.outcome, 'confirmed');
  assert.equal(result.hangupBy, 'bot');
  assert.ok(result.transcript.some((entry) => entry.kind === 'dtmf' && entry.digit === '1'));
  assert.ok(harness.bridge.recordings.some((recording) => recording.callId === callId));
  assert.deepEqual(await harness.registry.list(), []);
  assert.ok(worker.lines.some((line) => line['msg'] === 'worker drained'));
});

test('second SIGTERM aborts the call and posts it as aborted', { timeout: 40_000 }, async () => {
  const worker = spawnWorker({});
  const { callId, caller } = await startCall(worker);

  worker.child.kill('SIGTERM');
  await waitUntil(() => worker.lines.some((line) => line['msg'] === 'worker draining'), 'draining');
  worker.child.kill('SIGTERM');

  await caller.waitForClose(10_000);
  const exit = await worker.exited;
  assert.equal(exit.code, 0, worker.stderr());
  const result = await harness.bridge.waitForResult(callId);
  assert.equal(result.status, 'aborted');
  assert.equal(result.hangupBy, 'system');
  assert.deepEqual(await harness.registry.list(), []);
});

test('MAX_CONCURRENT_CALLS other than 1 fails at startup', { timeout: 20_000 }, async () => {
  const worker = spawnWorker({ MAX_CONCURRENT_CALLS: '2' });
  const exit = await worker.exited;
  assert.equal(exit.code, 1);
  assert.match(worker.stderr(), /MAX_CONCURRENT_CALLS: must be 1/);
});

test('missing BRIDGE_INTERNAL_TOKEN fails at startup', { timeout: 20_000 }, async () => {
  const worker = spawnWorker({ BRIDGE_INTERNAL_TOKEN: '' });
  const exit = await worker.exited;
  assert.equal(exit.code, 1);
  assert.match(worker.stderr(), /BRIDGE_INTERNAL_TOKEN/);
});
