/**
 * The driver on Node's built-in `node:sqlite` (unflagged from Node.js 22.13). It converts
 * what node:sqlite does differently from better-sqlite3 where a caller could tell: rows
 * come back as null-prototype objects and BLOBs as Uint8Array, `undefined` cannot be bound,
 * an unknown named parameter throws, and errors carry only a numeric result code.
 */
import { SqliteError } from '../errors.js';
import { resultCodeName } from '../result-codes.js';
import type {
  DriverConnection,
  DriverStatement,
  SqliteBindValue,
  SqliteDriver,
  SqliteNamedParameters,
  SqliteParameters,
  SqlitePragmaRow,
  SqliteValue,
} from '../types.js';

/** The part of node:sqlite this driver uses; @types/node 20 has no types for it. */
interface NodeSqliteModule {
  DatabaseSync: new (path: string, options: NodeDatabaseOptions) => NodeDatabase;
}

interface NodeDatabaseOptions {
  readOnly: boolean;
  enableForeignKeyConstraints: boolean;
  enableDoubleQuotedStringLiterals: boolean;
}

interface NodeDatabase {
  exec(sql: string): void;
  prepare(sql: string): NodeStatement;
  close(): void;
  /** Missing in some Node.js 22 releases, where `transaction` does without it. */
  readonly isTransaction?: boolean;
}

interface NodeStatement {
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  /** Missing in early node:sqlite releases, and present in Node.js 24.22. */
  setAllowUnknownNamedParameters?: (enabled: boolean) => void;
}

/** Returns node:sqlite, or undefined when this Node.js does not have it. */
export function loadNodeSqlite(): NodeSqliteModule | undefined {
  // getBuiltinModule itself arrived in Node.js 20.16. It returns undefined for a module this
  // version lacks: node:sqlite before 22.5, or before 22.13 without --experimental-sqlite.
  const getBuiltinModule = process.getBuiltinModule as
    ((id: string) => object | undefined) | undefined;
  const loaded = getBuiltinModule?.('node:sqlite');
  if (loaded === undefined || !('DatabaseSync' in loaded)) return undefined;
  return loaded as NodeSqliteModule;
}

export function createNodeDriver(sqlite: NodeSqliteModule): SqliteDriver {
  return {
    name: 'node',
    open(path, readOnly) {
      // Foreign keys on and double-quoted strings off are also better-sqlite3's defaults.
      const db = new sqlite.DatabaseSync(path, {
        readOnly,
        enableForeignKeyConstraints: true,
        enableDoubleQuotedStringLiterals: false,
      });
      return new NodeConnection(db);
    },
    translateError,
  };
}

class NodeConnection implements DriverConnection {
  readonly #db: NodeDatabase;

  constructor(db: NodeDatabase) {
    this.#db = db;
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  prepare(sql: string): DriverStatement {
    return new NodeStatementAdapter(this.#db.prepare(sql));
  }

  pragma(source: string): SqlitePragmaRow[] {
    return this.#db.prepare(`PRAGMA ${source}`).all().map(toPlainRow) as SqlitePragmaRow[];
  }

  inTransaction(): boolean | undefined {
    return this.#db.isTransaction;
  }

  close(): void {
    this.#db.close();
  }
}

class NodeStatementAdapter implements DriverStatement {
  readonly #statement: NodeStatement;

  constructor(statement: NodeStatement) {
    // better-sqlite3 ignores object keys that name no parameter. NOTE: on a Node.js without
    // this setter, such as early 22.x releases, an unknown key still throws.
    statement.setAllowUnknownNamedParameters?.(true);
    this.#statement = statement;
  }

  run(params: SqliteParameters): { changes: number; lastInsertRowid: number } {
    const result = this.#statement.run(...toNodeParameters(params));
    return { changes: Number(result.changes), lastInsertRowid: Number(result.lastInsertRowid) };
  }

  get(params: SqliteParameters): unknown {
    const row = this.#statement.get(...toNodeParameters(params));
    return row === undefined ? undefined : toPlainRow(row);
  }

  all(params: SqliteParameters): unknown[] {
    return this.#statement.all(...toNodeParameters(params)).map(toPlainRow);
  }
}

/** Binds `undefined` as NULL, which node:sqlite rejects and better-sqlite3 accepts. */
function toNodeParameters(params: SqliteParameters): unknown[] {
  return params.map((param) => {
    if (param === undefined) return null;
    if (param === null || typeof param !== 'object' || param instanceof Uint8Array) return param;
    return toNodeNamedParameters(param);
  });
}

function toNodeNamedParameters(named: SqliteNamedParameters): Record<string, SqliteValue> {
  const converted: Record<string, SqliteValue> = {};
  for (const [name, value] of Object.entries(named)) converted[name] = toBindValue(value);
  return converted;
}

function toBindValue(value: SqliteBindValue): SqliteValue {
  return value === undefined ? null : value;
}

/** Copies a null-prototype row into a plain object, with BLOBs as Buffers. */
function toPlainRow(row: unknown): Record<string, unknown> {
  const plain: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row as Record<string, unknown>)) {
    plain[column] =
      value instanceof Uint8Array
        ? Buffer.from(value.buffer, value.byteOffset, value.length)
        : value;
  }
  return plain;
}

function translateError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const { code, errcode } = err as { code?: unknown; errcode?: unknown };
  if (code !== 'ERR_SQLITE_ERROR' || typeof errcode !== 'number') return err;
  return new SqliteError(resultCodeName(errcode), err.message, { cause: err });
}
