/**
 * Schema migrations for the SQLite store, applied in order at startup. Each entry runs
 * once, inside one transaction, and `PRAGMA user_version` records how many have run.
 * Append new migrations; never edit one that has shipped.
 */
import type { SqliteDatabase as Database } from '@voxfleet/sqlite';

export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
  );

  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TEXT NOT NULL
  );

  CREATE TABLE bots (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX bots_tenant ON bots(tenant_id, created_at);

  CREATE TABLE campaigns (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    bot_id TEXT NOT NULL REFERENCES bots(id),
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    retry_backoff_ms INTEGER NOT NULL,
    caller_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX campaigns_tenant ON campaigns(tenant_id, created_at);
  CREATE INDEX campaigns_status ON campaigns(status, created_at);

  CREATE TABLE contacts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    campaign_id TEXT NOT NULL REFERENCES campaigns(id),
    phone TEXT NOT NULL,
    name TEXT,
    scenario TEXT,
    variables TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_call_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (campaign_id, phone)
  );
  CREATE INDEX contacts_due ON contacts(campaign_id, state, next_attempt_at, seq);

  CREATE TABLE calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    bot_id TEXT NOT NULL,
    campaign_id TEXT,
    contact_id TEXT,
    attempt INTEGER NOT NULL,
    to_phone TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    carrier_call_id TEXT,
    worker_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    answered_at TEXT,
    ended_at TEXT,
    outcome TEXT,
    result TEXT,
    recording_key TEXT,
    recording_bytes INTEGER,
    recording_uploaded_at TEXT
  );
  CREATE INDEX calls_tenant ON calls(tenant_id, seq);
  CREATE INDEX calls_campaign ON calls(campaign_id, status);
  CREATE INDEX calls_contact ON calls(contact_id, attempt);

  CREATE TABLE call_status_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT NOT NULL,
    status TEXT NOT NULL,
    at TEXT NOT NULL,
    reason TEXT
  );
  CREATE INDEX call_status_history_call ON call_status_history(call_id, seq);
  `,
  // Inbound lines: every call stored before is outbound; a bot gets its webhook key and a
  // tenant its carrier secrets. SQLite lets a UNIQUE index hold many NULL keys.
  `
  ALTER TABLE calls ADD COLUMN direction TEXT NOT NULL DEFAULT 'outbound';
  ALTER TABLE calls ADD COLUMN from_phone TEXT;
  CREATE INDEX calls_tenant_direction ON calls(tenant_id, direction, seq);
  CREATE INDEX calls_direction_status ON calls(direction, status, updated_at);

  ALTER TABLE bots ADD COLUMN inbound_key TEXT;
  CREATE UNIQUE INDEX bots_inbound_key ON bots(inbound_key);

  CREATE TABLE carrier_credentials (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    provider TEXT NOT NULL,
    secret TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, provider)
  );
  `,
];

/** Applies pending migrations and returns how many ran. */
export function migrate(db: Database): number {
  const current = Number(db.pragmaValue('user_version'));
  let applied = 0;
  for (let version = current; version < MIGRATIONS.length; version++) {
    const sql = MIGRATIONS[version];
    if (sql === undefined) break;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version + 1}`);
    });
    applied++;
  }
  return applied;
}
