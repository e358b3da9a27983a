/**
 * Test harness: a worker on 127.0.0.1 port 0 with a real SQLite registry in a temp dir,
 * the bridge stand-in and the scripted session. `close()` removes everything it created.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@voxfleet/logger';
import { openRegistry, type CapacityRegistry, type Reservation } from '@voxfleet/registry';
import type { AttachRequestInput } from '@voxfleet/schema';
import { createWorker, type CreateWorkerOptions, type WorkerHandle } from '../../src/index.js';
import { BridgeStandIn, INTERNAL_TOKEN } from './bridge-stand-in.js';
import { createScriptedSession, loadPcmSource } from './prompt-source.js';

export const SOUNDS_DIR = '/usr/share/asterisk/sounds/en';

export interface LogCapture {
  log: Logger;
  lines: Array<Record<string, unknown>>;
}

/** Creates a logger that keeps its JSON lines in memory, so tests can read what was logged. */
export function captureLog(): LogCapture {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { log: createLogger({ service: 'worker-test', level: 'debug', destination }), lines };
}

export class Harness {
  readonly bridge = new BridgeStandIn();
  readonly logs = captureLog();
  dir = '';
  readonly workers: WorkerHandle[] = [];
  #callCount = 0;
  #registry: CapacityRegistry | null = null;

  get registry(): CapacityRegistry {
    if (this.#registry === null) throw new Error('harness is not open');
    return this.#registry;
  }

  async open(): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'voxfleet-worker-test-'));
    this.#registry = await openRegistry(`sqlite:${join(this.dir, 'registry.db')}`);
    await this.bridge.start();
    return this;
  }

  /** Starts a worker with test defaults; `overrides` replace any option. */
  async startWorker(
    overrides: Partial<CreateWorkerOptions> = {},
  ): Promise<{ worker: WorkerHandle; url: string }> {
    const workerId = overrides.workerId ?? `w${this.workers.length + 1}`;
    const worker = createWorker({
      workerId,
      host: '127.0.0.1',
      port: 0,
      pool: 'default',
      labels: {},
      registry: this.registry,
      ttlMs: 5_000,
      heartbeatIntervalMs: 200,
      bridgeUrl: this.bridge.url,
      bridgeInternalToken: INTERNAL_TOKEN,
      bridgeTimeoutMs: 1_000,
      dataDir: join(this.dir, workerId),
      promptsDir: SOUNDS_DIR,
      ttsCacheDir: join(this.dir, 'tts'),
      drainTimeoutMs: 5_000,
      log: this.logs.log,
      createSession: createScriptedSession,
      createPromptSource: loadPcmSource,
      spoolRetryInitialMs: 100,
      spoolRetryMaxMs: 400,
      ...overrides,
    });
    this.workers.push(worker);
    const { url } = await worker.start();
    return { worker, url };
  }

  /** Reserves the worker's slot in the registry, as the dialler does. */
  async reserve(callId = this.nextCallId(), reservationTtlMs = 10_000): Promise<Reservation> {
    const reservation = await this.registry.reserve({ pool: 'default', callId, reservationTtlMs });
    if (reservation === null) throw new Error('no idle worker to reserve');
    return reservation;
  }

  nextCallId(): string {
    this.#callCount++;
    return `call-${this.#callCount}`;
  }

  async close(): Promise<void> {
    for (const worker of this.workers) await worker.stop().catch(() => undefined);
    await this.bridge.stop();
    await this.#registry?.close();
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }
}

/** Builds an attach body for `reservation`, with `overrides` replacing any field. */
export function attachBody(
  reservation: Reservation,
  overrides: Partial<AttachRequestInput> = {},
): AttachRequestInput {
  return {
    reservationToken: reservation.token,
    callId: reservation.callId,
    botId: 'bot-1',
    tenantId: 't1',
    campaignId: 'camp-1',
    contactId: 'contact-1',
    to: '+919800000001',
    streamTimeoutMs: 5_000,
    ...overrides,
  };
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Polls `check` every 20 ms until it returns true; throws after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  description: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
