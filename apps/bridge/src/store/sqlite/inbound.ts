/**
 * The inbound side of the SQLite store: bots' inbound keys, inbound call records, the sweep
 * of inbound calls that no result closed, and tenants' carrier credentials.
 */
import type { SqliteDatabase as Database } from '@voxfleet/sqlite';

import { botNotFound } from '../../errors.js';
import type {
  AbandonedCall,
  Bot,
  Call,
  CarrierCredentialProvider,
  NewInboundCall,
} from '../types.js';
import { addHistory } from './dialling.js';
import { maxCallDurationMs } from './open-calls.js';
import { toBot, toCall } from './rows.js';
import type { BotRow, CallRow } from './rows.js';

export function findBotByInboundKey(db: Database, inboundKey: string): Bot | null {
  const row = db.prepare('SELECT * FROM bots WHERE inbound_key = ?').get(inboundKey) as
    BotRow | undefined;
  return row === undefined ? null : toBot(row);
}

export function rotateInboundKey(
  db: Database,
  tenantId: string,
  botId: string,
  inboundKey: string,
  now: string,
): Bot {
  const changes = db
    .prepare('UPDATE bots SET inbound_key = ?, updated_at = ? WHERE id = ? AND tenant_id = ?')
    .run(inboundKey, now, botId, tenantId).changes;
  if (changes === 0) throw botNotFound(botId);
  return toBot(db.prepare('SELECT * FROM bots WHERE id = ?').get(botId) as BotRow);
}

export function createInboundCall(db: Database, call: NewInboundCall): Call {
  return db.transaction(() => {
    const answered = call.status === 'in-progress';
    db.prepare(
      `INSERT INTO calls (id, tenant_id, bot_id, campaign_id, contact_id, attempt, to_phone,
         status, reason, carrier_call_id, worker_id, created_at, updated_at, answered_at,
         ended_at, direction, from_phone)
       VALUES (?, ?, ?, NULL, NULL, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'inbound', ?)`,
    ).run(
      call.id,
      call.tenantId,
      call.botId,
      call.to,
      call.status,
      call.reason,
      call.carrierCallId,
      call.workerId,
      call.at,
      call.at,
      answered ? call.at : null,
      answered ? null : call.at,
      call.from,
    );
    addHistory(db, call.id, call.status, call.at, call.reason);
    return toCall(db.prepare('SELECT * FROM calls WHERE id = ?').get(call.id) as CallRow);
  });
}

/**
 * Closes live inbound calls without an update for longer than `staleMs` plus the bot's
 * `maxCallDurationMs` as `failed`, reason `abandoned`. The caller may run it inside its own
 * transaction; it then becomes a savepoint of it.
 */
export function closeAbandonedInboundCalls(
  db: Database,
  now: string,
  staleMs: number,
): AbandonedCall[] {
  return db.transaction(() => {
    const nowMs = Date.parse(now);
    const cutoff = new Date(nowMs - staleMs).toISOString();
    // Every candidate is older than the cutoff; each is checked against its bot's limit below.
    const rows = db
      .prepare(
        `SELECT * FROM calls WHERE direction = 'inbound'
           AND status IN ('queued', 'dialling', 'ringing', 'in-progress') AND updated_at < ?`,
      )
      .all(cutoff) as CallRow[];
    const closed: AbandonedCall[] = [];
    for (const row of rows) {
      const call = toCall(row);
      const limitMs = maxCallDurationMs(db, call.botId) + staleMs;
      if (Date.parse(call.updatedAt) >= nowMs - limitMs) continue;
      db.prepare(
        `UPDATE calls SET status = 'failed', reason = 'abandoned', updated_at = ?, ended_at = ?
         WHERE id = ?`,
      ).run(now, now, call.id);
      addHistory(db, call.id, 'failed', now, 'abandoned');
      closed.push({
        callId: call.id,
        contactId: null,
        campaignId: null,
        status: call.status,
        contactState: null,
      });
    }
    return closed;
  });
}

export function getCarrierCredential(
  db: Database,
  tenantId: string,
  provider: CarrierCredentialProvider,
): string | null {
  const row = db
    .prepare('SELECT secret FROM carrier_credentials WHERE tenant_id = ? AND provider = ?')
    .get(tenantId, provider) as { secret: string } | undefined;
  return row?.secret ?? null;
}

export function setCarrierCredential(
  db: Database,
  tenantId: string,
  provider: CarrierCredentialProvider,
  secret: string | null,
  now: string,
): void {
  if (secret === null) {
    db.prepare('DELETE FROM carrier_credentials WHERE tenant_id = ? AND provider = ?').run(
      tenantId,
      provider,
    );
    return;
  }
  db.prepare(
    `INSERT INTO carrier_credentials (tenant_id, provider, secret, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (tenant_id, provider) DO UPDATE SET secret = excluded.secret,
       updated_at = excluded.updated_at`,
  ).run(tenantId, provider, secret, now);
}
