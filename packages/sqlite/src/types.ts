/** Public types of the SQLite adapter, and the small interface each driver implements. */

/** `node` is Node's built-in `node:sqlite`; `better-sqlite3` is the npm addon. */
export type SqliteDriverName = 'node' | 'better-sqlite3';

/** A value SQLite stores. Integers read back as numbers and BLOBs as Buffers. */
export type SqliteValue = string | number | bigint | Uint8Array | null;

/** A value a parameter accepts: `undefined` binds NULL, as better-sqlite3 has always done. */
export type SqliteBindValue = SqliteValue | undefined;

/** Values of `:name`, `@name` or `$name` parameters, keyed by the name without its prefix. */
export type SqliteNamedParameters = Readonly<Record<string, SqliteBindValue>>;

/** Positional values for `?` parameters, optionally after one object of named values. */
export type SqliteParameters =
  SqliteBindValue[] | [named: SqliteNamedParameters, ...positional: SqliteBindValue[]];

export interface SqliteRunResult {
  /** Rows inserted, updated or deleted by the statement. */
  changes: number;
  /** Rowid of the last row inserted through this connection. */
  lastInsertRowid: number;
}

/** A row of a PRAGMA's result. */
export type SqlitePragmaRow = Record<string, SqliteValue>;

export interface OpenDatabaseOptions {
  /** Database file path, or `:memory:` for a database private to this connection. */
  path: string;
  /** How long a statement waits for another connection's lock. Defaults to 5000. */
  busyTimeoutMs?: number;
  /** Opens the file read-only; it must exist. Defaults to false. */
  readOnly?: boolean;
  /**
   * `auto` (the default) uses node:sqlite when this Node.js has it (22.13 and later) and
   * better-sqlite3 otherwise. Tests force one driver to run the same checks on each.
   */
  driver?: SqliteDriverName | 'auto';
}

/**
 * `deferred` takes the write lock at the first write. `immediate` takes it at BEGIN, so
 * waiting for another connection's lock, or failing with SQLITE_BUSY, happens at BEGIN and
 * not half-way through the work.
 */
export type TransactionBehavior = 'deferred' | 'immediate';

export interface TransactionOptions {
  /** Defaults to `deferred`. Ignored by a nested transaction, which joins the outer one. */
  behavior?: TransactionBehavior;
}

/** A prepared statement of one driver, with rows already plain objects. */
export interface DriverStatement {
  run(params: SqliteParameters): SqliteRunResult;
  get(params: SqliteParameters): unknown;
  all(params: SqliteParameters): unknown[];
}

/** An open connection of one driver. Its methods throw the driver's own errors. */
export interface DriverConnection {
  exec(sql: string): void;
  prepare(sql: string): DriverStatement;
  pragma(source: string): SqlitePragmaRow[];
  /** Whether a transaction is open, or undefined when the driver cannot tell. */
  inTransaction(): boolean | undefined;
  close(): void;
}

/** One of the two drivers: opens connections and turns its errors into `SqliteError`. */
export interface SqliteDriver {
  readonly name: SqliteDriverName;
  open(path: string, readOnly: boolean): DriverConnection;
  /** Returns a `SqliteError` for an error SQLite reported, or `err` itself otherwise. */
  translateError(err: unknown): unknown;
}
