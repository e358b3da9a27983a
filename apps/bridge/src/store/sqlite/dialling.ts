/**
 * The call-attempt side of the SQLite store: claiming due contacts, applying dialler
 * status reports, requeueing unplaced attempts and storing worker results. Each exported
 * function runs in one transaction.
 */
import { randomUUID } from 'node:crypto';

import { isFinalCallStatus } from '@voxfleet/schema';
import type { CallResult, CallStatus } from '@voxfleet/schema';
import type { SqliteDatabase as Database } from '@voxfleet/sqlite';

import { BridgeError, callNotFound } from '../../errors.js';
import type {
  CallRecording,
  CallStatusOutcome,
  CallStatusUpdate,
  ClaimedAttempt,
  Contact,
  SaveResultOutcome,
} from '../types.js';
import { toCall, toCampaign, toContact } from './rows.js';
import type { CallRow, CampaignRow, ContactRow } from './rows.js';

/** Order of live statuses; a live report lower than the current one is ignored. */
const LIVE_RANK: Partial<Record<CallStatus, number>> = {
  queued: 0,
  dialling: 1,
  ringing: 2,
  'in-progress': 3,
};

function loadCallRow(db: Database, callId: string): CallRow {
  const row = db.prepare('SELECT * FROM calls WHERE id = ?').get(callId) as CallRow | undefined;
  if (row === undefined) throw callNotFound(callId);
  return row;
}

function loadContactRow(db: Database, contactId: string): ContactRow | undefined {
  return db.prepare('SELECT * FROM contacts WHERE id = ?').get(contactId) as ContactRow | undefined;
}

export function addHistory(
  db: Database,
  callId: string,
  status: CallStatus,
  at: string,
  reason: string | null,
): void {
  db.prepare(
    'INSERT INTO call_status_history (call_id, status, at, reason) VALUES (?, ?, ?, ?)',
  ).run(callId, status, at, reason);
}

export function claimAttempts(db: Database, limit: number, now: string): ClaimedAttempt[] {
  return db.transaction(() => {
    const claimed: ClaimedAttempt[] = [];
    const campaigns = db
      .prepare("SELECT * FROM campaigns WHERE status = 'running' ORDER BY created_at, rowid")
      .all() as CampaignRow[];
    const countDialling = db.prepare(
      "SELECT COUNT(*) AS n FROM contacts WHERE campaign_id = ? AND state = 'dialling'",
    );
    const selectDue = db.prepare(
      `SELECT * FROM contacts WHERE campaign_id = ? AND state = 'pending' AND next_attempt_at <= ?
       ORDER BY next_attempt_at, seq LIMIT ?`,
    );
    const insertCall = db.prepare(
      `INSERT INTO calls (id, tenant_id, bot_id, campaign_id, contact_id, attempt, to_phone,
         status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)`,
    );
    const markDialling = db.prepare(
      `UPDATE contacts SET state = 'dialling', attempts = ?, last_call_id = ?, updated_at = ?
       WHERE id = ?`,
    );

    for (const campaignRow of campaigns) {
      const remaining = limit - claimed.length;
      if (remaining <= 0) break;
      const campaign = toCampaign(campaignRow);
      const { n: dialling } = countDialling.get(campaign.id) as { n: number };
      const slots = Math.min(campaign.concurrency - dialling, remaining);
      if (slots <= 0) continue;

      const due = (selectDue.all(campaign.id, now, slots) as ContactRow[]).map(toContact);
      for (const contact of due) {
        const callId = `call_${randomUUID()}`;
        const attempt = contact.attempts + 1;
        insertCall.run(
          callId,
          campaign.tenantId,
          campaign.botId,
          campaign.id,
          contact.id,
          attempt,
          contact.phone,
          now,
          now,
        );
        addHistory(db, callId, 'queued', now, null);
        markDialling.run(attempt, callId, now, contact.id);
        claimed.push({
          callId,
          attempt,
          tenantId: campaign.tenantId,
          botId: campaign.botId,
          campaignId: campaign.id,
          contactId: contact.id,
          to: contact.phone,
          scenario: contact.scenario,
          variables: contact.variables,
          campaign: {
            maxAttempts: campaign.maxAttempts,
            retryBackoffMs: campaign.retryBackoffMs,
            callerId: campaign.callerId,
          },
        });
      }
    }
    return claimed;
  });
}

