/**
 * `createWorker`: builds a worker with its registry and bot engine. `src/main.ts` imports
 * this module rather than `index.ts`, which also re-exports the stream protocol parsers
 * and would load them (and zod) into an idle worker.
 */
import { createLogger, type Logger } from '@voxfleet/logger';
import { openRegistry, type CapacityRegistry } from '@voxfleet/registry';
import type { CreatePromptSource, CreateSession } from './call/session.js';
import { Worker, type WorkerOptions, type WorkerState } from './worker.js';

export interface CreateWorkerOptions extends Omit<
  WorkerOptions,
  'registry' | 'log' | 'createSession' | 'createPromptSource'
> {
  /** A registry instance (the caller closes it) or a URL the worker opens and closes. */
  registry: CapacityRegistry | string;
  log?: Logger;
  /** Defaults to the bot engine's `CallSession`. */
  createSession?: CreateSession;
  /** Defaults to recorded prompts with an espeak-ng fallback. */
  createPromptSource?: CreatePromptSource;
}

export interface WorkerHandle {
  /** Listens, registers and sends results spooled by earlier runs; idempotent. */
  start(): Promise<{ url: string }>;
  /** Drains: no new calls, the current one finishes, the worker deregisters. Idempotent. */
  drain(): Promise<void>;
  /** Ends the current call now with status `aborted`. */
  abortCall(reason: string): void;
  /** Closes everything, aborting a call in progress; idempotent. */
  stop(): Promise<void>;
  readonly state: WorkerState;
  readonly workerId: string;
  /** The bound HAProxy agent-check port, or null when `agentPort` was not set. */
  readonly agentPort: number | null;
  /** Resolves once the current call (if any) has ended and its result is spooled. */
  whenCallEnded(): Promise<void>;
}

export function createWorker(options: CreateWorkerOptions): WorkerHandle {
  const log = options.log ?? createLogger({ service: 'voxcore-worker' });
  let worker: Worker | null = null;
  let ownedRegistry: CapacityRegistry | null = null;
  let starting: Promise<{ url: string }> | null = null;
  let stopping: Promise<void> | null = null;

  async function start(): Promise<{ url: string }> {
    let registry: CapacityRegistry;
    if (typeof options.registry === 'string') {
      ownedRegistry = await openRegistry(options.registry, { logger: log });
      registry = ownedRegistry;
    } else {
      registry = options.registry;
    }
    const engine =
      options.createSession === undefined || options.createPromptSource === undefined
        ? await import('./engine-binding.js')
        : null;
    worker = new Worker({
      ...options,
      registry,
      log,
      createSession: options.createSession ?? requireDefined(engine).createEngineSession,
      createPromptSource:
        options.createPromptSource ?? requireDefined(engine).createEnginePromptSource,
    });
    return worker.start();
  }

  async function stop(): Promise<void> {
    await starting?.catch(() => undefined);
    await worker?.stop();
    await ownedRegistry?.close();
  }

  return {
    start: () => (starting ??= start()),
    drain: async () => {
      await starting;
      await worker?.drain();
    },
    abortCall: (reason) => worker?.abortCall(reason),
    stop: () => (stopping ??= stop()),
    get state() {
      return worker?.state ?? 'created';
    },
    get workerId() {
      return options.workerId;
    },
    get agentPort() {
      return worker?.agentPort ?? null;
    },
    whenCallEnded: () => worker?.whenCallEnded() ?? Promise.resolve(),
  };
}

function requireDefined<T>(value: T | null): T {
  if (value === null) throw new Error('engine binding did not load');
  return value;
}
