/**
 * Worker benchmark (`npm run bench:worker`). In one run it measures:
 *
 * - per-frame processing time p99 and CPU per call of the worker, against a pass-through
 *   WebSocket server (`passthrough-server.mjs`) that receives the same frames;
 * - worker RSS idle and during a call, against a bare `node -e "setInterval(()=>{},1000)"`.
 *
 * The worker runs as `voxfleet start` launches it: the bundle `apps/worker/dist/worker.mjs`
 * (build first) with the flags of `WORKER_NODE_FLAGS`, the real engine, a SQLite registry in a
 * temp dir and the test stand-in for voxbridge. The call streams speech in
 * real time, 20 ms per frame, for `BENCH_CALL_SECONDS` (default 20).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FRAME_SAMPLES, encodeMulaw } from '@voxfleet/audio';
import { openRegistry } from '@voxfleet/registry';
import { WORKER_NODE_FLAGS } from '@voxfleet/worker/node-flags';
import {
  BridgeStandIn,
  INTERNAL_TOKEN,
  TEST_BOT_CONFIG,
} from '../../apps/worker/test/support/bridge-stand-in.js';
import { TwilioCaller, loadPcm } from '../../apps/worker/test/support/twilio-caller.js';
import { loadavg } from 'node:os';
import {
  histogramQuantile,
  quantile,
  readCpuMs,
  readHistogram,
  readRssMiB,
  subtractHistogram,
} from './proc-stats.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const SOUNDS_DIR = '/usr/share/asterisk/sounds/en';
const CALL_SECONDS = Number(process.env['BENCH_CALL_SECONDS'] ?? 20);
const FRAMES = Math.round((CALL_SECONDS * 1000) / 20);
/**
 * Frames sent before timing starts, in both servers: the first second carries JIT
 * compilation and, in the worker, the config load and the greeting.
 */
