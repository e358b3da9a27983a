/**
 * The connection and statement classes callers use. They hold one driver's connection,
 * turn its SQLite errors into `SqliteError`, and run transactions with plain BEGIN,
 * SAVEPOINT and COMMIT statements, so both drivers nest and roll back the same way.
 */
import { SqliteError } from './errors.js';
import type {
  DriverConnection,
  DriverStatement,
  SqliteDriver,
  SqliteDriverName,
  SqliteParameters,
  SqlitePragmaRow,
  SqliteRunResult,
  SqliteValue,
  TransactionOptions,
} from './types.js';

export class SqliteStatement {
  readonly #statement: DriverStatement;
  readonly #database: SqliteDatabase;
  readonly #driver: SqliteDriver;

  /** @internal Use `SqliteDatabase.prepare`. */
  constructor(statement: DriverStatement, database: SqliteDatabase, driver: SqliteDriver) {
    this.#statement = statement;
    this.#database = database;
    this.#driver = driver;
  }

  /** Runs the statement and returns how many rows it changed and the last rowid inserted. */
  run(...params: SqliteParameters): SqliteRunResult {
    checkOpen(this.#database);
    try {
      return this.#statement.run(params);
    } catch (err) {
      throw this.#driver.translateError(err);
    }
  }

  /** Returns the first row as a plain object, or undefined when there is none. */
  get(...params: SqliteParameters): unknown {
    checkOpen(this.#database);
    try {
      return this.#statement.get(params);
    } catch (err) {
      throw this.#driver.translateError(err);
    }
  }

  /** Returns every row as a plain object. */
  all(...params: SqliteParameters): unknown[] {
    checkOpen(this.#database);
    try {
      return this.#statement.all(params);
    } catch (err) {
      throw this.#driver.translateError(err);
    }
  }
}

export class SqliteDatabase {
  /** The driver behind this connection. */
  readonly driver: SqliteDriverName;
  readonly #connection: DriverConnection;
  readonly #driver: SqliteDriver;
  /** Open transactions: 0 outside one, 1 in BEGIN, 2 and up in savepoints. */
  #depth = 0;
  #open = true;

  /** @internal Use `openDatabase`. */
  constructor(connection: DriverConnection, driver: SqliteDriver) {
    this.#connection = connection;
    this.#driver = driver;
    this.driver = driver.name;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** Runs one or more SQL statements that bind no parameters. */
  exec(sql: string): void {
    checkOpen(this);
    try {
      this.#connection.exec(sql);
    } catch (err) {
      throw this.#driver.translateError(err);
    }
  }

  prepare(sql: string): SqliteStatement {
    checkOpen(this);
    try {
      return new SqliteStatement(this.#connection.prepare(sql), this, this.#driver);
    } catch (err) {
      throw this.#driver.translateError(err);
    }
  }

  /**
   * Runs `PRAGMA <source>` and returns its rows: `pragma('table_info(t)')` reads,
   * `pragma('journal_mode = WAL')` sets and returns the new value's row.
   */
  pragma(source: string): SqlitePragmaRow[] {
    checkOpen(this);
    try {
      return this.#connection.pragma(source);
    } catch (err) {
      throw this.#driver.translateError(err);
    }
  }

  /** Returns the first column of a PRAGMA's first row, such as `pragmaValue('user_version')`. */
  pragmaValue(source: string): SqliteValue | undefined {
    const row = this.pragma(source)[0];
    return row === undefined ? undefined : Object.values(row)[0];
  }

  /**
   * Runs `work` in a transaction and commits it, or rolls it back and rethrows when `work`
   * throws. A call inside another transaction runs in a savepoint, so only its own changes
   * roll back. `work` must be synchronous: a returned promise is rolled back and rejected
   * with a TypeError, as better-sqlite3 does.
   */
  transaction<T>(work: () => T, options: TransactionOptions = {}): T {
    const depth = this.#depth;
    const savepoint = `voxfleet_savepoint_${depth}`;
    if (depth === 0) this.exec(options.behavior === 'immediate' ? 'BEGIN IMMEDIATE' : 'BEGIN');
    else this.exec(`SAVEPOINT ${savepoint}`);
    this.#depth = depth + 1;

    try {
      const result = work();
      if (isPromiseLike(result)) {
        throw new TypeError('transaction work returned a promise: it must be synchronous');
      }
      this.exec(depth === 0 ? 'COMMIT' : `RELEASE ${savepoint}`);
      return result;
    } catch (err) {
      this.#rollback(depth, savepoint);
      throw err;
    } finally {
      this.#depth = depth;
    }
  }

  /** Closes the connection. Closing it again does nothing. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#connection.close();
  }

  /**
   * Undoes the failed transaction or savepoint. SQLite rolls the whole transaction back by
   * itself after some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY in some cases), and
   * then a ROLLBACK fails. The error of `work` is the one to report, so a failed ROLLBACK
   * is ignored.
   */
  #rollback(depth: number, savepoint: string): void {
    if (this.#connection.inTransaction() === false) return;
    try {
      if (depth === 0) this.#connection.exec('ROLLBACK');
      else this.#connection.exec(`ROLLBACK TO ${savepoint}; RELEASE ${savepoint}`);
    } catch {
      // Ignored, see above.
    }
  }
}

/** Raises the same error on both drivers, which word a closed connection differently. */
function checkOpen(database: SqliteDatabase): void {
  if (!database.isOpen) throw new SqliteError('SQLITE_MISUSE', 'the database connection is closed');
}

function isPromiseLike(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
