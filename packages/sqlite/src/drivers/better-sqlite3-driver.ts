/**
 * The driver on better-sqlite3, the native addon, for Node.js versions without
 * node:sqlite. It is an optional dependency: npm skips it when its compile fails, so it is
 * loaded with `require` at open time and only when this driver is chosen.
 */
import { createRequire } from 'node:module';

import type BetterSqlite3 from 'better-sqlite3';

import { SqliteError } from '../errors.js';
import type {
  DriverConnection,
  DriverStatement,
  SqliteDriver,
  SqliteParameters,
  SqlitePragmaRow,
} from '../types.js';

type BetterSqlite3Constructor = typeof BetterSqlite3;

/**
 * Loads better-sqlite3 and opens an in-memory database once, because the package loads its
 * compiled addon only when the first database opens. Throws what `require` or the addon
 * load threw, such as MODULE_NOT_FOUND or ERR_DLOPEN_FAILED (built for another Node.js).
 */
export function loadBetterSqlite3(): BetterSqlite3Constructor {
  const Database = createRequire(import.meta.url)('better-sqlite3') as BetterSqlite3Constructor;
  new Database(':memory:').close();
  return Database;
}

export function createBetterSqlite3Driver(Database: BetterSqlite3Constructor): SqliteDriver {
  return {
    name: 'better-sqlite3',
    open(path, readOnly) {
      return new BetterSqlite3Connection(new Database(path, { readonly: readOnly }));
    },
    translateError: (err) => translateError(Database.SqliteError, err),
  };
}

class BetterSqlite3Connection implements DriverConnection {
  readonly #db: BetterSqlite3.Database;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  prepare(sql: string): DriverStatement {
    return new BetterSqlite3Statement(this.#db.prepare(sql));
  }

  pragma(source: string): SqlitePragmaRow[] {
    return this.#db.pragma(source) as SqlitePragmaRow[];
  }

  inTransaction(): boolean {
    return this.#db.inTransaction;
  }

  close(): void {
    this.#db.close();
  }
}

class BetterSqlite3Statement implements DriverStatement {
  readonly #statement: BetterSqlite3.Statement<unknown[]>;

  constructor(statement: BetterSqlite3.Statement<unknown[]>) {
    this.#statement = statement;
  }

  run(params: SqliteParameters): { changes: number; lastInsertRowid: number } {
    const result = this.#statement.run(...params);
    return { changes: result.changes, lastInsertRowid: Number(result.lastInsertRowid) };
  }

  get(params: SqliteParameters): unknown {
    return this.#statement.get(...params);
  }

  all(params: SqliteParameters): unknown[] {
    return this.#statement.all(...params);
  }
}

/** better-sqlite3 names the result code already, so only the class changes. */
function translateError(
  DriverError: BetterSqlite3Constructor['SqliteError'],
  err: unknown,
): unknown {
  if (!(err instanceof DriverError)) return err;
  return new SqliteError(err.code, err.message, { cause: err });
}
