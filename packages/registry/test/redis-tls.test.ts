/**
 * The Redis backend over TLS: a redis-server, a three-node Redis Cluster, and a primary with
 * a replica and three Sentinels, all serving TLS only, with certificates from a private CA
 * that the client is given with the `tls` option.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  openRegistry,
  RegistryInvalidArgumentError,
  RegistryUnavailableError,
} from '../src/index.js';
import { runContractSuite, worker } from './contract.js';
import { findFreePort } from './redis-server.js';
import {
  callNode,
  RedisProcess,
  reserveAndConfirm,
  startTestCluster,
  startTestSentinels,
  type TestCluster,
  type TestSentinelSetup,
} from './redis-topology.js';
import { createTestCertificates, tlsServerArgs, type TlsFiles } from './tls-files.js';

interface TlsServer {
  dir: string;
  files: TlsFiles;
  server: RedisProcess;
  url: string;
}

let single: TlsServer | undefined;
let cluster: TestCluster | undefined;
let sentinels: TestSentinelSetup | undefined;

function tlsServer(): TlsServer {
  assert.ok(single, 'the TLS redis-server did not start');
  return single;
}

function tlsCluster(): TestCluster & { tls: TlsFiles } {
  const started = cluster;
  assert.ok(started?.tls, 'the TLS Redis Cluster did not start');
  return { ...started, tls: started.tls };
}

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'voxfleet-redis-tls-'));
  const files = await createTestCertificates(dir);
  const port = await findFreePort();
  const server = await RedisProcess.start(dir, port, [
    ...tlsServerArgs(files, port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
  ]);
  single = { dir, files, server, url: `rediss://127.0.0.1:${port}` };
  cluster = await startTestCluster(3, 0, { tls: true });
  sentinels = await startTestSentinels('voxfleet', { tls: true });
});

after(async () => {
  await single?.server.kill();
  if (single !== undefined) await rm(single.dir, { recursive: true, force: true });
  await cluster?.dispose();
  await sentinels?.dispose();
});

test('tls server runs a reservation cycle', async () => {
  const { url, files } = tlsServer();
  const registry = await openRegistry(url, {
    keyPrefix: `tls-${randomUUID()}:`,
    tls: { ca: files.ca },
  });
  try {
    await registry.register(worker('w1'));
    const reservation = await reserveAndConfirm(registry, 'c1');
    assert.equal(reservation.workerId, 'w1');
    assert.equal(await registry.release('w1', reservation.token), true);
    const [slot] = await registry.list();
    assert.equal(slot?.state, 'idle');
  } finally {
    await registry.close();
  }
});

test('tls server with an unknown CA is unavailable', async () => {
  await assert.rejects(
    openRegistry(tlsServer().url, { connectTimeoutMs: 1_000 }),
    (err: unknown) => err instanceof RegistryUnavailableError,
  );
});

test('tls settings with a plain URL are rejected', async () => {
  await assert.rejects(
    openRegistry('redis://127.0.0.1:6379', { tls: { ca: tlsServer().files.ca } }),
    (err: unknown) => err instanceof RegistryInvalidArgumentError && /rediss/.test(err.message),
  );
});

runContractSuite('redis cluster tls', async () => {
  const keyPrefix = `test-${randomUUID()}:`;
  const { url, nodes, tls } = tlsCluster();
  return {
    open: () => openRegistry(url, { keyPrefix, tls: { ca: tls.ca } }),
    cleanup: async () => {
      for (const node of nodes) {
        const keys = (await callNode(node.port, 'KEYS', `${keyPrefix}*`)) as string[];
        for (const key of keys) await callNode(node.port, 'UNLINK', key);
      }
    },
  };
});

runContractSuite('redis sentinel tls', async () => {
  const keyPrefix = `test-${randomUUID()}:`;
  const setup = sentinels;
  assert.ok(setup?.tls, 'the TLS Sentinel setup did not start');
  const { ca } = setup.tls;
  return {
    open: () => openRegistry(setup.url, { keyPrefix, tls: { ca } }),
    cleanup: async () => {
      const port = await setup.currentPrimaryPort();
      const keys = (await callNode(port, 'KEYS', `${keyPrefix}*`)) as string[];
      if (keys.length > 0) await callNode(port, 'DEL', ...keys);
    },
  };
});
