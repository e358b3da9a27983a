/**
 * The call-attempt side of the MongoDB store: claiming due contacts, applying dialler
 * status reports, requeueing unplaced attempts and storing worker results, without
 * multi-document transactions (those need a replica set).
 *
 * How a claim stays correct under concurrent claimers, each step one atomic single-document
 * operation:
 * 1. Reserve a slot: `$push` a slot into the campaign only while the campaign is running and
 *    contains fewer slots than its concurrency. MongoDB applies the condition and the push as
 *    one write, so no number of claimers can push past the concurrency.
 * 2. Claim a contact: `findOneAndUpdate` of one due `pending` contact to `dialling`. A
 *    second claimer's condition no longer matches that contact, so it takes another one.
 * 3. Insert the `queued` call. When a step fails, the earlier steps are undone.
 * A contact leaves `dialling` before its slot is released, so after a crash between the two
 * writes the campaign holds a slot too many, never one too few. `releaseStaleSlots` frees
 * such a slot once no dialling contact names its call.
 */
import { randomUUID } from 'node:crypto';

import type { CallResult } from '@voxfleet/schema';

import { BridgeError, callNotFound } from '../../errors.js';
import type {
  Call,
  CallRecording,
  CallStatusOutcome,
  CallStatusUpdate,
  Campaign,
  ClaimedAttempt,
  Contact,
  SaveResultOutcome,
} from '../types.js';
import { nextSeq } from './collections.js';
import type { Collections } from './collections.js';
import { toCall, toCampaign, toContact } from './documents.js';
import type { CallDoc } from './documents.js';
import {
  canonicalJson,
  dueContactFilter,
  openSlotFilter,
  planResultUpdate,
  planStatusUpdate,
} from './plans.js';

/** Retries of a conditional update that lost a race; each retry re-reads the call. */
const MAX_TRIES = 10;

/**
 * Age after which a slot whose call no dialling contact names counts as left behind by a
 * crash. A claim usually finishes its three steps within milliseconds.
 *
 * NOTE: a claim that stalls for longer between reserving its slot and claiming its contact
 * can lose the slot to `releaseStaleSlots` and exceed the concurrency by one.
 */
export const SLOT_GRACE_MS = 60_000;

async function loadCall(c: Collections, callId: string): Promise<CallDoc> {
  const doc = await c.calls.findOne({ _id: callId });
  if (doc === null) throw callNotFound(callId);
  return doc;
}

function contended(callId: string): BridgeError {
  return new BridgeError(
    'STORE_UNAVAILABLE',
    `call "${callId}" changed ${MAX_TRIES} times during one update: retry the request`,
    { ids: { callId } },
  );
}

export async function releaseSlot(
  c: Collections,
  campaignId: string,
  callId: string,
): Promise<void> {
  await c.campaigns.updateOne({ _id: campaignId }, { $pull: { slots: { callId } } });
}

/**
 * Frees the campaign's slots older than SLOT_GRACE_MS whose call no dialling contact names,
 * and returns how many it freed.
 */
export async function releaseStaleSlots(
  c: Collections,
  campaignId: string,
  nowMs: number,
): Promise<number> {
  const campaign = await c.campaigns.findOne({ _id: campaignId }, { projection: { slots: 1 } });
  const stale = (campaign?.slots ?? [])
    .filter((slot) => slot.reservedAtMs < nowMs - SLOT_GRACE_MS)
    .map((slot) => slot.callId);
  if (stale.length === 0) return 0;
  const holders = await c.contacts
    .find(
      { campaignId, state: 'dialling', lastCallId: { $in: stale } },
      { projection: { lastCallId: 1 } },
    )
    .toArray();
  const held = new Set(holders.map((holder) => holder.lastCallId));
  const orphaned = stale.filter((callId) => !held.has(callId));
  if (orphaned.length === 0) return 0;
  await c.campaigns.updateOne(
    { _id: campaignId },
    { $pull: { slots: { callId: { $in: orphaned } } } },
  );
  return orphaned.length;
}

export async function claimAttempts(
  c: Collections,
  limit: number,
  now: string,
): Promise<ClaimedAttempt[]> {
  const claimed: ClaimedAttempt[] = [];
  const campaigns = await c.campaigns
    .find({ status: 'running' })
    .sort({ createdAt: 1, seq: 1 })
    .toArray();
  for (const doc of campaigns) {
    const campaign = toCampaign(doc);
    while (claimed.length < limit) {
      const attempt = await claimOne(c, campaign, now);
      if (attempt === null) break;
      claimed.push(attempt);
    }
    if (claimed.length >= limit) break;
  }
  return claimed;
}

