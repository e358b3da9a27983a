/**
 * Live campaign calls in the SQLite store: listing them for a restarted dialler, and
 * closing the ones no dialler has updated for too long (the claim's abandoned sweep).
 */
import type { CallStatus } from '@voxfleet/schema';
import type { SqliteDatabase as Database } from '@voxfleet/sqlite';

import { DEFAULT_MAX_CALL_DURATION_MS } from '../types.js';
import type { AbandonedCall, Campaign, OpenCall, OpenCallFilter } from '../types.js';
import { addHistory, completeCampaignIfFinished } from './dialling.js';
import { toCall, toCampaign, toContact } from './rows.js';
import type { CallRow, CampaignRow, ContactRow } from './rows.js';

const LIVE_STATUSES = "('queued', 'dialling', 'ringing', 'in-progress')";

export function listOpenCalls(db: Database, filter: OpenCallFilter): OpenCall[] {
  const rows = (
    filter.callId === undefined
      ? db
          .prepare(
            `SELECT * FROM calls WHERE status IN ${LIVE_STATUSES} AND campaign_id IS NOT NULL
               AND contact_id IS NOT NULL
             ORDER BY updated_at, seq LIMIT ?`,
          )
          .all(filter.limit)
      : db
          .prepare(
            `SELECT * FROM calls WHERE id = ? AND status IN ${LIVE_STATUSES}
               AND campaign_id IS NOT NULL AND contact_id IS NOT NULL`,
          )
          .all(filter.callId)
  ) as CallRow[];

  const campaigns = new Map<string, Campaign | null>();
  const open: OpenCall[] = [];
  for (const row of rows) {
    const call = toCall(row);
    if (call.campaignId === null || call.contactId === null) continue;
    const campaign = cachedCampaign(db, campaigns, call.campaignId);
    const contactRow = db.prepare('SELECT * FROM contacts WHERE id = ?').get(call.contactId) as
      ContactRow | undefined;
    if (campaign === null || contactRow === undefined) continue;
    const contact = toContact(contactRow);
    open.push({
      callId: call.id,
      attempt: call.attempt,
      tenantId: call.tenantId,
      botId: call.botId,
      campaignId: call.campaignId,
      contactId: call.contactId,
      to: call.to,
      scenario: contact.scenario,
      variables: contact.variables,
      campaign: {
        maxAttempts: campaign.maxAttempts,
        retryBackoffMs: campaign.retryBackoffMs,
        callerId: campaign.callerId,
      },
      status: call.status,
      carrierCallId: call.carrierCallId,
      workerId: call.workerId,
      createdAt: call.createdAt,
      updatedAt: call.updatedAt,
    });
  }
  return open;
}

/**
 * Closes live campaign calls without an update for longer than `staleMs` (plus the bot's
 * `maxCallDurationMs` for `in-progress` calls) as `failed`, reason `abandoned`, and
 * decides their contacts as a dialler would: `pending` after the campaign's backoff while
 * attempts remain, `failed` otherwise. The caller runs it inside its transaction.
 */
export function closeAbandonedCalls(db: Database, now: string, staleMs: number): AbandonedCall[] {
  const nowMs = Date.parse(now);
  const cutoff = new Date(nowMs - staleMs).toISOString();
  // Every candidate is older than the cutoff; in-progress ones are checked against their bot below.
  const rows = db
    .prepare(
      `SELECT * FROM calls WHERE status IN ${LIVE_STATUSES} AND campaign_id IS NOT NULL
         AND contact_id IS NOT NULL AND updated_at < ?`,
    )
    .all(cutoff) as CallRow[];

  const campaigns = new Map<string, Campaign | null>();
  const closed: AbandonedCall[] = [];
  for (const row of rows) {
    const call = toCall(row);
    if (call.campaignId === null || call.contactId === null) continue;
    if (call.status === 'in-progress') {
      const limitMs = maxCallDurationMs(db, call.botId) + staleMs;
      if (Date.parse(call.updatedAt) >= nowMs - limitMs) continue;
    }

    db.prepare(
      `UPDATE calls SET status = 'failed', reason = 'abandoned', updated_at = ?, ended_at = ?
       WHERE id = ?`,
    ).run(now, now, call.id);
    addHistory(db, call.id, 'failed', now, 'abandoned');

    const campaign = cachedCampaign(db, campaigns, call.campaignId);
    const contactState = decideAbandonedContact(db, call, campaign, now);
    closed.push({
      callId: call.id,
      contactId: call.contactId,
      campaignId: call.campaignId,
      status: call.status,
      contactState,
    });
  }
  return closed;
}

/** Moves the contact dialling on `call` to `pending` with backoff, or to `failed` when it has no attempt left. */
function decideAbandonedContact(
  db: Database,
  call: { id: string; contactId: string | null; attempt: number; status: CallStatus },
  campaign: Campaign | null,
  now: string,
): 'pending' | 'failed' | null {
  if (call.contactId === null || campaign === null) return null;
  const row = db.prepare('SELECT * FROM contacts WHERE id = ?').get(call.contactId) as
    ContactRow | undefined;
  if (row === undefined) return null;
  const contact = toContact(row);
  if (contact.state !== 'dialling' || contact.lastCallId !== call.id) return null;

  const retry = call.attempt < campaign.maxAttempts;
  const state = retry ? 'pending' : 'failed';
  const backoffMs = campaign.retryBackoffMs * 2 ** Math.max(0, call.attempt - 1);
  const nextAttemptAt = retry
    ? new Date(Date.parse(now) + backoffMs).toISOString()
    : contact.nextAttemptAt;
  db.prepare('UPDATE contacts SET state = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?').run(
    state,
    nextAttemptAt,
    now,
    contact.id,
  );
  if (!retry) completeCampaignIfFinished(db, campaign.id, now);
  return state;
}

function cachedCampaign(
  db: Database,
  cache: Map<string, Campaign | null>,
  campaignId: string,
): Campaign | null {
  let campaign = cache.get(campaignId);
  if (campaign === undefined) {
    const row = db.prepare('SELECT * FROM campaigns WHERE id = ?').get(campaignId) as
      CampaignRow | undefined;
    campaign = row === undefined ? null : toCampaign(row);
    cache.set(campaignId, campaign);
  }
  return campaign;
}

/** Reads the bot's `maxCallDurationMs`, or returns the BotConfig default when the bot or the field is missing. */
export function maxCallDurationMs(db: Database, botId: string): number {
  const row = db.prepare('SELECT config FROM bots WHERE id = ?').get(botId) as
    { config: string } | undefined;
  if (row === undefined) return DEFAULT_MAX_CALL_DURATION_MS;
  const config = JSON.parse(row.config) as { maxCallDurationMs?: unknown };
  return typeof config.maxCallDurationMs === 'number'
    ? config.maxCallDurationMs
    : DEFAULT_MAX_CALL_DURATION_MS;
}
