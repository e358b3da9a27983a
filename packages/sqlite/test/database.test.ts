/**
 * The adapter's behaviour, run once per driver. A driver this Node.js cannot load is
 * skipped with the reason: node:sqlite needs Node.js 22.13, and better-sqlite3 needs an
 * addon built for this Node.js.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  isDriverAvailable,
  isUniqueViolation,
  openDatabase,
  SqliteError,
  type SqliteDatabase,
  type SqliteDriverName,
} from '../src/index.js';

const DRIVERS: SqliteDriverName[] = ['node', 'better-sqlite3'];

function skipReason(driver: SqliteDriverName): string | false {
  if (isDriverAvailable(driver)) return false;
  return driver === 'node'
    ? `node:sqlite is not in Node.js ${process.version}`
    : `better-sqlite3 does not load in Node.js ${process.version}`;
}

/** Returns the error `work` throws, failing the test when it throws nothing. */
function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

for (const driver of DRIVERS) {
  describe(`sqlite adapter on ${driver}`, { skip: skipReason(driver) }, () => {
    let dir = '';
    let db: SqliteDatabase;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'voxfleet-sqlite-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    function openMemory(): SqliteDatabase {
      db = openDatabase({ path: ':memory:', driver });
      db.exec(`CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        size INTEGER CHECK (size >= 0),
        data BLOB
      )`);
      return db;
    }

    test('open reports the forced driver', () => {
      const opened = openMemory();
      assert.equal(opened.driver, driver);
      opened.close();
    });

    test('run returns changes and lastInsertRowid', () => {
      const opened = openMemory();
      const insert = opened.prepare('INSERT INTO items (name, size) VALUES (?, ?)');
      assert.deepEqual(insert.run('a', 1), { changes: 1, lastInsertRowid: 1 });
      assert.deepEqual(insert.run('b', 2), { changes: 1, lastInsertRowid: 2 });
      const update = opened.prepare('UPDATE items SET size = size + 1').run();
      assert.equal(update.changes, 2);
      assert.equal(typeof update.lastInsertRowid, 'number');
      opened.close();
    });

    test('get and all return plain objects', () => {
      const opened = openMemory();
      opened.prepare('INSERT INTO items (name, size) VALUES (?, ?)').run('a', 7);
      const row = opened.prepare('SELECT name, size FROM items WHERE id = ?').get(1);
      assert.deepStrictEqual(row, { name: 'a', size: 7 });
      assert.equal(Object.getPrototypeOf(row), Object.prototype);
      const rows = opened.prepare('SELECT id, name FROM items').all();
      assert.deepStrictEqual(rows, [{ id: 1, name: 'a' }]);
      assert.equal(Object.getPrototypeOf(rows[0]), Object.prototype);
      opened.close();
    });

    test('get returns undefined without a row', () => {
      const opened = openMemory();
      assert.equal(opened.prepare('SELECT * FROM items WHERE id = ?').get(42), undefined);
      assert.deepEqual(opened.prepare('SELECT * FROM items').all(), []);
      opened.close();
    });

    test('named parameters bind by bare name', () => {
      const opened = openMemory();
      opened.prepare('INSERT INTO items (name, size) VALUES (:name, @size)').run({
        name: 'a',
        size: 3,
      });
      const row = opened
        .prepare('SELECT size FROM items WHERE name = :name AND (:min IS NULL OR size >= :min)')
        .get({ name: 'a', min: null });
      assert.deepEqual(row, { size: 3 });
      opened.close();
    });

    test('named parameters ignore unknown keys', () => {
      const opened = openMemory();
      const row = opened.prepare('SELECT :a AS a').get({ a: 1, unused: 2 });
      assert.deepEqual(row, { a: 1 });
      opened.close();
    });

    test('undefined binds as NULL', () => {
      const opened = openMemory();
      opened.prepare('INSERT INTO items (name, size) VALUES (?, ?)').run('a', undefined);
      opened.prepare('INSERT INTO items (name, size) VALUES (:name, :size)').run({
        name: 'b',
        size: undefined,
      });
      const rows = opened.prepare('SELECT size FROM items ORDER BY id').all();
      assert.deepEqual(rows, [{ size: null }, { size: null }]);
      opened.close();
    });

    test('integers read as numbers, BLOBs as Buffers', () => {
      const opened = openMemory();
      opened
        .prepare('INSERT INTO items (name, size, data) VALUES (?, ?, ?)')
        .run('a', 2n ** 40n, Buffer.from([1, 2, 3]));
      const row = opened.prepare('SELECT size, data FROM items').get() as {
        size: unknown;
        data: unknown;
      };
      assert.equal(row.size, 2 ** 40);
      assert.ok(Buffer.isBuffer(row.data), 'BLOB is a Buffer');
      assert.deepEqual([...(row.data as Buffer)], [1, 2, 3]);
      const count = opened.prepare('SELECT COUNT(*) AS n FROM items').get();
      assert.deepStrictEqual(count, { n: 1 });
      opened.close();
    });

    test('unique violation has the SQLite code', () => {
      const opened = openMemory();
      const insert = opened.prepare('INSERT INTO items (name) VALUES (?)');
      insert.run('a');
      const err = thrown(() => insert.run('a'));
      assert.ok(err instanceof SqliteError, 'a SqliteError');
      assert.equal(err.code, 'SQLITE_CONSTRAINT_UNIQUE');
      assert.equal(err.primaryCode, 'SQLITE_CONSTRAINT');
      assert.match(err.message, /UNIQUE constraint failed: items\.name/);
      assert.equal(isUniqueViolation(err), true);
      opened.close();
    });

    test('constraint violations have the SQLite codes', () => {
      const opened = openMemory();
      opened.exec(`CREATE TABLE parents (id INTEGER PRIMARY KEY);
        CREATE TABLE children (parent_id INTEGER NOT NULL REFERENCES parents(id))`);
      opened.prepare('INSERT INTO items (id, name) VALUES (1, ?)').run('a');
      const cases: Array<[string, string]> = [
        ['INSERT INTO items (id, name) VALUES (1, ?)', 'SQLITE_CONSTRAINT_PRIMARYKEY'],
        ['INSERT INTO items (name, size) VALUES (?, -1)', 'SQLITE_CONSTRAINT_CHECK'],
        ['INSERT INTO children (parent_id) VALUES (NULL + ?)', 'SQLITE_CONSTRAINT_NOTNULL'],
        ['INSERT INTO children (parent_id) VALUES (length(?))', 'SQLITE_CONSTRAINT_FOREIGNKEY'],
      ];
      for (const [sql, code] of cases) {
        const err = thrown(() => opened.prepare(sql).run('b'));
        assert.ok(err instanceof SqliteError, `${sql} raises a SqliteError`);
        assert.equal(err.code, code, sql);
      }
      assert.equal(isUniqueViolation(thrown(() => opened.exec('SELECT nonsense'))), false);
      opened.close();
    });

    test('invalid SQL raises SQLITE_ERROR', () => {
      const opened = openMemory();
      const missing = thrown(() => opened.prepare('SELECT * FROM nowhere'));
      assert.ok(missing instanceof SqliteError);
      assert.equal(missing.code, 'SQLITE_ERROR');
      assert.match(missing.message, /no such table: nowhere/);
      // Double-quoted strings are identifiers only, on both drivers.
      const quoted = thrown(() => opened.prepare('SELECT "text"').get());
      assert.ok(quoted instanceof SqliteError);
      assert.equal(quoted.code, 'SQLITE_ERROR');
      opened.close();
    });

    test('pragma reads and sets values', () => {
      const path = join(dir, `pragma-${driver}.db`);
      const opened = openDatabase({ path, driver, busyTimeoutMs: 1234 });
      assert.equal(opened.pragmaValue('busy_timeout'), 1234);
      assert.deepEqual(opened.pragma('journal_mode = WAL'), [{ journal_mode: 'wal' }]);
      assert.equal(opened.pragmaValue('journal_mode'), 'wal');
      assert.equal(opened.pragmaValue('foreign_keys'), 1);
      assert.deepEqual(opened.pragma('user_version = 7'), []);
      assert.equal(opened.pragmaValue('user_version'), 7);
      opened.exec('CREATE TABLE t (a TEXT, b INTEGER)');
      const columns = opened.pragma('table_info(t)').map((column) => column.name);
      assert.deepEqual(columns, ['a', 'b']);
      assert.equal(opened.pragmaValue('table_info(missing)'), undefined);
      opened.close();
    });

    test('default busy timeout is 5000 ms', () => {
      const opened = openDatabase({ path: ':memory:', driver });
      assert.equal(opened.pragmaValue('busy_timeout'), 5000);
      opened.close();
    });

    test('transaction commits its work', () => {
      const opened = openMemory();
      const result = opened.transaction(() => {
        opened.prepare('INSERT INTO items (name) VALUES (?)').run('a');
        return 'done';
      });
      assert.equal(result, 'done');
      assert.deepEqual(opened.prepare('SELECT name FROM items').all(), [{ name: 'a' }]);
      opened.close();
    });

    test('transaction rolls back on throw', () => {
      const opened = openMemory();
      const failure = new Error('stop');
      const err = thrown(() =>
        opened.transaction(() => {
          opened.prepare('INSERT INTO items (name) VALUES (?)').run('a');
          throw failure;
        }),
      );
      assert.equal(err, failure);
      assert.deepEqual(opened.prepare('SELECT name FROM items').all(), []);
      // The connection is usable again: a new transaction starts cleanly.
      opened.transaction(() => opened.prepare('INSERT INTO items (name) VALUES (?)').run('b'));
      assert.deepEqual(opened.prepare('SELECT name FROM items').all(), [{ name: 'b' }]);
      opened.close();
    });

    test('transaction rolls back a failed statement', () => {
      const opened = openMemory();
      const err = thrown(() =>
        opened.transaction(() => {
          opened.prepare('INSERT INTO items (name) VALUES (?)').run('a');
          opened.prepare('INSERT INTO items (name) VALUES (?)').run('a');
        }),
      );
      assert.ok(isUniqueViolation(err), 'the constraint error reaches the caller');
      assert.deepEqual(opened.prepare('SELECT name FROM items').all(), []);
      opened.close();
    });

    test('nested transaction rolls back alone', () => {
      const opened = openMemory();
      const insert = opened.prepare('INSERT INTO items (name) VALUES (?)');
      opened.transaction(() => {
        insert.run('outer');
        thrown(() =>
          opened.transaction(() => {
            insert.run('inner');
            throw new Error('inner fails');
          }),
        );
        opened.transaction(() => insert.run('inner-kept'));
      });
      const names = opened.prepare('SELECT name FROM items ORDER BY id').all();
      assert.deepEqual(names, [{ name: 'outer' }, { name: 'inner-kept' }]);

      thrown(() =>
        opened.transaction(() => {
          opened.transaction(() => insert.run('committed-savepoint'));
          throw new Error('outer fails');
        }),
      );
      assert.deepEqual(opened.prepare('SELECT COUNT(*) AS n FROM items').get(), { n: 2 });
      opened.close();
    });

    test('transaction rejects async work', () => {
      const opened = openMemory();
      const err = thrown(() =>
        opened.transaction(() => {
          opened.prepare('INSERT INTO items (name) VALUES (?)').run('a');
          return Promise.resolve();
        }),
      );
      assert.ok(err instanceof TypeError);
      assert.match(err.message, /must be synchronous/);
      assert.deepEqual(opened.prepare('SELECT name FROM items').all(), []);
      opened.close();
    });

    test('immediate transaction takes the write lock', () => {
      const path = join(dir, `lock-${driver}.db`);
      const first = openDatabase({ path, driver });
      first.pragma('journal_mode = WAL');
      first.exec('CREATE TABLE t (a INTEGER)');
      const second = openDatabase({ path, driver, busyTimeoutMs: 0 });
      try {
        first.transaction(
          () => {
            // A deferred transaction on the other connection may still read,
            const read = () => second.transaction(() => second.prepare('SELECT * FROM t').all());
            assert.deepEqual(read(), []);
            // but an immediate one cannot start while this one holds the lock.
            const err = thrown(() => second.transaction(() => 0, { behavior: 'immediate' }));
            assert.ok(err instanceof SqliteError);
            assert.equal(err.primaryCode, 'SQLITE_BUSY');
          },
          { behavior: 'immediate' },
        );
        assert.equal(
          second.transaction(() => 'locked no more', { behavior: 'immediate' }),
          'locked no more',
        );
      } finally {
        second.close();
        first.close();
      }
    });

    test('read-only connection rejects writes', () => {
      const path = join(dir, `read-only-${driver}.db`);
      const writer = openDatabase({ path, driver });
      writer.exec('CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)');
      writer.close();
      const reader = openDatabase({ path, driver, readOnly: true });
      assert.deepEqual(reader.prepare('SELECT a FROM t').all(), [{ a: 1 }]);
      const err = thrown(() => reader.exec('INSERT INTO t VALUES (2)'));
      assert.ok(err instanceof SqliteError);
      assert.equal(err.code, 'SQLITE_READONLY');
      reader.close();
    });

    test('open of a missing folder raises SQLITE_CANTOPEN', () => {
      const path = join(dir, 'missing', 'folder', 'x.db');
      const err = thrown(() => openDatabase({ path, driver }));
      assert.ok(err instanceof SqliteError);
      assert.equal(err.code, 'SQLITE_CANTOPEN');
      assert.ok(err.message.includes(path), err.message);
    });

    test('closed connection raises SQLITE_MISUSE', () => {
      const opened = openMemory();
      const statement = opened.prepare('SELECT 1 AS one');
      opened.close();
      opened.close();
      assert.equal(opened.isOpen, false);
      for (const work of [() => statement.get(), () => opened.exec('SELECT 1')]) {
        const err = thrown(work);
        assert.ok(err instanceof SqliteError);
        assert.equal(err.code, 'SQLITE_MISUSE');
      }
    });
  });
}

describe('sqlite adapter across drivers', () => {
  const skip = DRIVERS.map(skipReason).find((reason) => reason !== false) ?? false;

  test('file written by one driver reads in the other', { skip }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'voxfleet-sqlite-'));
    try {
      const path = join(dir, 'shared.db');
      const writer = openDatabase({ path, driver: 'better-sqlite3' });
      writer.pragma('journal_mode = WAL');
      writer.exec('CREATE TABLE t (a TEXT)');
      writer.prepare('INSERT INTO t VALUES (?)').run('from better-sqlite3');
      const reader = openDatabase({ path, driver: 'node' });
      assert.deepEqual(reader.prepare('SELECT a FROM t').all(), [{ a: 'from better-sqlite3' }]);
      reader.close();
      writer.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
