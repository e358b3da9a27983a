import { isAbsolute, resolve } from 'node:path';
import { RegistryInvalidUrlError } from './errors.js';

/** A host and port of a Redis server or Sentinel. */
export interface RedisAddress {
  host: string;
  port: number;
}

/** User name and password from a URL's user-info part; absent parts are undefined. */
export interface RedisCredentials {
  username?: string;
  password?: string;
}

export type RegistryLocation =
  | {
      kind: 'sqlite';
      /** Absolute file path, or `:memory:` for a private in-process store. */ path: string;
    }
  | { kind: 'redis'; url: string; host: string; port: number; db: number; tls: boolean }
  | {
      kind: 'redis-sentinel';
      sentinels: RedisAddress[];
      /** The name the Sentinels monitor the primary under (`sentinel monitor <name> ...`). */
      masterName: string;
      db: number;
      /** Credentials of the primary and its replicas. */
      credentials: RedisCredentials;
      /** Credentials of the Sentinels themselves, from `sentinelUsername`/`sentinelPassword`. */
      sentinelCredentials: RedisCredentials;
      /** TLS to the Sentinels and to the servers (`rediss-sentinel://`). */
      tls: boolean;
    }
  | { kind: 'redis-cluster'; nodes: RedisAddress[]; credentials: RedisCredentials; tls: boolean };

const DEFAULT_REDIS_PORT = 6379;
const DEFAULT_SENTINEL_PORT = 26379;

/**
 * Parses a registry URL:
 * - `sqlite:<path>` (a relative path resolves against the current directory);
 * - `redis://[user:password@]host[:port][/db]` (`rediss://` for TLS);
 * - `redis-sentinel://[user:password@]host[:port][,host[:port]...]/<masterName>[/db]`, the
 *   Sentinels to ask for the primary (port 26379 by default), with optional query
 *   parameters `sentinelUsername` and `sentinelPassword` when the Sentinels need their own;
 * - `redis-cluster://[user:password@]host[:port][,host[:port]...]`, some nodes of a Redis
 *   Cluster (port 6379 by default), from which the client learns the others.
 * `rediss-sentinel://` and `rediss-cluster://` are the same with TLS to every Sentinel and
 * server.
 *
 * @example
 * parseRegistryUrl('sqlite:.voxfleet/registry.db');
 * parseRegistryUrl('redis://127.0.0.1:6379/0');
 * parseRegistryUrl('redis-sentinel://10.0.0.1:26379,10.0.0.2:26379/voxfleet/0');
 * parseRegistryUrl('redis-cluster://10.0.0.1:7000,10.0.0.2:7001');
 */
export function parseRegistryUrl(url: string): RegistryLocation {
  if (url.startsWith('sqlite:')) return parseSqliteUrl(url);
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return parseRedisUrl(url);
  if (url.startsWith('redis-sentinel://')) return parseSentinelUrl(url, 'redis-sentinel://');
  if (url.startsWith('rediss-sentinel://')) return parseSentinelUrl(url, 'rediss-sentinel://');
  if (url.startsWith('redis-cluster://')) return parseClusterUrl(url, 'redis-cluster://');
  if (url.startsWith('rediss-cluster://')) return parseClusterUrl(url, 'rediss-cluster://');
  throw new RegistryInvalidUrlError(url, 'unknown scheme');
}

function parseSqliteUrl(url: string): RegistryLocation {
  // Accept both `sqlite:path` and `sqlite://path`; the second form is common in other tools.
  let path = url.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (path === '') throw new RegistryInvalidUrlError(url, 'the database path is missing');
  if (path === ':memory:') return { kind: 'sqlite', path };
  return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(process.cwd(), path) };
}

