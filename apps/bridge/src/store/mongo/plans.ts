/**
 * Pure helpers of the MongoDB store: query filters and the field changes of a status report
 * or a result, computed from the call as read. They need no server, so unit tests cover
 * them directly. The lifecycle rules are the SQLite store's (`sqlite/dialling.ts`).
 */
import { isFinalCallStatus } from '@voxfleet/schema';
import type { CallResult, CallStatus } from '@voxfleet/schema';
import type { Filter } from 'mongodb';

import type { Call, CallFilter, CallStatusUpdate, ContactFilter } from '../types.js';
import type { CallDoc, CampaignDoc, ContactDoc, HistoryDoc } from './documents.js';

/** Order of live statuses; a live report lower than the current one is ignored. */
const LIVE_RANK: Partial<Record<CallStatus, number>> = {
  queued: 0,
  dialling: 1,
  ringing: 2,
  'in-progress': 3,
};

/** Returns whether `next` may replace `current` under the lifecycle rules. */
export function canMoveTo(current: CallStatus, next: CallStatus): boolean {
  if (isFinalCallStatus(current)) return false;
  if (isFinalCallStatus(next)) return true;
  return (LIVE_RANK[next] ?? 0) > (LIVE_RANK[current] ?? 0);
}

export interface StatusPlan {
  statusChanged: boolean;
  /** Fields to `$set`; empty when the report changes nothing. */
  set: Partial<CallDoc>;
  /** The history entry to append, when the status changes. */
  history: HistoryDoc | null;
}

/** Computes the changes a dialler status report makes to `call`. */
export function planStatusUpdate(call: Call, update: CallStatusUpdate): StatusPlan {
  const set: Partial<CallDoc> = {};
  const statusChanged = canMoveTo(call.status, update.status);
  let history: HistoryDoc | null = null;
  if (statusChanged) {
    set.status = update.status;
    set.reason = update.reason ?? call.reason;
    set.updatedAt = update.at;
    if (update.status === 'in-progress' && call.answeredAt === null) set.answeredAt = update.at;
    if (isFinalCallStatus(update.status)) set.endedAt = update.at;
    history = { status: update.status, at: update.at, reason: update.reason ?? null };
  }
  // Worker and carrier ids are stored from whichever report carries them, even a late or
  // repeated one.
  if (update.workerId !== undefined) set.workerId = update.workerId;
  if (update.carrierCallId !== undefined) set.carrierCallId = update.carrierCallId;
  return { statusChanged, set, history };
}

export interface ResultPlan {
  set: Partial<CallDoc>;
  history: HistoryDoc | null;
}

/**
 * Computes the changes a worker result makes to `call`, which has no result yet. A result
 * ends the call: it finalises a live call, and may turn `completed` into `failed` or
 * `aborted`, but leaves other final statuses (busy, no-answer) alone.
 */
export function planResultUpdate(call: Call, result: CallResult, now: string): ResultPlan {
  const next: CallStatus | null =
    !isFinalCallStatus(call.status) ||
    (call.status === 'completed' && result.status !== 'completed')
      ? result.status
      : null;
  const set: Partial<CallDoc> = {
    result,
    outcome: result.outcome,
    workerId: call.workerId ?? result.workerId,
    updatedAt: now,
  };
  if (next !== null) {
    set.status = next;
    set.endedAt = call.endedAt ?? result.endedAt;
    set.reason = result.error ?? call.reason;
  }
  const history =
    next !== null && next !== call.status
      ? { status: next, at: result.endedAt, reason: result.error ?? `result: ${result.outcome}` }
      : null;
  return { set, history };
}

/** Serialises a value with sorted object keys, so equal results compare equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(item).sort()) {
      sorted[key] = (item as Record<string, unknown>)[key];
    }
    return sorted;
  });
}

/** Matches a running campaign that has a free slot, so `$push` of a slot stays in bounds. */
export function openSlotFilter(campaignId: string): Filter<CampaignDoc> {
  return {
    _id: campaignId,
    status: 'running',
    $expr: { $lt: [{ $size: '$slots' }, '$concurrency'] },
  };
}

/** Matches the contacts of a campaign that are due for an attempt at `now`. */
export function dueContactFilter(campaignId: string, now: string): Filter<ContactDoc> {
  return { campaignId, state: 'pending', nextAttemptAt: { $lte: now } };
}

/** Matches one page of a tenant's calls, newest first, below the cursor's `seq`. */
export function callListFilter(
  tenantId: string,
  filter: CallFilter,
  beforeSeq: number,
): Filter<CallDoc> {
  const query: Filter<CallDoc> = { tenantId, seq: { $lt: beforeSeq } };
  if (filter.campaignId !== undefined) query.campaignId = filter.campaignId;
  if (filter.botId !== undefined) query.botId = filter.botId;
  if (filter.status !== undefined) query.status = filter.status;
  // A call not yet migrated has no direction and is outbound.
  if (filter.direction === 'inbound') query.direction = 'inbound';
  if (filter.direction === 'outbound') query.direction = { $ne: 'inbound' };
  return query;
}

/** Matches one page of a campaign's contacts, oldest first, above the cursor's `seq`. */
export function contactListFilter(
  campaignId: string,
  filter: ContactFilter,
  afterSeq: number,
): Filter<ContactDoc> {
  const query: Filter<ContactDoc> = { campaignId, seq: { $gt: afterSeq } };
  if (filter.state !== undefined) query.state = filter.state;
  return query;
}