/** Returns whether `next` may replace `current` under the lifecycle rules. */
function canMoveTo(current: CallStatus, next: CallStatus): boolean {
  if (isFinalCallStatus(current)) return false;
  if (isFinalCallStatus(next)) return true;
  return (LIVE_RANK[next] ?? 0) > (LIVE_RANK[current] ?? 0);
}

export function applyCallStatus(
  db: Database,
  callId: string,
  update: CallStatusUpdate,
): CallStatusOutcome {
  return db.transaction(() => {
    const row = loadCallRow(db, callId);
    const current = toCall(row);
    const statusChanged = canMoveTo(current.status, update.status);

    if (statusChanged) {
      const final = isFinalCallStatus(update.status);
      db.prepare(
        `UPDATE calls SET status = ?, reason = COALESCE(?, reason), updated_at = ?,
           answered_at = CASE WHEN ? = 'in-progress' AND answered_at IS NULL THEN ? ELSE answered_at END,
           ended_at = CASE WHEN ? THEN ? ELSE ended_at END
         WHERE id = ?`,
      ).run(
        update.status,
        update.reason ?? null,
        update.at,
        update.status,
        update.at,
        final ? 1 : 0,
        update.at,
        callId,
      );
      addHistory(db, callId, update.status, update.at, update.reason ?? null);
    }
    // Worker and carrier ids are stored from whichever report first carries them, even a
    // late or repeated one.
    db.prepare(
      `UPDATE calls SET worker_id = COALESCE(?, worker_id), carrier_call_id = COALESCE(?, carrier_call_id)
       WHERE id = ?`,
    ).run(update.workerId ?? null, update.carrierCallId ?? null, callId);

    let contact: Contact | null = null;
    let campaignCompleted = false;
    if (current.contactId !== null) {
      const contactRow = loadContactRow(db, current.contactId);
      contact = contactRow === undefined ? null : toContact(contactRow);
    }
    const decision = update.contact;
    if (
      contact !== null &&
      decision !== undefined &&
      contact.state === 'dialling' &&
      contact.lastCallId === callId
    ) {
      const state = decision.decision === 'retry' ? 'pending' : decision.decision;
      const nextAttemptAt =
        decision.decision === 'retry' ? decision.nextAttemptAt : contact.nextAttemptAt;
      db.prepare(
        'UPDATE contacts SET state = ?, next_attempt_at = ?, updated_at = ? WHERE id = ?',
      ).run(state, nextAttemptAt, update.at, contact.id);
      contact = { ...contact, state, nextAttemptAt, updatedAt: update.at };
      campaignCompleted = completeCampaignIfFinished(db, contact.campaignId, update.at);
    }

    return { call: toCall(loadCallRow(db, callId)), statusChanged, contact, campaignCompleted };
  });
}

/** Marks a running or paused campaign completed once no contact is pending or dialling. */
export function completeCampaignIfFinished(db: Database, campaignId: string, now: string): boolean {
  const { n } = db
    .prepare(
      "SELECT COUNT(*) AS n FROM contacts WHERE campaign_id = ? AND state IN ('pending', 'dialling')",
    )
    .get(campaignId) as { n: number };
  if (n > 0) return false;
  const changes = db
    .prepare(
      "UPDATE campaigns SET status = 'completed', updated_at = ? WHERE id = ? AND status IN ('running', 'paused')",
    )
    .run(now, campaignId).changes;
  return changes > 0;
}

