/**
 * Runs the whole stack on one machine as separate processes: voxbridge, the sim carrier,
 * N workers and voxdialler, with their logs merged into one stream.
 *
 * Start order follows dependencies (voxbridge first). Stop order is the reverse of who
 * produces work: the dialler stops placing calls, workers drain and post their results to
 * voxbridge, then the carrier and voxbridge stop. A service that exits on its own is
 * restarted, at most `maxRestarts` times.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Writable } from 'node:stream';
import { CliError } from '../errors.js';
import { pipeLogLines } from './log-stream.js';
import { ensureSecrets, type StackSecrets } from './secrets.js';
import { bridgeUrlOf, planServices, type ServiceSpec, type StackLayout } from './services.js';

export interface LocalStackOptions extends StackLayout {
  output: Writable;
  colour: boolean;
  /** Time each service has to respond on `/health`. */
  startTimeoutMs?: number;
  /** How long a service may take to exit after SIGTERM before it is killed. */
  stopTimeoutMs?: number;
  maxRestarts?: number;
}

export interface StackInfo {
  bridgeUrl: string;
  apiKey: string;
  services: Array<{ name: string; url: string; pid: number | undefined }>;
}

interface RunningService {
  spec: ServiceSpec;
  child: ChildProcess;
  restarts: number;
  /** Epoch milliseconds of this launch; a long healthy run resets the restart count. */
  startedAt: number;
  exited: Promise<void>;
}

/** Node flags that run a child from TypeScript sources when this CLI runs from them. */
/** A service that ran this long before exiting restarts with a fresh restart budget. */
const HEALTHY_RUN_MS = 60_000;

function childExecArgv(entryPath: string): string[] {
  return entryPath.endsWith('.ts') ? ['--conditions=development', '--import', 'tsx'] : [];
}

async function waitForHealth(url: string, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new CliError('CLI_SERVICE_EXITED', `exited with ${child.exitCode ?? child.signalCode}`);
    }
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new CliError('CLI_START_TIMEOUT', `${url}/health did not respond within ${timeoutMs} ms`);
}

export class LocalStack {
  readonly #options: LocalStackOptions;
  readonly #running = new Map<string, RunningService>();
  #secrets: StackSecrets | undefined;
  #stopping = false;
  #exitHookInstalled = false;
  #stopped: Promise<void> | undefined;

  constructor(options: LocalStackOptions) {
    this.#options = options;
  }

  get secrets(): StackSecrets | undefined {
    return this.#secrets;
  }

  async start(): Promise<StackInfo> {
    const options = this.#options;
    mkdirSync(options.dataDir, { recursive: true });
    const secrets = ensureSecrets(options.dataDir, bridgeUrlOf(options));
    this.#secrets = secrets;
    const specs = planServices(options, secrets);
    this.#note(`starting ${specs.length} services, data in ${options.dataDir}`);

    try {
      // Workers start together; every other service waits for the one before it.
      const workers = specs.filter((spec) => spec.stopRank === 2);
      for (const spec of specs.filter((s) => s.stopRank !== 2)) {
        if (spec.name === 'voxdialler') {
          await Promise.all(workers.map((worker) => this.#launch(worker)));
        }
        await this.#launch(spec);
      }
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.#note(`ready: voxbridge ${secrets.bridgeUrl}, ${countWorkers(specs)} workers`);
    return {
      bridgeUrl: secrets.bridgeUrl,
      apiKey: secrets.apiKey,
      services: [...this.#running.values()].map((s) => ({
        name: s.spec.name,
        url: s.spec.url,
        pid: s.child.pid,
      })),
    };
  }

  /** Sends SIGTERM to a service, as a deploy or an operator would. */
  signal(name: string, signal: NodeJS.Signals): boolean {
    const service = this.#running.get(name);
    return service ? service.child.kill(signal) : false;
  }

  /** Stops every service in order; idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stopAll();
    return this.#stopped;
  }

  /** Kills every service at once (a second Ctrl-C). */
  kill(): void {
    this.#stopping = true;
    for (const service of this.#running.values()) service.child.kill('SIGKILL');
  }

  async #stopAll(): Promise<void> {
    this.#stopping = true;
    const ranks = [...new Set([...this.#running.values()].map((s) => s.spec.stopRank))];
    for (const rank of ranks.sort((a, b) => b - a)) {
      const group = [...this.#running.values()].filter((s) => s.spec.stopRank === rank);
      await Promise.all(group.map((service) => this.#stopOne(service)));
    }
    this.#note('stopped');
  }

  async #stopOne(service: RunningService): Promise<void> {
    const timeoutMs = this.#options.stopTimeoutMs ?? 60_000;
    service.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.#note(`${service.spec.name} did not stop within ${timeoutMs} ms, killing it`);
      service.child.kill('SIGKILL');
    }, timeoutMs);
    await service.exited;
    clearTimeout(timer);
    this.#running.delete(service.spec.name);
  }

  async #launch(spec: ServiceSpec, restarts = 0): Promise<void> {
    const entryPath = fileURLToPath(import.meta.resolve(spec.entry));
    // Each service gets its own process group, so a Ctrl-C in the terminal reaches only
    // this CLI, which then stops the services in order instead of all at once.
    const args = [...(spec.nodeFlags ?? []), ...childExecArgv(entryPath), entryPath];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.#killOnExit();
    const output = { output: this.#options.output, colour: this.#options.colour };
    if (child.stdout) pipeLogLines(spec.name, child.stdout, output);
    if (child.stderr) pipeLogLines(spec.name, child.stderr, output);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const service: RunningService = { spec, child, restarts, exited, startedAt: Date.now() };
    this.#running.set(spec.name, service);
    child.once('exit', (code, signal) => this.#onExit(service, code, signal));
    await waitForHealth(spec.url, this.#options.startTimeoutMs ?? 30_000, child).catch(
      (error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        throw new CliError('CLI_START_FAILED', `${spec.name} failed to start: ${reason}`, {
          cause: error,
        });
      },
    );
  }

  #onExit(service: RunningService, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#stopping || this.#running.get(service.spec.name) !== service) return;
    const maxRestarts = this.#options.maxRestarts ?? 5;
    const exitReason = signal ? `signal ${signal}` : `code ${code}`;
    const restarts = Date.now() - service.startedAt >= HEALTHY_RUN_MS ? 0 : service.restarts;
    if (restarts >= maxRestarts) {
      this.#note(
        `${service.spec.name} exited with ${exitReason}; restart limit reached, not restarting`,
      );
      this.#running.delete(service.spec.name);
      return;
    }
    this.#note(`${service.spec.name} exited with ${exitReason}; restarting`);
    const delayMs = Math.min(5000, 250 * 2 ** restarts);
    setTimeout(() => {
      if (this.#stopping) return;
      this.#launch(service.spec, restarts + 1).catch((error: unknown) => {
        this.#note(`${service.spec.name} restart failed: ${String(error)}`);
      });
    }, delayMs);
  }

  /**
   * Kills every service when this process exits without stopping them (an uncaught error),
   * since services in their own process groups would outlive it.
   */
  #killOnExit(): void {
    if (this.#exitHookInstalled) return;
    this.#exitHookInstalled = true;
    process.once('exit', () => {
      for (const service of this.#running.values()) service.child.kill('SIGKILL');
    });
  }

  #note(message: string): void {
    const time = new Date().toISOString().slice(11, 23);
    this.#options.output.write(`${time} ${'voxfleet'.padEnd(12)} ${message}\n`);
  }
}

function countWorkers(specs: ServiceSpec[]): number {
  return specs.filter((spec) => spec.stopRank === 2).length;
}
