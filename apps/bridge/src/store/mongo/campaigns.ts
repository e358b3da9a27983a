/**
 * The campaign side of the MongoDB store: campaigns, their status changes, progress counts
 * and contacts. Status changes are conditional single-document updates that retry when
 * another request changed the campaign in between.
 */
import { randomUUID } from 'node:crypto';

import { MongoBulkWriteError } from 'mongodb';

import { BridgeError, botNotFound, campaignNotFound } from '../../errors.js';
import { decodeCursor, toPage } from '../sqlite/rows.js';
import type {
  Campaign,
  CampaignProgress,
  CampaignStatus,
  Contact,
  ContactFilter,
  ImportContactsResult,
  NewCampaign,
  NewContact,
  Page,
} from '../types.js';
import { nextSeq } from './collections.js';
import type { Collections } from './collections.js';
import { toCampaign, toContact, toVariableDocs } from './documents.js';
import type { CampaignDoc, ContactDoc } from './documents.js';
import { contactListFilter } from './plans.js';

/** Retries of a conditional update that lost a race; each retry re-reads the document. */
const MAX_TRIES = 10;

export async function createCampaign(
  c: Collections,
  tenantId: string,
  input: NewCampaign,
): Promise<Campaign> {
  const bot = await c.bots.findOne({ _id: input.botId, tenantId }, { projection: { _id: 1 } });
  if (bot === null) throw botNotFound(input.botId);
  const now = new Date().toISOString();
  const doc: CampaignDoc = {
    _id: `cmp_${randomUUID()}`,
    seq: await nextSeq(c, 'campaigns'),
    tenantId,
    botId: input.botId,
    name: input.name,
    status: 'draft',
    concurrency: input.concurrency,
    maxAttempts: input.maxAttempts,
    retryBackoffMs: input.retryBackoffMs,
    callerId: input.callerId,
    createdAt: now,
    updatedAt: now,
    slots: [],
  };
  await c.campaigns.insertOne(doc);
  return toCampaign(doc);
}

export async function listCampaigns(c: Collections, tenantId: string): Promise<Campaign[]> {
  const docs = await c.campaigns.find({ tenantId }).sort({ createdAt: 1, seq: 1 }).toArray();
  return docs.map(toCampaign);
}

export async function getCampaign(
  c: Collections,
  tenantId: string,
  campaignId: string,
): Promise<Campaign | null> {
  const doc = await c.campaigns.findOne({ _id: campaignId, tenantId });
  return doc === null ? null : toCampaign(doc);
}

async function requireCampaign(
  c: Collections,
  tenantId: string,
  campaignId: string,
): Promise<Campaign> {
  const campaign = await getCampaign(c, tenantId, campaignId);
  if (campaign === null) throw campaignNotFound(campaignId);
  return campaign;
}

export async function getCampaignProgress(
  c: Collections,
  campaignId: string,
): Promise<CampaignProgress> {
  const progress: CampaignProgress = {
    total: 0,
    pending: 0,
    dialling: 0,
    done: 0,
    failed: 0,
    byCallStatus: {},
    byOutcome: {},
  };
  const states = await c.contacts
    .aggregate<{ _id: string; n: number }>([
      { $match: { campaignId } },
      { $group: { _id: '$state', n: { $sum: 1 } } },
    ])
    .toArray();
  for (const { _id: state, n } of states) {
    progress.total += n;
    if (state === 'pending' || state === 'dialling' || state === 'done' || state === 'failed') {
      progress[state] = n;
    }
  }
  const statuses = await c.calls
    .aggregate<{ _id: string; n: number }>([
      { $match: { campaignId } },
      { $group: { _id: '$status', n: { $sum: 1 } } },
    ])
    .toArray();
  for (const { _id: status, n } of statuses) {
    progress.byCallStatus = { ...progress.byCallStatus, [status]: n };
  }
  const outcomes = await c.calls
    .aggregate<{ _id: string; n: number }>([
      { $match: { campaignId, outcome: { $ne: null } } },
      { $group: { _id: '$outcome', n: { $sum: 1 } } },
    ])
    .toArray();
  for (const { _id: outcome, n } of outcomes) progress.byOutcome[outcome] = n;
  return progress;
}

/** Moves the campaign from the status it was read with to `status`, or returns null. */
async function moveCampaign(
  c: Collections,
  campaign: Campaign,
  status: CampaignStatus,
  now: string,
): Promise<Campaign | null> {
  const doc = await c.campaigns.findOneAndUpdate(
    { _id: campaign.id, status: campaign.status },
    { $set: { status, updatedAt: now } },
    { returnDocument: 'after' },
  );
  return doc === null ? null : toCampaign(doc);
}

