/**
 * Which driver `openDatabase` picks, and the errors when none fits. The missing-addon case
 * runs a copy of `src/` in a temporary folder outside the repository, where `require`
 * cannot find better-sqlite3, exactly as after an `npm ci` that skipped it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import {
  isDriverAvailable,
  openDatabase,
  SqliteDriverUnavailableError,
  SqliteError,
} from '../src/index.js';

const run = promisify(execFile);
const repositoryRoot = fileURLToPath(new URL('../../..', import.meta.url));
const sourceDir = fileURLToPath(new URL('../src', import.meta.url));
const nodeHasSqlite = isDriverAvailable('node');

test('auto driver prefers node:sqlite', () => {
  const db = openDatabase({ path: ':memory:' });
  try {
    assert.equal(db.driver, nodeHasSqlite ? 'node' : 'better-sqlite3');
  } finally {
    db.close();
  }
});

const nodeSkip = nodeHasSqlite && `node:sqlite is in Node.js ${process.version}`;
const betterSkip = isDriverAvailable('better-sqlite3') && 'better-sqlite3 loads here';

test('forced node driver without node:sqlite', { skip: nodeSkip }, () => {
  assert.throws(
    () => openDatabase({ path: ':memory:', driver: 'node' }),
    (err: unknown) => {
      assert.ok(err instanceof SqliteDriverUnavailableError);
      assert.ok(err instanceof SqliteError);
      assert.equal(err.code, 'SQLITE_DRIVER_UNAVAILABLE');
      assert.match(err.message, /needs Node\.js 22\.13 or later/);
      assert.ok(err.message.includes(process.version), err.message);
      return true;
    },
  );
});

test('forced better-sqlite3 that fails to load', { skip: betterSkip }, () => {
  assert.throws(
    () => openDatabase({ path: ':memory:', driver: 'better-sqlite3' }),
    (err: unknown) => {
      assert.ok(err instanceof SqliteDriverUnavailableError);
      assert.match(err.message, /better-sqlite3 driver failed to load/);
      assert.match(err.message, /python3, make and g\+\+/);
      assert.notEqual(err.cause, undefined);
      return true;
    },
  );
});

test('invalid busy timeout is rejected', () => {
  for (const busyTimeoutMs of [-1, 1.5, Number.NaN]) {
    assert.throws(() => openDatabase({ path: ':memory:', busyTimeoutMs }), {
      name: 'RangeError',
      message: /invalid busyTimeoutMs/,
    });
  }
});

test('missing better-sqlite3 package', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'voxfleet-sqlite-copy-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await cp(sourceDir, join(dir, 'src'), { recursive: true });
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
  await writeFile(
    join(dir, 'probe.ts'),
    `import { createRequire } from 'node:module';
import { openDatabase } from './src/index.js';

const builtins = (process as { moduleLoadList?: string[] }).moduleLoadList ?? [];
const loadedBeforeOpen = builtins.includes('NativeModule sqlite');
let result: Record<string, unknown>;
try {
  const db = openDatabase({ path: ':memory:' });
  result = { driver: db.driver, row: db.prepare('SELECT 1 AS one').get() };
  db.close();
} catch (err) {
  const { name, code, message } = err as { name: string; code: string; message: string };
  result = { name, code, message };
}
const cache = Object.keys(createRequire(import.meta.url).cache);
result.betterSqlite3Loaded = cache.some((path) => path.includes('better-sqlite3'));
result.loadedBeforeOpen = loadedBeforeOpen;
process.stdout.write(JSON.stringify(result));
`,
  );

  // The child resolves tsx from the repository root, and better-sqlite3 from the copy.
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(dir, 'probe.ts')], {
    cwd: repositoryRoot,
    timeout: 30_000,
  });
  const result = JSON.parse(stdout) as Record<string, unknown>;

  assert.equal(result.loadedBeforeOpen, false, 'importing the package loads no driver');
  assert.equal(result.betterSqlite3Loaded, false);
  if (nodeHasSqlite) {
    assert.equal(result.driver, 'node');
    assert.deepEqual(result.row, { one: 1 });
    return;
  }
  assert.equal(result.name, 'SqliteDriverUnavailableError');
  assert.equal(result.code, 'SQLITE_DRIVER_UNAVAILABLE');
  assert.match(String(result.message), /no SQLite driver is available/);
  assert.match(String(result.message), /Use Node\.js 22\.13 or later/);
  assert.match(String(result.message), /install python3, make and g\+\+ and run npm install/);
  assert.match(String(result.message), /Cannot find module 'better-sqlite3'/);
});
