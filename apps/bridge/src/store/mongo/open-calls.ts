/**
 * Live campaign calls in the MongoDB store: listing them for a restarted dialler, and
 * closing the ones no dialler has updated for too long (the claim's abandoned sweep).
 * Each close is a conditional single-document write, as in `dialling.ts`.
 */
import type { Filter } from 'mongodb';

import { DEFAULT_MAX_CALL_DURATION_MS } from '../types.js';
import type { AbandonedCall, Call, Campaign, OpenCall, OpenCallFilter } from '../types.js';
import type { Collections } from './collections.js';
import { completeCampaignIfFinished, releaseSlot } from './dialling.js';
import { toCall, toCampaign, toContact } from './documents.js';
import type { CallDoc } from './documents.js';

const LIVE_STATUSES = ['queued', 'dialling', 'ringing', 'in-progress'];

export async function listOpenCalls(c: Collections, filter: OpenCallFilter): Promise<OpenCall[]> {
  const query: Filter<CallDoc> = {
    status: { $in: LIVE_STATUSES },
    campaignId: { $ne: null },
    contactId: { $ne: null },
  };
  if (filter.callId !== undefined) query._id = filter.callId;
  const docs = await c.calls
    .find(query, { projection: { history: 0, result: 0 } })
    .sort({ updatedAt: 1, seq: 1 })
    .limit(filter.limit)
    .toArray();

  const campaigns = new Map<string, Campaign | null>();
  const open: OpenCall[] = [];
  for (const doc of docs) {
    const call = toCall({ ...doc, history: [], result: null });
    if (call.campaignId === null || call.contactId === null) continue;
    const campaign = await cachedCampaign(c, campaigns, call.campaignId);
    const contactDoc = await c.contacts.findOne({ _id: call.contactId });
    if (campaign === null || contactDoc === null) continue;
    const contact = toContact(contactDoc);
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
 * decides their contacts: `pending` after the campaign's backoff while attempts remain,
 * `failed` otherwise. A call that changed since it was read is left alone.
 */
export async function closeAbandonedCalls(
  c: Collections,
  now: string,
  staleMs: number,
): Promise<AbandonedCall[]> {
  const nowMs = Date.parse(now);
  const cutoff = new Date(nowMs - staleMs).toISOString();
  const docs = await c.calls
    .find(
      {
        status: { $in: LIVE_STATUSES },
        campaignId: { $ne: null },
        contactId: { $ne: null },
        updatedAt: { $lt: cutoff },
      },
      { projection: { history: 0, result: 0 } },
    )
    .toArray();

  const campaigns = new Map<string, Campaign | null>();
  const closed: AbandonedCall[] = [];
  for (const doc of docs) {
    const call = toCall({ ...doc, history: [], result: null });
    if (call.campaignId === null || call.contactId === null) continue;
    if (call.status === 'in-progress') {
      const limitMs = (await maxCallDurationMs(c, call.botId)) + staleMs;
      if (Date.parse(call.updatedAt) >= nowMs - limitMs) continue;
    }

    // Conditional on the status and update time as read, so a report that arrived since wins.
    const written = await c.calls.updateOne(
      { _id: call.id, status: call.status, updatedAt: call.updatedAt },
      {
        $set: { status: 'failed', reason: 'abandoned', updatedAt: now, endedAt: now },
        $push: { history: { status: 'failed', at: now, reason: 'abandoned' } },
      },
    );
    if (written.modifiedCount === 0) continue;

    const campaign = await cachedCampaign(c, campaigns, call.campaignId);
    const contactState = await decideAbandonedContact(c, call, campaign, now);
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
async function decideAbandonedContact(
  c: Collections,
  call: Call,
  campaign: Campaign | null,
  now: string,
): Promise<'pending' | 'failed' | null> {
  if (call.contactId === null || campaign === null) return null;
  const retry = call.attempt < campaign.maxAttempts;
  const backoffMs = campaign.retryBackoffMs * 2 ** Math.max(0, call.attempt - 1);
  const set = retry
    ? {
        state: 'pending',
        nextAttemptAt: new Date(Date.parse(now) + backoffMs).toISOString(),
        updatedAt: now,
      }
    : { state: 'failed', updatedAt: now };
  const decided = await c.contacts.findOneAndUpdate(
    { _id: call.contactId, state: 'dialling', lastCallId: call.id },
    { $set: set },
    { returnDocument: 'after' },
  );
  // The slot goes back only after the contact left `dialling`, as `dialling.ts` explains.
  await releaseSlot(c, campaign.id, call.id);
  if (decided === null) return null;
  if (!retry) await completeCampaignIfFinished(c, campaign.id, now);
  return retry ? 'pending' : 'failed';
}

async function cachedCampaign(
  c: Collections,
  cache: Map<string, Campaign | null>,
  campaignId: string,
): Promise<Campaign | null> {
  const cached = cache.get(campaignId);
  if (cached !== undefined) return cached;
  const doc = await c.campaigns.findOne({ _id: campaignId });
  const campaign = doc === null ? null : toCampaign(doc);
  cache.set(campaignId, campaign);
  return campaign;
}

/** Reads the bot's `maxCallDurationMs`, or returns the BotConfig default when the bot or the field is missing. */
export async function maxCallDurationMs(c: Collections, botId: string): Promise<number> {
  const bot = await c.bots.findOne({ _id: botId }, { projection: { config: 1 } });
  const config = bot?.config;
  if (typeof config === 'object' && config !== null && 'maxCallDurationMs' in config) {
    const value = config.maxCallDurationMs;
    if (typeof value === 'number') return value;
  }
  return DEFAULT_MAX_CALL_DURATION_MS;
}