const WARMUP_FRAMES = 50;
/** Extra `node` flags for the worker process only, after those it is launched with. */
const EXTRA_NODE_FLAGS = (process.env['BENCH_WORKER_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
const NODE_FLAGS = [...WORKER_NODE_FLAGS, ...EXTRA_NODE_FLAGS];
/** The worker's entry module; `apps/worker/dist/main.js` runs the unbundled build. */
const WORKER_ENTRY = process.env['BENCH_WORKER_ENTRY'] ?? 'apps/worker/dist/worker.mjs';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Spawns a child and resolves with it and the first stdout line that `match` accepts. */
async function spawnUntil(
  args: string[],
  env: NodeJS.ProcessEnv,
  match: (line: string) => boolean,
): Promise<{ child: ChildProcess; line: string; lines: AsyncIterableIterator<string> }> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (child.stdout === null) throw new Error('child has no stdout');
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  for (;;) {
    const next = await lines.next();
    if (next.done === true) throw new Error(`${args.join(' ')} exited before it was ready`);
    if (match(next.value)) return { child, line: next.value, lines };
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Median of `count` RSS readings taken `intervalMs` apart. */
async function settledRss(pid: number, count = 5, intervalMs = 200): Promise<number> {
  const readings: number[] = [];
  for (let i = 0; i < count; i++) {
    readings.push(readRssMiB(pid));
    await sleep(intervalMs);
  }
  return quantile(readings, 0.5);
}

/** Sends frames `from` to `to` of `speech` (looped) at a steady 20 ms pace. */
async function streamFrames(
  caller: TwilioCaller,
  speech: Int16Array,
  from: number,
  to: number,
): Promise<void> {
  const startedAt = performance.now() - from * 20;
  for (let frame = from; frame < to; frame++) {
    const offset = (frame * FRAME_SAMPLES) % (speech.length - FRAME_SAMPLES);
    caller.sendMediaFrame(encodeMulaw(speech.subarray(offset, offset + FRAME_SAMPLES)));
    const wait = startedAt + (frame + 1) * 20 - performance.now();
    if (wait > 0) await sleep(wait);
  }
}

async function measureBareNode(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(()=>{},1000)'], { stdio: 'ignore' });
  try {
    await sleep(1_500);
    return await settledRss(requirePid(child));
  } finally {
    await stopChild(child);
  }
}

async function measurePassThrough(speech: Int16Array): Promise<{ p99Ms: number; cpuMs: number }> {
  const { child, line, lines } = await spawnUntil(
    ['bench/worker/passthrough-server.mjs'],
    process.env,
    (text) => text.startsWith('{"port"'),
  );
  try {
    const { port } = JSON.parse(line) as { port: number };
    const caller = await TwilioCaller.connect(`ws://127.0.0.1:${port}/`);
    caller.sendConnected();
    caller.sendStart();
    await streamFrames(caller, speech, 0, WARMUP_FRAMES);
    const cpuBefore = readCpuMs(requirePid(child));
    await streamFrames(caller, speech, WARMUP_FRAMES, FRAMES);
    const cpuMs = readCpuMs(requirePid(child)) - cpuBefore;
    caller.sendStop();
    const stats = await lines.next();
    if (stats.done === true) throw new Error('pass-through server exited without its stats');
    const { samplesMs } = JSON.parse(stats.value) as { samplesMs: number[] };
    caller.terminate();
    // The server timed every message; skip `connected`, `start` and the warm-up frames.
    return { p99Ms: quantile(samplesMs.slice(2 + WARMUP_FRAMES), 0.99), cpuMs };
  } finally {
    await stopChild(child);
  }
}

interface WorkerNumbers {
  idleRssMiB: number;
  callRssMiB: number;
  p99Ms: number;
  cpuMs: number;
  framesProcessed: number;
}

async function measureWorker(speech: Int16Array, dir: string): Promise<WorkerNumbers> {
  const bridge = new BridgeStandIn();
  bridge.botConfig = {
    ...TEST_BOT_CONFIG,
    nodes: {
      ...TEST_BOT_CONFIG.nodes,
      menu: { ...TEST_BOT_CONFIG.nodes['menu'], type: 'ask', timeoutMs: 60_000 } as never,
    },
  };
  await bridge.start();
  const registryUrl = `sqlite:${join(dir, 'registry.db')}`;
  const registry = await openRegistry(registryUrl);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    WORKER_ID: 'bench-worker',
    WORKER_PORT: '0',
    REGISTRY_URL: registryUrl,
    BRIDGE_URL: bridge.url,
    BRIDGE_INTERNAL_TOKEN: INTERNAL_TOKEN,
    WORKER_DATA_DIR: join(dir, 'worker'),
    WORKER_PROMPTS_DIR: SOUNDS_DIR,
    WORKER_TTS_CACHE_DIR: join(dir, 'tts'),
    LOG_LEVEL: 'info',
  };
  const { child, line, lines } = await spawnUntil([...NODE_FLAGS, WORKER_ENTRY], env, (text) =>
    text.includes('"worker listening"'),
  );
  // Keep reading the worker's log so its stdout pipe never fills up.
  void (async () => {
    while ((await lines.next()).done !== true);
  })();
  try {
    const pid = requirePid(child);
    const { url } = JSON.parse(line) as { url: string };
    for (let i = 0; (await fetch(`${url}/ready`)).status !== 200; i++) {
      if (i > 100) throw new Error('worker never became ready');
      await sleep(50);
    }
    await sleep(1_500);
    const idleRssMiB = await settledRss(pid);

    const reservation = await registry.reserve({
      pool: 'default',
      callId: 'bench-call',
      reservationTtlMs: 10_000,
    });
    if (reservation === null) throw new Error('no idle worker to reserve');
    const attach = await fetch(`${url}/attach`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        reservationToken: reservation.token,
        callId: reservation.callId,
        botId: 'bench-bot',
        tenantId: 't1',
        campaignId: null,
        contactId: null,
        to: '+919800000001',
      }),
    });
    const { streamUrl } = (await attach.json()) as { streamUrl: string };
    const caller = await TwilioCaller.connect(streamUrl);
    caller.sendConnected();
    caller.sendStart();

    let callRssMiB = 0;
    const sampler = setInterval(() => {
      callRssMiB = Math.max(callRssMiB, readRssMiB(pid));
    }, 100);
    const name = 'voxfleet_worker_frame_processing_seconds';
    await streamFrames(caller, speech, 0, WARMUP_FRAMES);
    const warm = readHistogram(await (await fetch(`${url}/metrics`)).text(), name);
    const cpuBefore = readCpuMs(pid);
    await streamFrames(caller, speech, WARMUP_FRAMES, FRAMES);
    const cpuMs = readCpuMs(pid) - cpuBefore;
    clearInterval(sampler);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    const timed = subtractHistogram(readHistogram(metrics, name), warm);
    const memory = ['nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes'].map(
      (metric) => {
        const bytes = Number(new RegExp(`^${metric} (\\S+)$`, 'm').exec(metrics)?.[1]);
        return `${metric} ${(bytes / 1048576).toFixed(1)} MiB`;
      },
    );
    console.log(`worker at the end of the call: ${memory.join(', ')}`);
    const p99Ms = histogramQuantile(timed, 0.99) * 1000;
    const framesProcessed = timed.at(-1)?.count ?? 0;
    caller.sendStop();
    await caller.waitForClose().catch(() => undefined);
    return { idleRssMiB, callRssMiB, p99Ms, cpuMs, framesProcessed };
  } finally {
    await stopChild(child);
    await registry.close();
    await bridge.stop();
  }
}