export function requeueCall(db: Database, callId: string, now: string): Contact | null {
  return db.transaction(() => {
    const call = toCall(loadCallRow(db, callId));
    if (call.status !== 'queued') {
      throw new BridgeError(
        'CALL_NOT_REQUEUEABLE',
        `call "${callId}" is ${call.status}: only a queued call that was never placed can be requeued`,
        { ids: { callId } },
      );
    }
    db.prepare('DELETE FROM call_status_history WHERE call_id = ?').run(callId);
    db.prepare('DELETE FROM calls WHERE id = ?').run(callId);
    if (call.contactId === null) return null;

    const contactRow = loadContactRow(db, call.contactId);
    if (contactRow === undefined) return null;
    const contact = toContact(contactRow);
    if (contact.lastCallId !== callId) return contact;

    const previous = db
      .prepare('SELECT id FROM calls WHERE contact_id = ? ORDER BY attempt DESC LIMIT 1')
      .get(contact.id) as { id: string } | undefined;
    const attempts = Math.max(0, contact.attempts - 1);
    const lastCallId = previous?.id ?? null;
    db.prepare(
      `UPDATE contacts SET state = 'pending', attempts = ?, last_call_id = ?, updated_at = ?
       WHERE id = ?`,
    ).run(attempts, lastCallId, now, contact.id);
    return { ...contact, state: 'pending' as const, attempts, lastCallId, updatedAt: now };
  });
}

/** Serialises a value with sorted object keys, so equal results compare equal. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    const keys = Object.keys(item).sort();
    const sorted: Record<string, unknown> = {};
    for (const key of keys) sorted[key] = (item as Record<string, unknown>)[key];
    return sorted;
  });
}

export function saveCallResult(
  db: Database,
  callId: string,
  result: CallResult,
  now: string,
): SaveResultOutcome {
  return db.transaction(() => {
    const row = loadCallRow(db, callId);
    if (row.result !== null) {
      const stored = toCall(row).result;
      if (canonicalJson(stored) === canonicalJson(result)) {
        return { call: toCall(row), duplicate: true };
      }
      throw new BridgeError(
        'CALL_RESULT_CONFLICT',
        `call "${callId}" already has a different result`,
        {
          ids: { callId },
        },
      );
    }

    const current = toCall(row);
    // A result ends the call: it finalises a live call, and may turn `completed` into
    // `failed` or `aborted`, but leaves other final statuses (busy, no-answer) alone.
    const next: CallStatus | null =
      !isFinalCallStatus(current.status) ||
      (current.status === 'completed' && result.status !== 'completed')
        ? result.status
        : null;
    db.prepare(
      `UPDATE calls SET result = ?, outcome = ?, worker_id = COALESCE(worker_id, ?), updated_at = ?,
         status = COALESCE(?, status), ended_at = CASE WHEN ? IS NULL THEN ended_at ELSE COALESCE(ended_at, ?) END,
         reason = CASE WHEN ? IS NULL THEN reason ELSE COALESCE(?, reason) END
       WHERE id = ?`,
    ).run(
      JSON.stringify(result),
      result.outcome,
      result.workerId,
      now,
      next,
      next,
      result.endedAt,
      next,
      result.error,
      callId,
    );
    if (next !== null && next !== current.status) {
      addHistory(db, callId, next, result.endedAt, result.error ?? `result: ${result.outcome}`);
    }
    return { call: toCall(loadCallRow(db, callId)), duplicate: false };
  });
}

export function setCallRecording(db: Database, callId: string, recording: CallRecording): void {
  const changes = db
    .prepare(
      `UPDATE calls SET recording_key = ?, recording_bytes = ?, recording_uploaded_at = ?, updated_at = ?
       WHERE id = ?`,
    )
    .run(
      recording.key,
      recording.bytes,
      recording.uploadedAt,
      recording.uploadedAt,
      callId,
    ).changes;
  if (changes === 0) throw callNotFound(callId);
}
