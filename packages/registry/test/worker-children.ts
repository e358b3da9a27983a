/**
 * Starts `fixtures/worker-process.ts` children for the fault tests and talks to them over
 * stdin and stdout. `stopAll` ends every child, stopped (SIGSTOP) ones included.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Reservation } from '../src/index.js';

const fixture = join(import.meta.dirname, 'fixtures', 'worker-process.ts');
const nodeArgs = ['--conditions=development', '--import', 'tsx'];

export interface ChildMessage {
  event: string;
  result?: unknown;
  busy?: boolean;
  message?: string;
}

export interface WorkerChildOptions {
  url: string;
  keyPrefix: string;
  workerId: string;
  ttlMs: number;
  heartbeatMs: number;
}

export class WorkerChild {
  readonly workerId: string;
  readonly messages: ChildMessage[] = [];
  /** Replies already returned by `command`. */
  private readonly claimed = new Set<ChildMessage>();
  private readonly child: ChildProcess;

  private constructor(workerId: string, child: ChildProcess) {
    this.workerId = workerId;
    this.child = child;
    if (child.stdout === null) throw new Error('worker child has no stdout');
    createInterface({ input: child.stdout }).on('line', (line) => {
      this.messages.push(JSON.parse(line) as ChildMessage);
    });
  }

  /** Starts the child and waits for its first registration. */
  static async start(options: WorkerChildOptions): Promise<WorkerChild> {
    const child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        fixture,
        options.url,
        options.keyPrefix,
        options.workerId,
        String(options.ttlMs),
        String(options.heartbeatMs),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const worker = new WorkerChild(options.workerId, child);
    await worker.waitFor((message) => message.event === 'registered', 0, 20_000);
    return worker;
  }

  get pid(): number {
    assert.ok(this.child.pid !== undefined, 'worker child has no pid');
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a message at index `from` or later that matches; returns it. */
  async waitFor(
    match: (message: ChildMessage) => boolean,
    from: number,
    timeoutMs = 5_000,
  ): Promise<ChildMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(match);
      if (found !== undefined) return found;
      if (!this.running) throw new Error(`worker ${this.workerId} exited`);
      if (Date.now() > deadline) {
        throw new Error(
          `worker ${this.workerId} sent no matching message in ${timeoutMs} ms: ` +
            JSON.stringify(this.messages.slice(from)),
        );
      }
      await sleep(20);
    }
  }

  /** Tells the worker to confirm `reservation` as its attach would; returns the result. */
  async confirm(reservation: Reservation): Promise<unknown> {
    return this.command(
      {
        cmd: 'confirm',
        token: reservation.token,
        callId: reservation.callId,
        fence: reservation.fence,
      },
      'confirmed',
    );
  }

  /** Tells the worker to release `token` as it would at the end of a call. */
  async release(token: string): Promise<unknown> {
    return this.command({ cmd: 'release', token }, 'released');
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Ends the child: SIGCONT in case it is stopped, then SIGTERM, then SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /**
   * Sends a command and returns the result of its reply. Each reply is claimed by one
   * command, so two commands in flight at once never both read the first reply.
   */
  private async command(command: Record<string, unknown>, reply: string): Promise<unknown> {
    const from = this.messages.length;
    this.child.stdin?.write(`${JSON.stringify(command)}\n`);
    const message = await this.waitFor(
      (candidate) =>
        (candidate.event === reply || candidate.event === 'registry-error') &&
        !this.claimed.has(candidate),
      from,
    );
    this.claimed.add(message);
    if (message.event === 'registry-error') throw new Error(message.message);
    return message.result;
  }
}

export async function stopAll(children: Iterable<WorkerChild>): Promise<void> {
  await Promise.all([...children].map((child) => child.stop()));
}
