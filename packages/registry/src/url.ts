import { isAbsolute, resolve } from 'node:path';
import { RegistryInvalidUrlError } from './errors.js';

export type RegistryLocation =
  | {
      kind: 'sqlite';
      /** Absolute file path, or `:memory:` for a private in-process store. */ path: string;
    }
  | { kind: 'redis'; url: string; host: string; port: number; db: number; tls: boolean };

/**
 * Parses a registry URL: `sqlite:<path>` (a relative path resolves against the current
 * directory) or `redis://[user:password@]host[:port][/db]` (`rediss://` for TLS).
 *
 * @example
 * parseRegistryUrl('sqlite:.voxfleet/registry.db');
 * parseRegistryUrl('redis://127.0.0.1:6379/0');
 */
export function parseRegistryUrl(url: string): RegistryLocation {
  if (url.startsWith('sqlite:')) return parseSqliteUrl(url);
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return parseRedisUrl(url);
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

  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RegistryInvalidUrlError(url, `port ${parsed.port} is out of range`);
  }

  const dbText = parsed.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!/^\d*$/.test(dbText) || !Number.isInteger(db)) {
    throw new RegistryInvalidUrlError(url, `database ${JSON.stringify(dbText)} is not a number`);
  }

  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { kind: 'redis', url, host, port, db, tls: parsed.protocol === 'rediss:' };
}
