/**
 * Driver selection and `openDatabase`. Neither driver loads before the first open that
 * needs it, so a process that never opens a database never loads one.
 */
import { SqliteDatabase } from './database.js';
import { createBetterSqlite3Driver, loadBetterSqlite3 } from './drivers/better-sqlite3-driver.js';
import { createNodeDriver, loadNodeSqlite } from './drivers/node-driver.js';
import { SqliteDriverUnavailableError, SqliteError } from './errors.js';
import type { OpenDatabaseOptions, SqliteDriver, SqliteDriverName } from './types.js';

const NODE_SQLITE_MINIMUM = 'Node.js 22.13';
const BUILD_TOOLS_HINT =
  'install python3, make and g++ and run npm install again, so that npm can build better-sqlite3';

type Loaded = { driver: SqliteDriver } | { error: unknown };

/** Each driver's load result, cached because a failed load fails the same way again. */
const loaded = new Map<SqliteDriverName, Loaded>();

function loadDriver(name: SqliteDriverName): Loaded {
  let result = loaded.get(name);
  if (result === undefined) {
    result = name === 'node' ? loadNodeDriver() : loadBetterSqlite3Driver();
    loaded.set(name, result);
  }
  return result;
}

function loadNodeDriver(): Loaded {
  const sqlite = loadNodeSqlite();
  if (sqlite === undefined) {
    return { error: new Error(`node:sqlite is not in Node.js ${process.version}`) };
  }
  return { driver: createNodeDriver(sqlite) };
}

function loadBetterSqlite3Driver(): Loaded {
  try {
    return { driver: createBetterSqlite3Driver(loadBetterSqlite3()) };
  } catch (err) {
    return { error: err };
  }
}

/** Returns whether `driver` can be loaded in this process; loads it to find out. */
export function isDriverAvailable(driver: SqliteDriverName): boolean {
  return 'driver' in loadDriver(driver);
}

function chooseDriver(requested: SqliteDriverName | 'auto'): SqliteDriver {
  if (requested === 'node') {
    const node = loadDriver('node');
    if ('driver' in node) return node.driver;
    throw new SqliteDriverUnavailableError(
      `the node:sqlite driver needs ${NODE_SQLITE_MINIMUM} or later, and this is ` +
        `${process.version}: use driver 'auto' or 'better-sqlite3'`,
    );
  }

  if (requested === 'better-sqlite3') {
    const better = loadDriver('better-sqlite3');
    if ('driver' in better) return better.driver;
    throw new SqliteDriverUnavailableError(
      `the better-sqlite3 driver failed to load (${describe(better.error)}): ` +
        `${BUILD_TOOLS_HINT}, or use driver 'auto' on ${NODE_SQLITE_MINIMUM} or later`,
      { cause: better.error },
    );
  }

  const node = loadDriver('node');
  if ('driver' in node) return node.driver;
  const better = loadDriver('better-sqlite3');
  if ('driver' in better) return better.driver;
  throw new SqliteDriverUnavailableError(
    `no SQLite driver is available: node:sqlite needs ${NODE_SQLITE_MINIMUM} or later ` +
      `(this is ${process.version}), and better-sqlite3 failed to load ` +
      `(${describe(better.error)}). Use ${NODE_SQLITE_MINIMUM} or later, or ${BUILD_TOOLS_HINT}`,
    { cause: better.error },
  );
}

/**
 * Opens (and creates when missing) the database at `options.path` with the busy timeout
 * set. Throws `SqliteDriverUnavailableError` when no driver loads, and a `SqliteError`
 * (`SQLITE_CANTOPEN` or SQLite's own code) when the file cannot be opened.
 */
export function openDatabase(options: OpenDatabaseOptions): SqliteDatabase {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new RangeError(`invalid busyTimeoutMs ${busyTimeoutMs}: expected an integer >= 0`);
  }
  const driver = chooseDriver(options.driver ?? 'auto');

  let connection;
  try {
    connection = driver.open(options.path, options.readOnly ?? false);
  } catch (err) {
    // better-sqlite3 checks that the folder exists before SQLite runs, and throws a
    // TypeError where node:sqlite reports SQLITE_CANTOPEN.
    const translated = driver.translateError(err);
    const code = translated instanceof SqliteError ? translated.code : 'SQLITE_CANTOPEN';
    throw new SqliteError(code, `cannot open SQLite database ${options.path}: ${describe(err)}`, {
      cause: err,
    });
  }

  const database = new SqliteDatabase(connection, driver);
  try {
    database.pragma(`busy_timeout = ${busyTimeoutMs}`);
  } catch (err) {
    database.close();
    throw err;
  }
  return database;
}

/** Returns the first line of an error's message: `require` appends its require stack. */
function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n', 1)[0] ?? message;
}
