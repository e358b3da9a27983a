/**
 * Starts a private `redis-server` for tests: loopback only, no persistence, its own temp
 * directory. `stop()` ends the process; `start()` again reuses the same port, which is how
 * the restart test simulates a Redis restart that loses every key.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';

export interface TestRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops the server and removes its directory. */
  dispose(): Promise<void>;
}

/** Asks the kernel for a free port; redis-server itself does not accept port 0. */
export async function findFreePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Resolves once the redis-server child logs `readyLine`. */
export async function waitForReady(
  child: ChildProcess,
  port: number,
  readyLine = 'Ready to accept connections',
): Promise<void> {
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`redis-server on port ${port} not ready after 10 s:\n${output}`)),
      10_000,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(readyLine)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${output}`));
    });
  });
}

export async function startTestRedis(): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'voxfleet-redis-'));
  const port = await findFreePort();
  let child: ChildProcess | undefined;

  const start = async () => {
    if (child !== undefined) return;
    const started = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    child = started;
    try {
      await waitForReady(started, port);
    } catch (err) {
      started.kill('SIGKILL');
      child = undefined;
      throw err;
    }
  };

  const stop = async () => {
    const running = child;
    if (running === undefined) return;
    child = undefined;
    if (running.exitCode === null && running.signalCode === null) {
      const exited = once(running, 'exit');
      running.kill('SIGTERM');
      await exited;
    }
  };

  try {
    await start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A test file's redis-server and admin connection (see `useTestRedis`). */
export interface SharedTestRedis {
  server: () => TestRedis;
  client: () => Redis;
}

/**
 * Starts a redis-server and opens an admin connection to it before the file's tests, and
 * closes both after them. `setup` runs once on the connection, for example to load a library.
 */
export function useTestRedis(setup?: (admin: Redis) => Promise<unknown>): SharedTestRedis {
  let redis: TestRedis | undefined;
  let admin: Redis | undefined;
  before(async () => {
    redis = await startTestRedis();
    admin = new Redis(redis.url);
    await setup?.(admin);
  });
  after(async () => {
    admin?.disconnect();
    await redis?.dispose();
  });
  return {
    server: () => {
      assert.ok(redis, 'redis-server did not start');
      return redis;
    },
    client: () => {
      assert.ok(admin, 'no admin connection');
      return admin;
    },
  };
}