function parseRedisUrl(url: string): RegistryLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new RegistryInvalidUrlError(url, `not a URL (${(err as Error).message})`);
  }
  if (parsed.hostname === '') throw new RegistryInvalidUrlError(url, 'the host is missing');

  const port = parsed.port === '' ? DEFAULT_REDIS_PORT : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RegistryInvalidUrlError(url, `port ${parsed.port} is out of range`);
  }

  const db = parseDb(url, parsed.pathname.replace(/^\//, ''));
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { kind: 'redis', url, host, port, db, tls: parsed.protocol === 'rediss:' };
}

function parseSentinelUrl(url: string, scheme: string): RegistryLocation {
  const parts = splitMultiHostUrl(url, scheme);
  const [masterName = '', dbText = '', ...extra] = parts.path;
  if (masterName === '') {
    throw new RegistryInvalidUrlError(url, 'the master name is missing after the Sentinel hosts');
  }
  if (extra.length > 0) {
    throw new RegistryInvalidUrlError(url, 'the path has more than <masterName>/<db>');
  }
  const sentinelCredentials: RedisCredentials = {};
  for (const [name, value] of parts.query) {
    if (name === 'sentinelUsername') sentinelCredentials.username = value;
    else if (name === 'sentinelPassword') sentinelCredentials.password = value;
    else {
      throw new RegistryInvalidUrlError(
        url,
        `unknown query parameter ${JSON.stringify(name)}; ` +
          'only sentinelUsername and sentinelPassword are accepted',
      );
    }
  }
  return {
    kind: 'redis-sentinel',
    sentinels: parseAddresses(url, parts.hosts, DEFAULT_SENTINEL_PORT),
    masterName: decodePart(url, masterName, 'master name'),
    db: parseDb(url, dbText),
    credentials: parts.credentials,
    sentinelCredentials,
    tls: scheme.startsWith('rediss'),
  };
}

function parseClusterUrl(url: string, scheme: string): RegistryLocation {
  const parts = splitMultiHostUrl(url, scheme);
  if (parts.path.length > 0) {
    throw new RegistryInvalidUrlError(
      url,
      'a Redis Cluster URL takes no path, because a cluster has only database 0',
    );
  }
  if (parts.query.length > 0) {
    throw new RegistryInvalidUrlError(url, 'a Redis Cluster URL takes no query parameters');
  }
  return {
    kind: 'redis-cluster',
    nodes: parseAddresses(url, parts.hosts, DEFAULT_REDIS_PORT),
    credentials: parts.credentials,
    tls: scheme.startsWith('rediss'),
  };
}

interface MultiHostParts {
  credentials: RedisCredentials;
  hosts: string[];
  /** Non-empty path segments, still percent-encoded. */
  path: string[];
  query: Array<[string, string]>;
}

/**
 * Splits `scheme://[user[:password]@]host[:port],host[:port]/path?query`. The WHATWG URL
 * parser rejects a comma-separated host list, so this splits it by hand.
 */
function splitMultiHostUrl(url: string, scheme: string): MultiHostParts {
  let rest = url.slice(scheme.length);
  let query: Array<[string, string]> = [];
  const queryStart = rest.indexOf('?');
  if (queryStart >= 0) {
    query = [...new URLSearchParams(rest.slice(queryStart + 1))];
    rest = rest.slice(0, queryStart);
  }
  const pathStart = rest.indexOf('/');
  const authority = pathStart >= 0 ? rest.slice(0, pathStart) : rest;
  const path = pathStart >= 0 ? rest.slice(pathStart + 1).split('/') : [];
  while (path.length > 0 && path[path.length - 1] === '') path.pop();

  const at = authority.lastIndexOf('@');
  const credentials: RedisCredentials = {};
  if (at >= 0) {
    const userInfo = authority.slice(0, at);
    const colon = userInfo.indexOf(':');
    const username = colon >= 0 ? userInfo.slice(0, colon) : userInfo;
    if (username !== '') credentials.username = decodePart(url, username, 'user name');
    if (colon >= 0) credentials.password = decodePart(url, userInfo.slice(colon + 1), 'password');
  }
  const hostList = authority.slice(at + 1);
  if (hostList === '') throw new RegistryInvalidUrlError(url, 'the host list is missing');
  return { credentials, hosts: hostList.split(','), path, query };
}

function parseAddresses(url: string, hosts: string[], defaultPort: number): RedisAddress[] {
  return hosts.map((entry) => {
    // `[::1]:26379` for IPv6, `host:port` or `host` otherwise.
    const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(entry);
    const host = match?.[1] ?? match?.[2];
    if (match === null || host === undefined) {
      throw new RegistryInvalidUrlError(
        url,
        `${JSON.stringify(entry)} is not host[:port]; separate hosts with commas`,
      );
    }
    const port = match[3] === undefined ? defaultPort : Number(match[3]);
    if (port < 1 || port > 65535) {
      throw new RegistryInvalidUrlError(url, `port ${match[3]} of ${host} is out of range`);
    }
    return { host, port };
  });
}

function parseDb(url: string, dbText: string): number {
  if (!/^\d*$/.test(dbText)) {
    throw new RegistryInvalidUrlError(url, `database ${JSON.stringify(dbText)} is not a number`);
  }
  return dbText === '' ? 0 : Number(dbText);
}

function decodePart(url: string, text: string, partName: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new RegistryInvalidUrlError(url, `the ${partName} has an invalid percent-encoding`);
  }
}
