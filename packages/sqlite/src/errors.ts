/**
 * Errors of the SQLite adapter. Both drivers raise `SqliteError` with SQLite's own result
 * code name (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_BUSY`), so callers branch on `code` and
 * never on the driver. Errors that SQLite did not report, such as a parameter of a type
 * SQLite cannot bind, pass through from the driver unchanged.
 */
import { primaryCodeName } from './result-codes.js';

export interface SqliteErrorOptions {
  cause?: unknown;
}

export class SqliteError extends Error {
  /**
   * SQLite's extended result code name (`SQLITE_CONSTRAINT_UNIQUE`), or
   * `SQLITE_DRIVER_UNAVAILABLE` when no driver could be loaded.
   */
  readonly code: string;

  constructor(code: string, message: string, options: SqliteErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }

  /** The primary result code name: `SQLITE_BUSY` for `SQLITE_BUSY_TIMEOUT`. */
  get primaryCode(): string {
    return primaryCodeName(this.code);
  }
}

/** Neither node:sqlite nor better-sqlite3 can be loaded, or the forced driver cannot. */
export class SqliteDriverUnavailableError extends SqliteError {
  constructor(message: string, options: SqliteErrorOptions = {}) {
    super('SQLITE_DRIVER_UNAVAILABLE', message, options);
  }
}

/** Returns whether `err` is a violation of a UNIQUE or PRIMARY KEY constraint. */
export function isUniqueViolation(err: unknown): boolean {
  return (
    err instanceof SqliteError &&
    (err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY')
  );
}
