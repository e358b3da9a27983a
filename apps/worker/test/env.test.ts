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
