import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliError } from '../src/errors.js';
import { DemoFlags, parseFlags } from '../src/options.js';

test('demo flags accept bridge-url with api-key', () => {
  const flags = parseFlags(DemoFlags, {
    'bridge-url': 'http://127.0.0.1:7700',
    'api-key': 'vf_example_key',
  });
  assert.equal(flags['bridge-url'], 'http://127.0.0.1:7700');
  assert.equal(flags['api-key'], 'vf_example_key');
});

test('demo flags leave bridge-url unset by default', () => {
  const flags = parseFlags(DemoFlags, {});
  assert.equal(flags['bridge-url'], undefined);
  assert.equal(flags['api-key'], undefined);
});

test('demo flags reject one of the pair alone', () => {
  for (const values of [{ 'bridge-url': 'http://127.0.0.1:7700' }, { 'api-key': 'vf_key' }]) {
    assert.throws(
      () => parseFlags(DemoFlags, values),
      (err: unknown) => {
        assert.ok(err instanceof CliError);
        assert.equal(err.code, 'CLI_INVALID_FLAG');
        assert.match(err.message, /set both --bridge-url and --api-key, or neither/);
        return true;
      },
    );
  }
});

test('demo flags reject a bridge-url that is no URL', () => {
  assert.throws(
    () => parseFlags(DemoFlags, { 'bridge-url': 'voxbridge:7700/', 'api-key': 'vf_key' }),
    /--bridge-url/,
  );
});
