/**
 * Names of SQLite's result codes, from https://www.sqlite.org/rescode.html. node:sqlite
 * reports only the number (`errcode`), while better-sqlite3 reports the name (`code`), so
 * the node driver looks the name up here to make both drivers raise the same codes.
 */

/** Primary result codes: the low 8 bits of every result code. */
const PRIMARY: Readonly<Record<number, string>> = {
  1: 'ERROR',
  2: 'INTERNAL',
  3: 'PERM',
  4: 'ABORT',
  5: 'BUSY',
  6: 'LOCKED',
  7: 'NOMEM',
  8: 'READONLY',
  9: 'INTERRUPT',
  10: 'IOERR',
  11: 'CORRUPT',
  12: 'NOTFOUND',
  13: 'FULL',
  14: 'CANTOPEN',
  15: 'PROTOCOL',
  16: 'EMPTY',
  17: 'SCHEMA',
  18: 'TOOBIG',
  19: 'CONSTRAINT',
  20: 'MISMATCH',
  21: 'MISUSE',
  22: 'NOLFS',
  23: 'AUTH',
  24: 'FORMAT',
  25: 'RANGE',
  26: 'NOTADB',
  27: 'NOTICE',
  28: 'WARNING',
};

/**
 * Extended result codes, keyed by primary code and then by the number in bits 8 and up
 * (`code = primary | (n << 8)`).
 */
const EXTENDED: Readonly<Record<number, readonly string[]>> = {
  1: ['', 'MISSING_COLLSEQ', 'RETRY', 'SNAPSHOT'],
  4: ['', '', 'ROLLBACK'],
  5: ['', 'RECOVERY', 'SNAPSHOT', 'TIMEOUT'],
  6: ['', 'SHAREDCACHE', 'VTAB'],
  8: ['', 'RECOVERY', 'CANTLOCK', 'ROLLBACK', 'DBMOVED', 'CANTINIT', 'DIRECTORY'],
  10: [
    '',
    'READ',
    'SHORT_READ',
    'WRITE',
    'FSYNC',
    'DIR_FSYNC',
    'TRUNCATE',
    'FSTAT',
    'UNLOCK',
    'RDLOCK',
    'DELETE',
    'BLOCKED',
    'NOMEM',
    'ACCESS',
    'CHECKRESERVEDLOCK',
    'LOCK',
    'CLOSE',
    'DIR_CLOSE',
    'SHMOPEN',
    'SHMSIZE',
    'SHMLOCK',
    'SHMMAP',
    'SEEK',
    'DELETE_NOENT',
    'MMAP',
    'GETTEMPPATH',
    'CONVPATH',
    'VNODE',
    'AUTH',
    'BEGIN_ATOMIC',
    'COMMIT_ATOMIC',
    'ROLLBACK_ATOMIC',
    'DATA',
    'CORRUPTFS',
    'IN_PAGE',
  ],
  11: ['', 'VTAB', 'SEQUENCE', 'INDEX'],
  14: ['', 'NOTEMPDIR', 'ISDIR', 'FULLPATH', 'CONVPATH', 'DIRTYWAL', 'SYMLINK'],
  19: [
    '',
    'CHECK',
    'COMMITHOOK',
    'FOREIGNKEY',
    'FUNCTION',
    'NOTNULL',
    'PRIMARYKEY',
    'TRIGGER',
    'UNIQUE',
    'VTAB',
    'ROWID',
    'PINNED',
    'DATATYPE',
  ],
  23: ['', 'USER'],
  27: ['', 'RECOVER_WAL', 'RECOVER_ROLLBACK', 'RBU'],
  28: ['', 'AUTOINDEX'],
};

/**
 * Returns the name of a result code, such as `SQLITE_CONSTRAINT_UNIQUE` for 2067. An
 * extended code missing from the table gets its primary code's name, and an unknown
 * primary code gets `UNKNOWN_SQLITE_ERROR_<n>`, the form better-sqlite3 uses.
 */
export function resultCodeName(resultCode: number): string {
  const primary = resultCode & 0xff;
  const primaryName = PRIMARY[primary];
  if (primaryName === undefined) return `UNKNOWN_SQLITE_ERROR_${resultCode}`;
  const extendedName = EXTENDED[primary]?.[resultCode >> 8];
  if (extendedName === undefined || extendedName === '' || resultCode === primary) {
    return `SQLITE_${primaryName}`;
  }
  return `SQLITE_${primaryName}_${extendedName}`;
}

/** Returns the primary code's name of a result code name: `SQLITE_BUSY` for `SQLITE_BUSY_TIMEOUT`. */
export function primaryCodeName(code: string): string {
  const match = /^SQLITE_[A-Z]+/.exec(code);
  return match === null ? code : match[0];
}
