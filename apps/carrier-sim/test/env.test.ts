import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_AUDIO_DIR } from '../src/index.js';
import { loadEnv } from '../src/env.js';
import { CarrierSimError } from '../src/errors.js';

test('loadEnv applies defaults', () => {
  const env = loadEnv({});
  assert.deepEqual(env, {
    CARRIER_SIM_HOST: '127.0.0.1',
    CARRIER_SIM_PORT: 7720,
    CARRIER_SIM_SPEED: 1,
    CARRIER_SIM_AUDIO_DIR: DEFAULT_AUDIO_DIR,
    CARRIER_SIM_MAX_CALL_MS: 600_000,
    LOG_LEVEL: 'info',
  });
  assert.equal(env.CARRIER_CALLBACK_SECRET, undefined);
  assert.match(DEFAULT_AUDIO_DIR, /assets\/caller$/);
});

test('loadEnv parses set values', () => {
  const env = loadEnv({
    CARRIER_SIM_PORT: '0',
    CARRIER_SIM_SPEED: '12.5',
    CARRIER_SIM_MAX_CALL_MS: '30000',
    CARRIER_CALLBACK_SECRET: 's3cret',
    LOG_LEVEL: 'debug',
    CARRIER_SIM_HOST: '',
  });
  assert.equal(env.CARRIER_SIM_PORT, 0);
  assert.equal(env.CARRIER_SIM_SPEED, 12.5);
  assert.equal(env.CARRIER_SIM_MAX_CALL_MS, 30_000);
  assert.equal(env.CARRIER_CALLBACK_SECRET, 's3cret');
  assert.equal(env.LOG_LEVEL, 'debug');
  assert.equal(env.CARRIER_SIM_HOST, '127.0.0.1', 'an empty variable takes the default');
});

test('loadEnv names each invalid variable', () => {
  assert.throws(
    () => loadEnv({ CARRIER_SIM_SPEED: 'fast', CARRIER_SIM_PORT: '70000', LOG_LEVEL: 'loud' }),
    (err: unknown) => {
      assert.ok(err instanceof CarrierSimError);
      assert.equal(err.code, 'CARRIER_SIM_INVALID_ENV');
      assert.match(err.message, /CARRIER_SIM_SPEED: .*"fast"/);
      assert.match(err.message, /CARRIER_SIM_PORT: .*"70000"/);
      assert.match(err.message, /LOG_LEVEL: .*"loud"/);
      return true;
    },
  );
});

test('loadEnv rejects a speed of zero', () => {
  assert.throws(() => loadEnv({ CARRIER_SIM_SPEED: '0' }), /CARRIER_SIM_SPEED/);
});
