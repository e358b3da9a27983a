/**
 * SQLite schema of the registry: one row per worker, with its reservation in the same row
 * (`token` is null when there is none). A reservation is live while it is confirmed or its
 * deadline is in the future. A lapsed one stays in the row until the slot is reserved
 * again or released, so a late `confirm` can return 'expired', and every query treats it
 * as absent. `lapsed` is 1 once its `reservation-lapsed` event has been written.
 *
 * `registry_events` is the slot event log. Its autoincrement id never reuses a value, so
 * it serves as the readers' cursor even after old rows are pruned.
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS registry_workers (
  worker_id   TEXT PRIMARY KEY,
  url         TEXT NOT NULL,
  host        TEXT NOT NULL,
  pool        TEXT NOT NULL,
  labels      TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  draining    INTEGER NOT NULL DEFAULT 0,
  token       TEXT,
  fence       INTEGER,
  call_id     TEXT,
  tenant_id   TEXT,
  campaign_id TEXT,
  deadline    INTEGER,
  confirmed   INTEGER NOT NULL DEFAULT 0,
  lapsed      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS registry_workers_pool ON registry_workers (pool, expires_at);
CREATE TABLE IF NOT EXISTS registry_counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO registry_counters (name, value) VALUES ('fence', 0);
CREATE TABLE IF NOT EXISTS registry_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  type        TEXT NOT NULL,
  worker_id   TEXT NOT NULL,
  pool        TEXT NOT NULL,
  host        TEXT NOT NULL,
  at          INTEGER NOT NULL,
  call_id     TEXT,
  fence       INTEGER,
  tenant_id   TEXT,
  campaign_id TEXT
);
`;

/** Columns added after the first release, for database files created before them. */
export const ADDED_COLUMNS = [
  { table: 'registry_workers', column: 'lapsed', sql: 'lapsed INTEGER NOT NULL DEFAULT 0' },
];

export interface EventRow {
  id: number;
  type: string;
  worker_id: string;
  pool: string;
  host: string;
  at: number;
  call_id: string | null;
  fence: number | null;
  tenant_id: string | null;
  campaign_id: string | null;
}

export interface WorkerRow {
  worker_id: string;
  url: string;
  host: string;
  pool: string;
  labels: string;
  expires_at: number;
  draining: number;
  token: string | null;
  fence: number | null;
  call_id: string | null;
  tenant_id: string | null;
  campaign_id: string | null;
  deadline: number | null;
  confirmed: number;
  lapsed: number;
}

/** SQL condition: the row's reservation still holds the slot at `:now`. */
export const LIVE_RESERVATION = 'token IS NOT NULL AND (confirmed = 1 OR deadline > :now)';
