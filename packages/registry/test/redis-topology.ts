/**
 * Starts the Redis deployments beyond one server for tests, from the same `redis-server`
 * binary: a Redis Cluster of primaries with or without replicas, and a primary with one
 * replica watched by three Sentinels. Every process listens on a free loopback port, keeps no data
 * on disk and lives in one temp directory, which `dispose()` removes after stopping them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { CapacityRegistry, Reservation } from '../src/index.js';
import { reserveRequest } from './contract.js';
import { findFreePort, waitForReady } from './redis-server.js';
import { createTestCertificates, tlsServerArgs, type TlsFiles } from './tls-files.js';

const NO_PERSISTENCE = ['--save', '', '--appendonly', 'no'];

/** One redis-server or sentinel child process. */
export class RedisProcess {
  readonly port: number;
  private readonly child: ChildProcess;

  private constructor(port: number, child: ChildProcess) {
    this.port = port;
    this.child = child;
  }

  static async start(dir: string, port: number, args: string[]): Promise<RedisProcess> {
    const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    // A sentinel logs no "Ready to accept connections" line; it listens once it has an id.
    const readyLine = args.includes('--sentinel') ? 'Sentinel ID is' : undefined;
    try {
      await waitForReady(child, port, readyLine);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    return new RedisProcess(port, child);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** Kills the process (SIGKILL, so a stopped one ends too) and waits for its exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** Returns `count` distinct free loopback ports. */
async function findFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await findFreePort());
  return [...ports];
}

async function waitFor(description: string, timeoutMs: number, check: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${description} not reached in ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The CA of each port that serves TLS only, so `callNode` can reach it. */
const tlsCaByPort = new Map<number, string>();

/** Runs a command on one server over a short-lived connection. */
export async function callNode(port: number, ...args: string[]): Promise<unknown> {
  const ca = tlsCaByPort.get(port);
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    ...(ca === undefined ? {} : { tls: { ca } }),
  });
  try {
    await client.connect();
    return await client.call(args[0] ?? 'PING', ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

interface Processes {
  dir: string;
  processes: RedisProcess[];
}

/** Creates the temp directory, runs `setup`, and on failure kills what it started. */
async function withCleanupOnFailure<T>(
  setup: (state: Processes) => Promise<T>,
): Promise<{ result: T; state: Processes }> {
  const state: Processes = { dir: await mkdtemp(join(tmpdir(), 'voxfleet-redis-')), processes: [] };
  try {
    return { result: await setup(state), state };
  } catch (err) {
    await disposeAll(state);
    throw err;
  }
}

async function disposeAll(state: Processes): Promise<void> {
  await Promise.all(state.processes.map((process) => process.kill()));
  await rm(state.dir, { recursive: true, force: true });
}

export interface TestCluster {
  /** `redis-cluster://127.0.0.1:<port>,...` naming every node (`rediss-cluster` with TLS). */
  url: string;
  nodes: RedisProcess[];
  /** The certificates, when the nodes serve TLS only. */
  tls?: TlsFiles;
  /**
   * Starts another server and joins it as a primary without hash slots. `nodes` and `url`
   * keep listing only the nodes the cluster started with, and `dispose()` stops this one too.
   */
  addPrimary(): Promise<RedisProcess>;
  dispose(): Promise<void>;
}

/**
 * Starts a Redis Cluster of `primaries` primaries before the file's tests and stops it
 * after them, once `beforeDispose` has run. Returns a function that returns the cluster.
 */
export function useTestCluster(
  primaries: number,
  beforeDispose?: () => Promise<void>,
): () => TestCluster {
  let cluster: TestCluster | undefined;
  before(async () => {
    cluster = await startTestCluster(primaries);
  });
  after(async () => {
    await beforeDispose?.();
    await cluster?.dispose();
  });
  return () => {
    assert.ok(cluster, 'the Redis Cluster did not start');
    return cluster;
  };
}

/**
 * Starts `primaries` cluster-mode servers, and `replicasPerPrimary` replicas of each, and
 * joins them with `redis-cli --cluster create`, which spreads the 16,384 hash slots evenly
 * over the primaries. Resolves once every node reports `cluster_state:ok` and every
 * replica's link to its primary is up. With `tls`, every node serves TLS only, and the
 * cluster bus uses TLS too.
 */
export async function startTestCluster(
  primaries = 3,
  replicasPerPrimary = 0,
  options: { tls?: boolean } = {},
): Promise<TestCluster> {
  const nodeCount = primaries * (1 + replicasPerPrimary);
  const { result: tls, state } = await withCleanupOnFailure(async ({ dir, processes }) => {
    const files = options.tls === true ? await createTestCertificates(dir) : undefined;
    const ports = await findFreePorts(nodeCount * 2);
    for (let i = 0; i < nodeCount; i += 1) {
      processes.push(await startClusterNode(dir, ports[i * 2] ?? 0, ports[i * 2 + 1] ?? 0, files));
    }
    const create = spawn(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...processes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        String(replicasPerPrimary),
        '--cluster-yes',
        ...(files === undefined ? [] : ['--tls', '--cacert', files.caFile]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    create.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    create.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(create, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${code}:\n${output}`);
    for (const node of processes) {
      await waitFor(`cluster_state:ok on ${node.port}`, 15_000, async () =>
        String(await callNode(node.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'),
      );
    }
    for (const node of processes) {
      await waitFor(`replication link of ${node.port}`, 15_000, async () => {
        const info = String(await callNode(node.port, 'INFO', 'replication'));
        return info.includes('role:master') || info.includes('master_link_status:up');
      });
    }
    return files;
  });
  const scheme = tls === undefined ? 'redis-cluster' : 'rediss-cluster';
  return {
    url: `${scheme}://${state.processes.map((node) => `127.0.0.1:${node.port}`).join(',')}`,
    nodes: [...state.processes],
    ...(tls === undefined ? {} : { tls }),
    addPrimary: () => addEmptyPrimary(state, tls),
    dispose: () => disposeAll(state),
  };
}

/** Starts one cluster-mode server on `port`, with its cluster bus on `busPort`. */
async function startClusterNode(
  dir: string,
  port: number,
  busPort: number,
  files: TlsFiles | undefined,
): Promise<RedisProcess> {
  if (files !== undefined) tlsCaByPort.set(port, files.ca);
  return RedisProcess.start(dir, port, [
    ...(files === undefined
      ? ['--port', String(port)]
      : [...tlsServerArgs(files, port), '--tls-cluster', 'yes']),
    '--bind',
    '127.0.0.1',
    ...NO_PERSISTENCE,
    '--cluster-enabled',
    'yes',
    '--cluster-port',
    String(busPort),
    '--cluster-config-file',
    `nodes-${port}.conf`,
    '--cluster-node-timeout',
    '2000',
  ]);
}

/** Returns the node ids that `CLUSTER NODES` of `port` lists, without handshake entries. */
async function knownNodeIds(port: number): Promise<string[]> {
  return String(await callNode(port, 'CLUSTER', 'NODES'))
    .trim()
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => !(fields[2] ?? '').includes('handshake'))
    .map((fields) => fields[0] ?? '');
}

/**
 * Starts a cluster-mode server and joins it to the cluster with `CLUSTER MEET`, as a
 * primary without hash slots. Resolves once every node lists it and it reports
 * `cluster_state:ok`.
 */
async function addEmptyPrimary(
  state: Processes,
  files: TlsFiles | undefined,
): Promise<RedisProcess> {
  const [first] = state.processes;
  if (first === undefined) throw new Error('the cluster has no node to meet');
  const [port = 0, busPort = 0] = await findFreePorts(2);
  const node = await startClusterNode(state.dir, port, busPort, files);
  state.processes.push(node);
  await callNode(first.port, 'CLUSTER', 'MEET', '127.0.0.1', String(port), String(busPort));
  const id = String(await callNode(port, 'CLUSTER', 'MYID'));
  for (const member of state.processes) {
    await waitFor(`node ${port} known to ${member.port}`, 15_000, async () => {
      const ids = await knownNodeIds(member.port);
      return ids.includes(id) && ids.length === state.processes.length;
    });
  }
  await waitFor(`cluster_state:ok on ${port}`, 15_000, async () =>
    String(await callNode(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'),
  );
  return node;
}

export interface TestSentinelSetup {
  /** `redis-sentinel://127.0.0.1:<port>,.../<masterName>` naming every sentinel. */
  url: string;
  masterName: string;
  primary: RedisProcess;
  replica: RedisProcess;
  sentinels: RedisProcess[];
  /** The certificates, when every server and Sentinel serves TLS only. */
  tls?: TlsFiles;
  /** Port of the server that the sentinels currently report as the primary. */
  currentPrimaryPort(): Promise<number>;
  dispose(): Promise<void>;
}

/** Tuning that lets a failover finish within a few seconds of the primary dying. */
export const SENTINEL_DOWN_AFTER_MS = 1_000;
const SENTINEL_FAILOVER_TIMEOUT_MS = 5_000;

/**
 * Starts a primary, a replica of it, and three sentinels with a quorum of two. Resolves
 * once the replica is in sync and every sentinel has found the replica and the two other
 * sentinels, because a failover needs a majority of the sentinels to agree.
 */
export async function startTestSentinels(
  masterName = 'voxfleet',
  options: { tls?: boolean } = {},
): Promise<TestSentinelSetup> {
  const { result, state } = await withCleanupOnFailure(async ({ dir, processes }) => {
    const files = options.tls === true ? await createTestCertificates(dir) : undefined;
    const [primaryPort = 0, replicaPort = 0, ...sentinelPorts] = await findFreePorts(5);
    if (files !== undefined) {
      for (const port of [primaryPort, replicaPort, ...sentinelPorts]) {
        tlsCaByPort.set(port, files.ca);
      }
    }
    const server = (port: number) => [
      ...(files === undefined ? ['--port', String(port)] : tlsServerArgs(files, port)),
      '--bind',
      '127.0.0.1',
    ];
    const primary = await RedisProcess.start(dir, primaryPort, [
      ...server(primaryPort),
      ...NO_PERSISTENCE,
    ]);
    processes.push(primary);
    const replica = await RedisProcess.start(dir, replicaPort, [
      ...server(replicaPort),
      ...NO_PERSISTENCE,
      '--replicaof',
      '127.0.0.1',
      String(primaryPort),
    ]);
    processes.push(replica);
    await waitFor('replica in sync', 10_000, async () =>
      String(await callNode(replicaPort, 'INFO', 'replication')).includes('master_link_status:up'),
    );

    const sentinels: RedisProcess[] = [];
    for (const port of sentinelPorts) {
      // A sentinel rewrites its configuration file, so each gets its own.
      const file = join(dir, `sentinel-${port}.conf`);
      await writeFile(
        file,
        [
          ...(files === undefined
            ? [`port ${port}`]
            : [
                'port 0',
                `tls-port ${port}`,
                `tls-cert-file ${files.certFile}`,
                `tls-key-file ${files.keyFile}`,
                `tls-ca-cert-file ${files.caFile}`,
                'tls-auth-clients no',
                'tls-replication yes',
              ]),
          'bind 127.0.0.1',
          `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${masterName} ${SENTINEL_DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${masterName} ${SENTINEL_FAILOVER_TIMEOUT_MS}`,
          '',
        ].join('\n'),
      );
      const sentinel = await RedisProcess.start(dir, port, [file, '--sentinel']);
      processes.push(sentinel);
      sentinels.push(sentinel);
    }
    for (const sentinel of sentinels) {
      await waitFor(`sentinel ${sentinel.port} discovery`, 15_000, async () => {
        const peers = (await callNode(
          sentinel.port,
          'SENTINEL',
          'SENTINELS',
          masterName,
        )) as unknown[];
        const replicas = (await callNode(
          sentinel.port,
          'SENTINEL',
          'REPLICAS',
          masterName,
        )) as unknown[];
        return peers.length === sentinels.length - 1 && replicas.length === 1;
      });
    }
    return { primary, replica, sentinels, tls: files };
  });

  const scheme = result.tls === undefined ? 'redis-sentinel' : 'rediss-sentinel';
  return {
    url: `${scheme}://${result.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${masterName}`,
    masterName,
    primary: result.primary,
    replica: result.replica,
    sentinels: result.sentinels,
    ...(result.tls === undefined ? {} : { tls: result.tls }),
    currentPrimaryPort: async () => {
      for (const sentinel of result.sentinels.filter((s) => s.running)) {
        const reply = (await callNode(
          sentinel.port,
          'SENTINEL',
          'GET-MASTER-ADDR-BY-NAME',
          masterName,
        )) as [string, string];
        return Number(reply[1]);
      }
      throw new Error('no sentinel is running');
    },
    dispose: () => disposeAll(state),
  };
}

/** Calls `check` until it returns a value, and throws with the last error after `timeoutMs`. */
export async function waitUntil<T>(
  description: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${description} not reached in ${timeoutMs} ms`, { cause: last });
    }
    await sleep(50);
  }
}

/** Reserves a slot for `callId` and confirms it, failing the test when either fails. */
export async function reserveAndConfirm(
  registry: CapacityRegistry,
  callId: string,
  labels: Record<string, string> = {},
): Promise<Reservation> {
  const reservation = await registry.reserve(reserveRequest(callId, { labels }));
  assert.ok(reservation, `expected a free slot for ${callId}`);
  assert.equal(await registry.confirm(reservation.workerId, reservation.token), 'confirmed');
  return reservation;
}
