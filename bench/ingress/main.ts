/**
 * Ingress benchmark: `npm run bench:ingress`. It renders a one-fleet definition with two
 * echo backends (see `echo-backend.ts`), runs Debian's haproxy binary with it on loopback,
 * and measures in the same run, directly and through HAProxy:
 * - WebSocket upgrade time: a new TCP connection, the upgrade request, the 101 response;
 * - per-frame relay: the round trip of one Twilio-sized media message on an open socket;
 * - rejection time with a full fleet: from writing the upgrade request on a connected
 *   socket to the first byte of HAProxy's 503, with every backend holding a socket.
 *
 * The last line has the form `ratio_upgrade_p50=<x> ratio_frame_rtt_p50=<y> reject_p99_ms=<z>`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { renderHaproxyConfig, validateDefinition } from '@voxfleet/ingress';
import WebSocket from 'ws';
import { EchoBackend } from './echo-backend.js';

const DOMAIN = 'bench.test';
const UPGRADES = 300;
const FRAMES = 3_000;
const REJECTIONS = 300;
/** A Twilio media message carrying 20 ms of 8 kHz μ-law, about 330 bytes of JSON. */
const FRAME = JSON.stringify({
  event: 'media',
  sequenceNumber: '1',
  streamSid: 'MZ00000000000000000000000000000000',
  media: {
    track: 'inbound',
    chunk: '1',
    timestamp: '20',
    payload: Buffer.alloc(160, 0xff).toString('base64'),
  },
});

interface Summary {
  p50: number;
  p99: number;
}

function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (fraction: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))] ??
    NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { host: DOMAIN }, perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade failed with status ${res.statusCode}`)),
    );
    socket.once('error', reject);
  });
}

async function measureUpgrades(url: string): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < UPGRADES; i++) {
    const started = performance.now();
    const socket = await openSocket(url);
    samples.push(performance.now() - started);
    socket.close();
    await new Promise((resolve) => socket.once('close', resolve));
  }
  return samples;
}

async function measureFrames(url: string): Promise<number[]> {
  const socket = await openSocket(url);
  const samples: number[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const started = performance.now();
    const echoed = new Promise((resolve) => socket.once('message', resolve));
    socket.send(FRAME);
    await echoed;
    samples.push(performance.now() - started);
  }
  socket.close();
  return samples;
}

function timeRejection(port: number): Promise<{ status: number; elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let started = 0;
    socket.on('connect', () => {
      started = performance.now();
      socket.write(
        `GET /ws/bot-1 HTTP/1.1\r\nHost: ${DOMAIN}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
    });
    socket.once('data', (chunk: Buffer) => {
      const elapsedMs = performance.now() - started;
      socket.destroy();
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 0),
        elapsedMs,
      });
    });
    socket.on('error', reject);
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || address === null) throw new Error('no free port');
  return address.port;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'voxfleet-bench-ingress-'));
  const [ingressPort, statsPort] = [await freePort(), await freePort()];
  // Consecutive ports for the two backends and their agents.
  const base = 30_000 + Math.floor(Math.random() * 20_000);
  const backends = [new EchoBackend(base, base + 2), new EchoBackend(base + 1, base + 3)];
  const definition = validateDefinition(
    {
      version: 1,
      ingress: {
        httpBind: `127.0.0.1:${ingressPort}`,
        statsBind: `127.0.0.1:${statsPort}`,
        runDir: dir,
        maxConnections: 1_000,
      },
      timeouts: { checkIntervalMs: 200, agentIntervalMs: 100 },
      brands: [{ name: 'bench', domains: [DOMAIN] }],
      fleets: [
        {
          name: 'bench',
          brand: 'bench',
          hosts: [{ name: 'local', address: '127.0.0.1' }],
          workersPerHost: backends.length,
          workerBasePort: base,
          agentBasePort: base + 2,
          registryUrl: 'redis://127.0.0.1:6379',
          bridgeUrl: 'http://127.0.0.1:7700',
        },
      ],
    },
    'bench fleet',
  );
  await writeFile(join(dir, 'haproxy.cfg'), renderHaproxyConfig(definition));
  for (const backend of backends) await backend.start();
  const haproxy = spawn('haproxy', ['-W', '-db', '-f', join(dir, 'haproxy.cfg')], {
    stdio: 'ignore',
  });

  try {
    await sleep(1_000);
    const direct = `ws://127.0.0.1:${base}/ws/bot-1`;
    const proxied = `ws://127.0.0.1:${ingressPort}/ws/bot-1`;
    // Warm-up, so JIT and connection pools do not count against either path.
    await measureUpgrades(direct);
    await measureUpgrades(proxied);

    const upgradeDirect = summarize(await measureUpgrades(direct));
    const upgradeProxied = summarize(await measureUpgrades(proxied));
    const frameDirect = summarize(await measureFrames(direct));
    const frameProxied = summarize(await measureFrames(proxied));

    // Fill the fleet through HAProxy, then time the 503 of one more call.
    for (const backend of backends) backend.drainWhenBusy = true;
    const fleetSockets = await Promise.all(backends.map(() => openSocket(proxied)));
    await sleep(500); // the agent check drains both backends
    const rejections: number[] = [];
    for (let i = 0; i < REJECTIONS; i++) {
      const { status, elapsedMs } = await timeRejection(ingressPort);
      if (status !== 503) throw new Error(`a full fleet returned status ${status}, expected 503`);
      rejections.push(elapsedMs);
    }
    for (const socket of fleetSockets) socket.close();
    const reject = summarize(rejections);

    const ms = (value: number) => value.toFixed(3);
    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    console.log(`machine: ${cpus().length} x ${cpu}, node ${process.version}`);
    console.log(
      `upgrade  direct p50 ${ms(upgradeDirect.p50)} ms p99 ${ms(upgradeDirect.p99)} ms | haproxy p50 ${ms(upgradeProxied.p50)} ms p99 ${ms(upgradeProxied.p99)} ms (${UPGRADES} each)`,
    );
    console.log(
      `frame    direct p50 ${ms(frameDirect.p50)} ms p99 ${ms(frameDirect.p99)} ms | haproxy p50 ${ms(frameProxied.p50)} ms p99 ${ms(frameProxied.p99)} ms (${FRAMES} round trips each)`,
    );
    console.log(
      `reject   full fleet p50 ${ms(reject.p50)} ms p99 ${ms(reject.p99)} ms (${REJECTIONS} upgrades)`,
    );
    console.log(
      `ratio_upgrade_p50=${(upgradeProxied.p50 / upgradeDirect.p50).toFixed(2)} ` +
        `ratio_frame_rtt_p50=${(frameProxied.p50 / frameDirect.p50).toFixed(2)} ` +
        `reject_p99_ms=${ms(reject.p99)}`,
    );
  } finally {
    haproxy.kill('SIGTERM');
    await new Promise((resolve) => haproxy.once('exit', resolve));
    for (const backend of backends) await backend.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
