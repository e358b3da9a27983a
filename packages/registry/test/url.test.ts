import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import {
  openRegistry,
  parseRegistryUrl,
  RegistryError,
  RegistryInvalidUrlError,
} from '../src/index.js';

test('parseRegistryUrl reads sqlite paths', () => {
  assert.deepEqual(parseRegistryUrl('sqlite:/var/lib/voxfleet/registry.db'), {
    kind: 'sqlite',
    path: '/var/lib/voxfleet/registry.db',
  });
  assert.deepEqual(parseRegistryUrl('sqlite:.voxfleet/registry.db'), {
    kind: 'sqlite',
    path: resolve(process.cwd(), '.voxfleet/registry.db'),
  });
  assert.deepEqual(parseRegistryUrl('sqlite:///tmp/r.db'), { kind: 'sqlite', path: '/tmp/r.db' });
  assert.deepEqual(parseRegistryUrl('sqlite::memory:'), { kind: 'sqlite', path: ':memory:' });
});

test('parseRegistryUrl reads redis URLs', () => {
  assert.deepEqual(parseRegistryUrl('redis://127.0.0.1:6380/2'), {
    kind: 'redis',
    url: 'redis://127.0.0.1:6380/2',
    host: '127.0.0.1',
    port: 6380,
    db: 2,
    tls: false,
  });
  const secure = parseRegistryUrl('rediss://user:secret@cache.internal');
  assert.equal(secure.kind, 'redis');
  assert.ok(secure.kind === 'redis');
  assert.equal(secure.port, 6379);
  assert.equal(secure.db, 0);
  assert.equal(secure.tls, true);
});

test('parseRegistryUrl rejects bad URLs', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /unknown scheme/],
    ['postgres://localhost/db', /unknown scheme/],
    ['sqlite:', /database path is missing/],
    ['redis://', /not a URL|host is missing/],
    ['redis://127.0.0.1:6379/abc', /database "abc" is not a number/],
    ['redis://127.0.0.1:6379/1/2', /is not a number/],
  ];
  for (const [url, message] of cases) {
    assert.throws(
      () => parseRegistryUrl(url),
      (err) => {
        assert.ok(err instanceof RegistryInvalidUrlError, `${url} gives RegistryInvalidUrlError`);
        assert.ok(err instanceof RegistryError);
        assert.equal(err.code, 'REGISTRY_INVALID_URL');
        assert.equal(err.retryable, false);
        assert.equal(err.url, url);
        assert.match(err.message, message);
        assert.match(err.message, /expected sqlite:<path> or redis:\/\/host:port\[\/db\]/);
        return true;
      },
    );
  }
});

test('openRegistry rejects a bad URL', async () => {
  await assert.rejects(openRegistry('mysql://localhost'), { code: 'REGISTRY_INVALID_URL' });
});