/** Claims the campaign's next due contact, or returns null when it has no slot or no due contact. */
async function claimOne(
  c: Collections,
  campaign: Campaign,
  now: string,
): Promise<ClaimedAttempt | null> {
  const callId = `call_${randomUUID()}`;
  const slot = { callId, reservedAtMs: Date.now() };
  let reserved = await c.campaigns.updateOne(openSlotFilter(campaign.id), {
    $push: { slots: slot },
  });
  if (reserved.modifiedCount === 0) {
    if ((await releaseStaleSlots(c, campaign.id, Date.now())) === 0) return null;
    reserved = await c.campaigns.updateOne(openSlotFilter(campaign.id), {
      $push: { slots: slot },
    });
    if (reserved.modifiedCount === 0) return null;
  }

  const before = await c.contacts.findOneAndUpdate(
    dueContactFilter(campaign.id, now),
    { $set: { state: 'dialling', lastCallId: callId, updatedAt: now }, $inc: { attempts: 1 } },
    { sort: { nextAttemptAt: 1, seq: 1 }, returnDocument: 'before' },
  );
  if (before === null) {
    await releaseSlot(c, campaign.id, callId);
    return null;
  }
  const contact = toContact(before);
  const attempt = contact.attempts + 1;

  try {
    const call: CallDoc = {
      _id: callId,
      seq: await nextSeq(c, 'calls'),
      tenantId: campaign.tenantId,
      botId: campaign.botId,
      direction: 'outbound',
      from: null,
      campaignId: campaign.id,
      contactId: contact.id,
      attempt,
      to: contact.phone,
      status: 'queued',
      reason: null,
      carrierCallId: null,
      workerId: null,
      createdAt: now,
      updatedAt: now,
      answeredAt: null,
      endedAt: null,
      outcome: null,
      result: null,
      recording: null,
      history: [{ status: 'queued', at: now, reason: null }],
    };
    await c.calls.insertOne(call);
  } catch (err) {
    await c.contacts.updateOne(
      { _id: contact.id, state: 'dialling', lastCallId: callId },
      {
        $set: {
          state: 'pending',
          lastCallId: contact.lastCallId,
          attempts: contact.attempts,
          updatedAt: contact.updatedAt,
        },
      },
    );
    await releaseSlot(c, campaign.id, callId);
    throw err;
  }

  return {
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
  };
}

export async function applyCallStatus(
  c: Collections,
  callId: string,
  update: CallStatusUpdate,
): Promise<CallStatusOutcome> {
  let call: Call | null = null;
  let statusChanged = false;
  for (let tries = 0; tries < MAX_TRIES && call === null; tries++) {
    const current = toCall(await loadCall(c, callId));
    const plan = planStatusUpdate(current, update);
    if (plan.history !== null) {
      // Conditional on the status as read, so two reports never both move it.
      const written = await c.calls.updateOne(
        { _id: callId, status: current.status },
        { $set: plan.set, $push: { history: plan.history } },
      );
      if (written.matchedCount === 0) continue;
    } else if (Object.keys(plan.set).length > 0) {
      await c.calls.updateOne({ _id: callId }, { $set: plan.set });
    }
    call = current;
    statusChanged = plan.statusChanged;
  }
  if (call === null) throw contended(callId);

  let contact: Contact | null = null;
  let campaignCompleted = false;
  const decision = update.contact;
  if (call.contactId !== null && decision !== undefined) {
    const state = decision.decision === 'retry' ? 'pending' : decision.decision;
    const set =
      decision.decision === 'retry'
        ? { state, nextAttemptAt: decision.nextAttemptAt, updatedAt: update.at }
        : { state, updatedAt: update.at };
    // The decision applies only while the contact is dialling on this call.
    const decided = await c.contacts.findOneAndUpdate(
      { _id: call.contactId, state: 'dialling', lastCallId: callId },
      { $set: set },
      { returnDocument: 'after' },
    );
    if (decided !== null) {
      contact = toContact(decided);
      await releaseSlot(c, contact.campaignId, callId);
      campaignCompleted = await completeCampaignIfFinished(c, contact.campaignId, update.at);
    }
  }
  if (contact === null && call.contactId !== null) {
    const doc = await c.contacts.findOne({ _id: call.contactId });
    contact = doc === null ? null : toContact(doc);
  }

  return { call: toCall(await loadCall(c, callId)), statusChanged, contact, campaignCompleted };
}

