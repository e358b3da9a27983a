/**
 * SQLite for voxfleet on whichever driver this Node.js offers: the built-in `node:sqlite`
 * from Node.js 22.13, else the better-sqlite3 addon (an optional dependency that needs
 * build tools when npm finds no prebuilt binary). Both give the same rows, numbers and
 * error codes, so callers never branch on the driver.
 *
 * @example
 * const db = openDatabase({ path: '.voxfleet/bridge.db', busyTimeoutMs: 5000 });
 * db.pragma('journal_mode = WAL');
 * const id = db.transaction(() => db.prepare('INSERT INTO t (name) VALUES (?)').run('a'), {
 *   behavior: 'immediate',
 * }).lastInsertRowid;
 * const row = db.prepare('SELECT * FROM t WHERE id = :id').get({ id });
 */
export { SqliteDatabase, SqliteStatement } from './database.js';
export { SqliteDriverUnavailableError, SqliteError, isUniqueViolation } from './errors.js';
export { isDriverAvailable, openDatabase } from './open.js';
export type {
  OpenDatabaseOptions,
  SqliteBindValue,
  SqliteDriverName,
  SqliteNamedParameters,
  SqliteParameters,
  SqlitePragmaRow,
  SqliteRunResult,
  SqliteValue,
  TransactionBehavior,
  TransactionOptions,
} from './types.js';
