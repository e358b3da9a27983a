/**
 * A one-host fleet on 127.0.0.1 for tests: a SQLite registry in a temp dir, a voxbridge
 * stand-in, N worker processes (`apps/worker/src/main.ts` with the agent check on) and the
 * real haproxy running the configuration rendered from a fleet definition. `close()` stops
 * every process and removes the temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openRegistry, type CapacityRegistry, type Reservation } from '@voxfleet/registry';
import {
  ADMIN_SOCKET,
  SERVER_STATE_FILE,
  renderHaproxyConfig,
  validateDefinition,
  type FleetDefinition,
} from '../../src/index.js';
import {
  BridgeStandIn,
  INTERNAL_TOKEN,
} from '../../../../apps/worker/test/support/bridge-stand-in.js';
import { HaproxyProcess } from './haproxy-process.js';

export const FLEET_DOMAIN = 'fleet-a.test';
export const BACKEND = 'be_fleet_a';
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SOUNDS_DIR = '/usr/share/asterisk/sounds/en';

export interface WorkerProcess {
  id: string;
  port: number;
  agentPort: number;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

export class FleetHarness {
  readonly bridge = new BridgeStandIn();
  readonly workers: WorkerProcess[] = [];
  dir = '';
  ingressPort = 0;
  statsPort = 0;
  definition: FleetDefinition | null = null;
  #registry: CapacityRegistry | null = null;
  #haproxy: HaproxyProcess | null = null;
  #callCount = 0;

  constructor(readonly workerCount: number) {}

  get registry(): CapacityRegistry {
    if (this.#registry === null) throw new Error('fleet harness is not open');
    return this.#registry;
  }

  get haproxy(): HaproxyProcess {
    if (this.#haproxy === null) throw new Error('fleet harness is not open');
    return this.#haproxy;
  }

  /** Base URL of the ingress on loopback; requests need the Host header `FLEET_DOMAIN`. */
  get ingressUrl(): string {
    return `http://127.0.0.1:${this.ingressPort}`;
  }

  async open(): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'voxfleet-ingress-test-'));
    this.bridge.botConfig = {
      start: 'menu',
      nodes: {
        // A long wait for the digit keeps each call open until the test presses 1.
        menu: {
          type: 'ask',
          prompt: { text: 'Hello. Press 1 to confirm.', audio: 'hello.wav' },
          digits: { '1': 'confirmed' },
          noInput: 'silent',
          timeoutMs: 45_000,
          retries: 0,
        },
        confirmed: {
          type: 'hangup',
          prompt: { text: 'Goodbye.', audio: 'goodbye.wav' },
          outcome: 'confirmed',
        },
        silent: { type: 'hangup', outcome: 'no-response' },
      },
    };
    await this.bridge.start();
    const registryUrl = `sqlite:${join(this.dir, 'registry.db')}`;
    this.#registry = await openRegistry(registryUrl);

    const ports = await findFreePorts(2 + 2 * this.workerCount);
    const [ingressPort, statsPort, workerBase] = ports;
    if (ingressPort === undefined || statsPort === undefined || workerBase === undefined) {
      throw new Error('no free ports');
    }
    this.ingressPort = ingressPort;
    this.statsPort = statsPort;
    const agentBase = workerBase + this.workerCount;

    this.definition = validateDefinition(
      {
        version: 1,
        ingress: {
          httpBind: `127.0.0.1:${ingressPort}`,
          statsBind: `127.0.0.1:${statsPort}`,
          runDir: this.dir,
          maxConnections: 1_000,
        },
        timeouts: { checkIntervalMs: 300, agentIntervalMs: 200 },
        brands: [{ name: 'brand-a', domains: [FLEET_DOMAIN] }],
        fleets: [
          {
            name: 'fleet-a',
            brand: 'brand-a',
            hosts: [{ name: 'local', address: '127.0.0.1' }],
            workersPerHost: this.workerCount,
            workerBasePort: workerBase,
            agentBasePort: agentBase,
            registryUrl: 'redis://127.0.0.1:6379',
            bridgeUrl: this.bridge.url,
          },
        ],
      },
      'test fleet',
    );
    const configPath = join(this.dir, 'haproxy.cfg');
    await writeFile(configPath, renderHaproxyConfig(this.definition));

    await Promise.all(
      Array.from({ length: this.workerCount }, (_, index) =>
        this.startWorker(index, workerBase + index, agentBase + index, registryUrl),
      ),
    );
    this.#haproxy = new HaproxyProcess(
      configPath,
      join(this.dir, ADMIN_SOCKET),
      join(this.dir, SERVER_STATE_FILE),
    );
    await this.#haproxy.start();
    await this.waitForServers((status) => status === 'UP', 'every worker UP and ready');
    return this;
  }

  async startWorker(
    index: number,
    port: number,
    agentPort: number,
    registryUrl: string,
  ): Promise<void> {
    const id = `fleet-a-local-w${index + 1}`;
    const output: string[] = [];
    const child = spawn(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', 'apps/worker/src/main.ts'],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env['PATH'] ?? '',
          WORKER_ID: id,
          WORKER_HOST: '127.0.0.1',
          WORKER_PORT: String(port),
          WORKER_AGENT_PORT: String(agentPort),
          WORKER_PUBLIC_URL: `http://${FLEET_DOMAIN}/w/${id}`,
          WORKER_POOL: 'fleet-a',
          REGISTRY_URL: registryUrl,
          WORKER_TTL_MS: '5000',
          WORKER_HEARTBEAT_INTERVAL_MS: '200',
          BRIDGE_URL: this.bridge.url,
          BRIDGE_INTERNAL_TOKEN: INTERNAL_TOKEN,
          WORKER_DATA_DIR: join(this.dir, id),
          WORKER_PROMPTS_DIR: SOUNDS_DIR,
          WORKER_TTS_CACHE_DIR: join(this.dir, 'tts'),
          WORKER_DRAIN_TIMEOUT_MS: '30000',
          LOG_LEVEL: 'info',
        },
      },
    );
    child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    this.workers.push({ id, port, agentPort, child, output, exited });
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`worker ${id} exited: ${output.join('')}`);
        return (await fetchStatus(`http://127.0.0.1:${port}/ready`)) === 200;
      },
      `worker ${id} ready`,
      20_000,
    );
  }

  worker(id: string): WorkerProcess {
    const found = this.workers.find((worker) => worker.id === id);
    if (found === undefined) throw new Error(`no worker ${id}`);
    return found;
  }

  /** Waits until every live worker's server row passes `check` (status such as UP, DRAIN). */
  async waitForServers(
    check: (status: string, id: string) => boolean,
    description: string,
    timeoutMs = 10_000,
  ): Promise<void> {
    await waitFor(
      async () => {
        const stats = await this.haproxy.serverStats(BACKEND);
        return this.workers.every((worker) =>
          check(stats.get(worker.id)?.['status'] ?? '', worker.id),
        );
      },
      description,
      timeoutMs,
    );
  }

  async serverStatus(id: string): Promise<string> {
    return (await this.haproxy.serverStats(BACKEND)).get(id)?.['status'] ?? '';
  }

  /** Reserves a slot as the dialler does; null when the fleet is full. */
  async reserve(): Promise<Reservation | null> {
    this.#callCount++;
    return this.registry.reserve({
      pool: 'fleet-a',
      callId: `call-${this.#callCount}`,
      reservationTtlMs: 10_000,
    });
  }

  /** Turns a public worker URL (`http://fleet-a.test/w/...`) into the loopback ingress URL. */
  toIngress(publicUrl: string): string {
    const url = new URL(publicUrl);
    return `${this.ingressUrl}${url.pathname}${url.search}`;
  }

  async close(): Promise<void> {
    await this.#haproxy?.stop().catch(() => undefined);
    for (const worker of this.workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) {
        worker.child.kill('SIGKILL');
        await worker.exited;
      }
    }
    await this.bridge.stop();
    await this.#registry?.close();
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }
}

/** Attach body for a reservation, in the dialler's shape. */
export function attachBodyFor(reservation: Reservation): Record<string, unknown> {
  return {
    reservationToken: reservation.token,
    callId: reservation.callId,
    botId: 'bot-1',
    tenantId: 't1',
    campaignId: 'camp-1',
    contactId: `contact-${reservation.callId}`,
    to: '+919800000001',
    streamTimeoutMs: 20_000,
  };
}

export async function fetchStatus(url: string): Promise<number> {
  try {
    return (await fetch(url)).status;
  } catch {
    return 0;
  }
}

/** Polls `check` every 25 ms until it returns true; throws after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  description: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Finds `count` consecutive free TCP ports on 127.0.0.1. */
async function findFreePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const ports = Array.from({ length: count }, (_, index) => base + index);
    const free = await Promise.all(ports.map(isPortFree));
    if (free.every(Boolean)) return ports;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
