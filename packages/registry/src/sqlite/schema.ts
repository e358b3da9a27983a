/**
 * SQLite schema of the registry: one row per worker, with its reservation in the same row
 * (`token` is null when there is none). A reservation is live while it is confirmed or its
 * deadline is in the future. A lapsed one stays in the row until the slot is reserved
 * again or released, and every query treats it as absent.
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
  confirmed   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS registry_workers_pool ON registry_workers (pool, expires_at);
CREATE TABLE IF NOT EXISTS registry_counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
INSERT OR IGNORE INTO registry_counters (name, value) VALUES ('fence', 0);
`;

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
}

/** SQL condition: the row's reservation still holds the slot at `:now`. */
export const LIVE_RESERVATION = 'token IS NOT NULL AND (confirmed = 1 OR deadline > :now)';
