/**
 * Runs the real haproxy binary in master-worker mode (`-W -db`) for tests, and reloads it
 * the way an operator does: save the server state through the admin socket, then SIGUSR2
 * to the master, which starts a new worker process and lets the old one finish its calls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';

export class HaproxyProcess {
  readonly output: string[] = [];
  #child: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();

  constructor(
    readonly configPath: string,
    readonly adminSocket: string,
    readonly stateFile: string,
  ) {}

  /** Starts haproxy and waits until the master reports the worker started. */
  async start(): Promise<void> {
    const child = spawn('haproxy', ['-W', '-db', '-f', this.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    await this.#waitForOutput('Loading success', 1);
  }

  /** Saves the server state, then reloads; resolves once the new worker process runs. */
  async reload(): Promise<void> {
    await writeFile(this.stateFile, await this.command('show servers state'));
    const before = this.#count('Loading success');
    this.#child?.kill('SIGUSR2');
    await this.#waitForOutput('Loading success', before + 1);
  }

  /** Sends one command to the admin socket of the current worker process. */
  command(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.adminSocket);
      const chunks: Buffer[] = [];
      socket.on('connect', () => socket.end(`${line}\n`));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
    });
  }

  /** Server rows of `show stat` for one backend, keyed by server name. */
  async serverStats(backend: string): Promise<Map<string, Record<string, string>>> {
    const csv = await this.command('show stat');
    const [headerLine, ...rows] = csv.trim().split('\n');
    const columns = (headerLine ?? '').replace(/^# /, '').split(',');
    const servers = new Map<string, Record<string, string>>();
    for (const row of rows) {
      const values = row.split(',');
      const record = Object.fromEntries(
        columns.map((column, index) => [column, values[index] ?? '']),
      );
      if (record['pxname'] !== backend) continue;
      const name = record['svname'] ?? '';
      if (name === 'BACKEND' || name === 'FRONTEND') continue;
      servers.set(name, record);
    }
    return servers;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child === null || child.exitCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.#exited;
    clearTimeout(timer);
  }

  #count(text: string): number {
    return this.output.join('').split(text).length - 1;
  }

  async #waitForOutput(text: string, count: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#count(text) < count) {
      if (this.#child?.exitCode !== null) {
        throw new Error(`haproxy exited: ${this.output.join('')}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `haproxy did not print "${text}" within ${timeoutMs} ms: ${this.output.join('')}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
