import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { EnvError, loadEnv } from '../src/env.js';

test('loadEnv applies defaults', () => {
  const env = loadEnv({ BRIDGE_INTERNAL_TOKEN: 'secret' });
  assert.equal(env.workerId, `${hostname()}-7801`);
  assert.equal(env.host, '127.0.0.1');
  assert.equal(env.port, 7801);
  assert.equal(env.publicUrl, undefined);
  assert.equal(env.pool, 'default');
  assert.deepEqual(env.labels, {});
  assert.equal(env.registryUrl, 'sqlite:.voxfleet/registry.db');
  assert.equal(env.ttlMs, 5000);
  assert.equal(env.heartbeatIntervalMs, 1000);
  assert.equal(env.bridgeUrl, 'http://127.0.0.1:7700');
  assert.equal(env.dataDir, `.voxfleet/workers/${hostname()}-7801`);
  assert.match(env.promptsDir, /assets\/prompts$/);
  assert.equal(env.logLevel, 'info');
});

test('loadEnv parses labels and numbers', () => {
  const env = loadEnv({
    BRIDGE_INTERNAL_TOKEN: 'secret',
    WORKER_ID: 'w9',
    WORKER_PORT: '7805',
    WORKER_LABELS: 'region=in, lang=hi',
    WORKER_TTL_MS: '9000',
  });
  assert.equal(env.workerId, 'w9');
  assert.equal(env.port, 7805);
  assert.deepEqual(env.labels, { region: 'in', lang: 'hi' });
  assert.equal(env.ttlMs, 9000);
  assert.equal(env.dataDir, '.voxfleet/workers/w9');
});

test('loadEnv rejects invalid values with their names', () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{}, /BRIDGE_INTERNAL_TOKEN/],
    [{ BRIDGE_INTERNAL_TOKEN: 's', MAX_CONCURRENT_CALLS: '4' }, /MAX_CONCURRENT_CALLS: must be 1/],
    [{ BRIDGE_INTERNAL_TOKEN: 's', WORKER_LABELS: 'region' }, /WORKER_LABELS/],
    [{ BRIDGE_INTERNAL_TOKEN: 's', WORKER_PORT: 'abc' }, /WORKER_PORT/],
    [{ BRIDGE_INTERNAL_TOKEN: 's', LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [
      { BRIDGE_INTERNAL_TOKEN: 's', WORKER_TTL_MS: '500', WORKER_HEARTBEAT_INTERVAL_MS: '5000' },
      /WORKER_HEARTBEAT_INTERVAL_MS: must be less than WORKER_TTL_MS \(500\), got 5000/,
    ],
    [{ BRIDGE_INTERNAL_TOKEN: 's', WORKER_HEARTBEAT_INTERVAL_MS: '5000' }, /WORKER_HEARTBEAT/],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(
      () => loadEnv(env),
      (err: unknown) => {
        assert.ok(err instanceof EnvError);
        assert.match(err.message, pattern);
        return true;
      },
    );
  }
});

test('loadEnv builds publicUrl from WORKER_PUBLIC_HOST', () => {
  const named = loadEnv({
    BRIDGE_INTERNAL_TOKEN: 'secret',
    WORKER_PUBLIC_HOST: 'worker-3.internal',
    WORKER_PORT: '7900',
  });
  assert.equal(named.publicUrl, 'http://worker-3.internal:7900');

  const auto = loadEnv({ BRIDGE_INTERNAL_TOKEN: 'secret', WORKER_PUBLIC_HOST: 'auto' });
  assert.equal(auto.publicUrl, `http://${hostname()}:7801`);
  assert.equal(auto.workerId, `${hostname()}-7801`);
});

test('loadEnv rejects WORKER_PUBLIC_HOST with WORKER_PUBLIC_URL', () => {
  assert.throws(
    () =>
      loadEnv({
        BRIDGE_INTERNAL_TOKEN: 'secret',
        WORKER_PUBLIC_HOST: 'auto',
        WORKER_PUBLIC_URL: 'http://worker-1:7801',
      }),
    /WORKER_PUBLIC_HOST: set either it or WORKER_PUBLIC_URL, not both/,
  );
  assert.throws(
    () => loadEnv({ BRIDGE_INTERNAL_TOKEN: 'secret', WORKER_PUBLIC_HOST: 'http://x' }),
    /WORKER_PUBLIC_HOST/,
  );
});

test('loadEnv lists every invalid variable', () => {
  assert.throws(
    () =>
      loadEnv({
        BRIDGE_INTERNAL_TOKEN: '',
        WORKER_PORT: '70000',
        WORKER_PUBLIC_URL: 'not a url',
        WORKER_TTL_MS: '1.5',
        WORKER_POOL: 'p'.repeat(129),
      }),
    (err: unknown) => {
      assert.ok(err instanceof EnvError);
      assert.match(err.message, /BRIDGE_INTERNAL_TOKEN: is required/);
      assert.match(err.message, /WORKER_PORT: must be between 0 and 65535, got 70000/);
      assert.match(err.message, /WORKER_PUBLIC_URL: must be a URL/);
      assert.match(err.message, /WORKER_TTL_MS: must be an integer/);
      assert.match(err.message, /WORKER_POOL: must be at most 128 characters/);
      return true;
    },
  );
});

test('loadEnv reads LiveKit only with all four variables', () => {
  const livekit = {
    LIVEKIT_URL: 'ws://127.0.0.1:7880',
    LIVEKIT_API_KEY: 'key',
    LIVEKIT_API_SECRET: 'secret',
    LIVEKIT_SIP_TRUNK_ID: 'trunk',
  };
  const env = loadEnv({ BRIDGE_INTERNAL_TOKEN: 's', ...livekit });
  assert.deepEqual(env.livekit, {
    url: 'ws://127.0.0.1:7880',
    apiKey: 'key',
    apiSecret: 'secret',
    sipTrunkId: 'trunk',
  });
  assert.throws(
    () => loadEnv({ BRIDGE_INTERNAL_TOKEN: 's', LIVEKIT_URL: livekit.LIVEKIT_URL }),
    /LIVEKIT_API_KEY, LIVEKIT_API_SECRET, LIVEKIT_SIP_TRUNK_ID: required when LIVEKIT_URL is set/,
  );
});

test('loadEnv reads an empty port as the default', () => {
  const env = loadEnv({ BRIDGE_INTERNAL_TOKEN: 'secret', WORKER_PORT: '', WORKER_AGENT_PORT: ' ' });
  assert.equal(env.port, 7801);
  assert.equal(env.agentPort, undefined);
});