export async function startCampaign(
  c: Collections,
  tenantId: string,
  campaignId: string,
  now: string,
): Promise<Campaign> {
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const campaign = await requireCampaign(c, tenantId, campaignId);
    if (campaign.status === 'running') return campaign;
    if (campaign.status === 'completed') {
      throw new BridgeError(
        'CAMPAIGN_INVALID_STATE',
        `campaign "${campaignId}" is completed and cannot start again`,
        { ids: { campaignId } },
      );
    }
    const contact = await c.contacts.findOne({ campaignId }, { projection: { _id: 1 } });
    if (contact === null) {
      throw new BridgeError(
        'CAMPAIGN_HAS_NO_CONTACTS',
        `campaign "${campaignId}" has no contacts: import a CSV before starting it`,
        { ids: { campaignId } },
      );
    }
    const moved = await moveCampaign(c, campaign, 'running', now);
    if (moved !== null) return moved;
  }
  throw contended(campaignId);
}

export async function pauseCampaign(
  c: Collections,
  tenantId: string,
  campaignId: string,
  now: string,
): Promise<Campaign> {
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const campaign = await requireCampaign(c, tenantId, campaignId);
    if (campaign.status === 'paused') return campaign;
    if (campaign.status !== 'running') {
      throw new BridgeError(
        'CAMPAIGN_INVALID_STATE',
        `campaign "${campaignId}" is ${campaign.status}: only a running campaign can pause`,
        { ids: { campaignId } },
      );
    }
    const moved = await moveCampaign(c, campaign, 'paused', now);
    if (moved !== null) return moved;
  }
  throw contended(campaignId);
}

function contended(campaignId: string): BridgeError {
  return new BridgeError(
    'STORE_UNAVAILABLE',
    `campaign "${campaignId}" changed ${MAX_TRIES} times during one update: retry the request`,
    { ids: { campaignId } },
  );
}

/** Returns the input indexes that a bulk insert rejected as duplicates of a unique key. */
function duplicateIndexesOf(err: MongoBulkWriteError): number[] {
  const writeErrors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  const indexes: number[] = [];
  for (const writeError of writeErrors) {
    if (writeError.code !== 11000) throw err;
    indexes.push(writeError.index);
  }
  return indexes.sort((a, b) => a - b);
}

/**
 * Inserts contacts as `pending`, due at `now`. The unique index on (campaign, phone) skips a
 * phone already in the campaign, also one repeated within `contacts`.
 *
 * NOTE: without a transaction the insert is not all-or-nothing: a failure other than a
 * duplicate phone can leave part of the batch stored. Repeating the import reports the
 * stored part as duplicates, so a retry completes it.
 */
export async function importContacts(
  c: Collections,
  tenantId: string,
  campaignId: string,
  contacts: NewContact[],
  now: string,
): Promise<ImportContactsResult> {
  const campaign = await requireCampaign(c, tenantId, campaignId);
  if (campaign.status === 'completed') throw completedError(campaignId);
  if (contacts.length === 0) return { imported: 0, duplicateIndexes: [] };

  const firstSeq = await nextSeq(c, 'contacts', contacts.length);
  const docs: ContactDoc[] = contacts.map((contact, index) => ({
    _id: `cnt_${randomUUID()}`,
    seq: firstSeq + index,
    tenantId,
    campaignId,
    phone: contact.phone,
    name: contact.name,
    scenario: contact.scenario,
    variables: toVariableDocs(contact.variables),
    state: 'pending',
    attempts: 0,
    nextAttemptAt: now,
    lastCallId: null,
    createdAt: now,
    updatedAt: now,
  }));
  let duplicateIndexes: number[] = [];
  try {
    await c.contacts.insertMany(docs, { ordered: false });
  } catch (err) {
    if (!(err instanceof MongoBulkWriteError)) throw err;
    duplicateIndexes = duplicateIndexesOf(err);
  }

  // The last contact of a running campaign may have finished while this import ran, which
  // completes the campaign and would strand the new contacts, so they are removed again and
  // the import raises CAMPAIGN_INVALID_STATE.
  const after = await c.campaigns.findOne({ _id: campaignId }, { projection: { status: 1 } });
  if (after?.status === 'completed') {
    const skipped = new Set(duplicateIndexes);
    const inserted = docs.filter((_doc, index) => !skipped.has(index)).map((doc) => doc._id);
    await c.contacts.deleteMany({ _id: { $in: inserted } });
    throw completedError(campaignId);
  }
  return { imported: contacts.length - duplicateIndexes.length, duplicateIndexes };
}

function completedError(campaignId: string): BridgeError {
  return new BridgeError(
    'CAMPAIGN_INVALID_STATE',
    `campaign "${campaignId}" is completed: create a new campaign for more contacts`,
    { ids: { campaignId } },
  );
}

export async function listContacts(
  c: Collections,
  tenantId: string,
  campaignId: string,
  filter: ContactFilter,
): Promise<Page<Contact>> {
  await requireCampaign(c, tenantId, campaignId);
  const after = filter.cursor === undefined ? 0 : decodeCursor(filter.cursor);
  const docs = await c.contacts
    .find(contactListFilter(campaignId, filter, after))
    .sort({ seq: 1 })
    .limit(filter.limit + 1)
    .toArray();
  return toPage(docs, filter.limit, toContact);
}