function requirePid(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error('child process has no pid');
  return child.pid;
}

const dir = await mkdtemp(join(tmpdir(), 'voxfleet-bench-worker-'));
try {
  const speech = loadPcm(join(SOUNDS_DIR, 'demo-congrats.wav'));
  const bareRssMiB = await measureBareNode();
  const baseline = await measurePassThrough(speech);
  const worker = await measureWorker(speech, dir);

  const rows: Array<[string, string, string, string]> = [
    [
      'per-frame p99',
      `${worker.p99Ms.toFixed(3)} ms`,
      `${baseline.p99Ms.toFixed(3)} ms`,
      `${(worker.p99Ms / baseline.p99Ms).toFixed(2)}x`,
    ],
    [
      'CPU per call',
      `${worker.cpuMs.toFixed(0)} ms`,
      `${baseline.cpuMs.toFixed(0)} ms`,
      `${(worker.cpuMs / baseline.cpuMs).toFixed(2)}x`,
    ],
    [
      'RSS idle',
      `${worker.idleRssMiB.toFixed(1)} MiB`,
      `${bareRssMiB.toFixed(1)} MiB`,
      `${(worker.idleRssMiB / bareRssMiB).toFixed(2)}x`,
    ],
    [
      'RSS in a call',
      `${worker.callRssMiB.toFixed(1)} MiB`,
      `${bareRssMiB.toFixed(1)} MiB`,
      `${(worker.callRssMiB / bareRssMiB).toFixed(2)}x`,
    ],
  ];
  console.log(
    `call: ${CALL_SECONDS} s, ${FRAMES} frames sent, the first ${WARMUP_FRAMES} untimed; ` +
      `${worker.framesProcessed} messages timed by the worker`,
  );
  console.log(
    `load average (1, 5, 15 min): ${loadavg()
      .map((n) => n.toFixed(2))
      .join(', ')}`,
  );
  console.log(`worker: node ${[...NODE_FLAGS, WORKER_ENTRY].join(' ')}`);
  console.log('| measure | worker | baseline | ratio |');
  console.log('| --- | --- | --- | --- |');
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log(
    `goals: p99 <= 0.5 ms ${worker.p99Ms <= 0.5 ? 'met' : 'NOT met'}; ` +
      `idle RSS <= 1.5x ${worker.idleRssMiB / bareRssMiB <= 1.5 ? 'met' : 'NOT met'}; ` +
      `call RSS <= 1.8x ${worker.callRssMiB / bareRssMiB <= 1.8 ? 'met' : 'NOT met'}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