/**
 * Marks a running or paused campaign completed once no contact is pending or dialling.
 * Each caller changed its contact before this check, so when two contacts finish at
 * once, at least the later check finds both final.
 */
export async function completeCampaignIfFinished(
  c: Collections,
  campaignId: string,
  now: string,
): Promise<boolean> {
  const open = await c.contacts.findOne(
    { campaignId, state: { $in: ['pending', 'dialling'] } },
    { projection: { _id: 1 } },
  );
  if (open !== null) return false;
  const changed = await c.campaigns.updateOne(
    { _id: campaignId, status: { $in: ['running', 'paused'] } },
    { $set: { status: 'completed', updatedAt: now } },
  );
  return changed.modifiedCount > 0;
}

function notRequeueable(callId: string, status: string): BridgeError {
  return new BridgeError(
    'CALL_NOT_REQUEUEABLE',
    `call "${callId}" is ${status}: only a queued call that was never placed can be requeued`,
    { ids: { callId } },
  );
}

export async function requeueCall(
  c: Collections,
  callId: string,
  now: string,
): Promise<Contact | null> {
  const call = toCall(await loadCall(c, callId));
  if (call.status !== 'queued') throw notRequeueable(callId, call.status);
  const deleted = await c.calls.deleteOne({ _id: callId, status: 'queued' });
  if (deleted.deletedCount === 0) {
    const again = await c.calls.findOne({ _id: callId }, { projection: { status: 1 } });
    if (again === null) throw callNotFound(callId);
    throw notRequeueable(callId, again.status);
  }
  const contact = await requeueContact(c, call, now);
  // The slot goes back only after the contact left `dialling`, as the header explains.
  if (call.campaignId !== null) await releaseSlot(c, call.campaignId, callId);
  return contact;
}

/** Returns the contact of a deleted queued call to `pending`, uncounting the attempt. */
async function requeueContact(c: Collections, call: Call, now: string): Promise<Contact | null> {
  const callId = call.id;
  if (call.contactId === null) return null;
  const previous = await c.calls
    .find({ contactId: call.contactId }, { projection: { _id: 1 } })
    .sort({ attempt: -1 })
    .limit(1)
    .next();
  const requeued = await c.contacts.findOneAndUpdate(
    { _id: call.contactId, lastCallId: callId, attempts: { $gte: 1 } },
    {
      $set: { state: 'pending', lastCallId: previous?._id ?? null, updatedAt: now },
      $inc: { attempts: -1 },
    },
    { returnDocument: 'after' },
  );
  if (requeued !== null) return toContact(requeued);
  const doc = await c.contacts.findOne({ _id: call.contactId });
  return doc === null ? null : toContact(doc);
}

export async function saveCallResult(
  c: Collections,
  callId: string,
  result: CallResult,
  now: string,
): Promise<SaveResultOutcome> {
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const call = toCall(await loadCall(c, callId));
    if (call.result !== null) {
      if (canonicalJson(call.result) === canonicalJson(result)) return { call, duplicate: true };
      throw new BridgeError(
        'CALL_RESULT_CONFLICT',
        `call "${callId}" already has a different result`,
        { ids: { callId } },
      );
    }
    const plan = planResultUpdate(call, result, now);
    // Conditional on no result and the status as read, so a result is stored once.
    const written = await c.calls.updateOne(
      { _id: callId, result: null, status: call.status },
      plan.history === null
        ? { $set: plan.set }
        : { $set: plan.set, $push: { history: plan.history } },
    );
    if (written.matchedCount === 0) continue;
    return { call: toCall(await loadCall(c, callId)), duplicate: false };
  }
  throw contended(callId);
}

export async function setCallRecording(
  c: Collections,
  callId: string,
  recording: CallRecording,
): Promise<Call> {
  const doc = await c.calls.findOneAndUpdate(
    { _id: callId },
    { $set: { recording, updatedAt: recording.uploadedAt } },
    { returnDocument: 'after' },
  );
  if (doc === null) throw callNotFound(callId);
  return toCall(doc);
}
