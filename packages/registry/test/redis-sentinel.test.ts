/**
 * The Redis backend on a primary with one replica and three Sentinels
 * (`redis-sentinel://`): the shared contract suite, then a failover that loses writes the
 * primary had acknowledged, repaired by the workers' next heartbeats.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { openRegistry } from '../src/index.js';
import { runContractSuite } from './contract.js';
import { loseWritesAndRepair } from './failover-scenario.js';
import { callNode, startTestSentinels, type TestSentinelSetup } from './redis-topology.js';

let setup: TestSentinelSetup | undefined;

function sentinels(): TestSentinelSetup {
  assert.ok(setup, 'the Sentinel setup did not start');
  return setup;
}

before(async () => {
  setup = await startTestSentinels();
});

after(async () => {
  await setup?.dispose();
});

runContractSuite('redis sentinel', async () => {
  const keyPrefix = `test-${randomUUID()}:`;
  return {
    open: () => openRegistry(sentinels().url, { keyPrefix }),
    cleanup: async () => {
      const port = await sentinels().currentPrimaryPort();
      const keys = (await callNode(port, 'KEYS', `${keyPrefix}*`)) as string[];
      if (keys.length > 0) await callNode(port, 'DEL', ...keys);
    },
  };
});

test('sentinel failover loses writes that heartbeats repair', async (t) => {
  const topology = sentinels();
  const keyPrefix = `failover-${randomUUID()}:`;
  const registry = await openRegistry(topology.url, { keyPrefix, connectTimeoutMs: 2_000 });
  try {
    await loseWritesAndRepair(
      t,
      registry,
      topology.primary,
      topology.replica,
      async () => (await topology.currentPrimaryPort()) === topology.replica.port,
    );
  } finally {
    topology.replica.signal('SIGCONT');
    await registry.close();
  }
});
