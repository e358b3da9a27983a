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
        assert.match(err.message, /expected sqlite:<path>, redis:\/\/host:port\[\/db\], /);
        return true;
      },
    );
  }
});

test('openRegistry rejects a bad URL', async () => {
  await assert.rejects(openRegistry('mysql://localhost'), { code: 'REGISTRY_INVALID_URL' });
});

test('parseRegistryUrl reads redis-sentinel URLs', () => {
  assert.deepEqual(
    parseRegistryUrl(
      'redis-sentinel://app:s%40cret@10.0.0.1:26380,10.0.0.2,[::1]:26381/voxfleet/2',
    ),
    {
      kind: 'redis-sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26380 },
        { host: '10.0.0.2', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'voxfleet',
      db: 2,
      credentials: { username: 'app', password: 's@cret' },
      sentinelCredentials: {},
      tls: false,
    },
  );
  const withSentinelAuth = parseRegistryUrl(
    'redis-sentinel://:pw@s1:26379/main?sentinelUsername=watch&sentinelPassword=spw',
  );
  assert.ok(withSentinelAuth.kind === 'redis-sentinel');
  assert.equal(withSentinelAuth.db, 0);
  assert.deepEqual(withSentinelAuth.credentials, { password: 'pw' });
  assert.deepEqual(withSentinelAuth.sentinelCredentials, { username: 'watch', password: 'spw' });
});

test('parseRegistryUrl reads redis-cluster URLs', () => {
  assert.deepEqual(parseRegistryUrl('redis-cluster://10.0.0.1:7000,10.0.0.2:7001,node-c'), {
    kind: 'redis-cluster',
    nodes: [
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: 'node-c', port: 6379 },
    ],
    credentials: {},
    tls: false,
  });
  const secured = parseRegistryUrl('redis-cluster://default:pw@127.0.0.1:7000/');
  assert.ok(secured.kind === 'redis-cluster');
  assert.deepEqual(secured.credentials, { username: 'default', password: 'pw' });
});

test('parseRegistryUrl reads rediss sentinel and cluster URLs', () => {
  const sentinel = parseRegistryUrl('rediss-sentinel://10.0.0.1,10.0.0.2/voxfleet/1');
  assert.ok(sentinel.kind === 'redis-sentinel');
  assert.equal(sentinel.tls, true);
  assert.equal(sentinel.masterName, 'voxfleet');
  assert.equal(sentinel.db, 1);
  const cluster = parseRegistryUrl('rediss-cluster://:pw@10.0.0.1:7000,10.0.0.2:7001');
  assert.ok(cluster.kind === 'redis-cluster');
  assert.equal(cluster.tls, true);
  assert.equal(cluster.nodes.length, 2);
  assert.deepEqual(cluster.credentials, { password: 'pw' });
});

test('parseRegistryUrl rejects bad sentinel and cluster URLs', () => {
  const cases: Array<[string, RegExp]> = [
    ['redis-sentinel://10.0.0.1:26379', /master name is missing/],
    ['redis-sentinel://10.0.0.1:26379/', /master name is missing/],
    ['redis-sentinel:///voxfleet', /host list is missing/],
    ['redis-sentinel://a:1,,b:2/voxfleet', /"" is not host\[:port\]/],
    ['redis-sentinel://a:99999/voxfleet', /port 99999 of a is out of range/],
    ['redis-sentinel://a:x/voxfleet', /"a:x" is not host\[:port\]/],
    ['redis-sentinel://a/voxfleet/one', /database "one" is not a number/],
    ['redis-sentinel://a/voxfleet/1/2', /more than <masterName>\/<db>/],
    ['redis-sentinel://a/voxfleet?tls=1', /unknown query parameter "tls"/],
    ['redis-cluster://', /host list is missing/],
    ['redis-cluster://a:7000/1', /takes no path/],
    ['redis-cluster://a:7000?x=1', /takes no query parameters/],
  ];
  for (const [url, message] of cases) {
    assert.throws(
      () => parseRegistryUrl(url),
      (err) => {
        assert.ok(err instanceof RegistryInvalidUrlError, `${url} gives RegistryInvalidUrlError`);
        assert.match(err.message, message);
        return true;
      },
    );
  }
});

test('invalid registry URL message hides passwords', () => {
  assert.throws(
    () => parseRegistryUrl('redis-sentinel://app:hunter2@a:1?sentinelPassword=hunter3'),
    (err) => {
      assert.ok(err instanceof RegistryInvalidUrlError);
      assert.doesNotMatch(err.message, /hunter2/);
      assert.doesNotMatch(err.message, /hunter3/);
      assert.match(err.message, /app:\*\*\*@a:1\?sentinelPassword=\*\*\*/);
      return true;
    },
  );
});

test('openRegistry unreachable sentinels are unavailable', async () => {
  await assert.rejects(
    openRegistry('redis-sentinel://127.0.0.1:1/voxfleet', { connectTimeoutMs: 500 }),
    { code: 'REGISTRY_UNAVAILABLE', message: /master voxfleet of Sentinels 127\.0\.0\.1:1/ },
  );
});

test('openRegistry unreachable cluster is unavailable', async () => {
  await assert.rejects(openRegistry('redis-cluster://127.0.0.1:1', { connectTimeoutMs: 500 }), {
    code: 'REGISTRY_UNAVAILABLE',
    message: /Redis Cluster nodes 127\.0\.0\.1:1/,
  });
});
