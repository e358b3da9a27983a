/**
 * The collections of the MongoDB store, their indexes, and the sequence counters. Unique
 * indexes carry the constraints that SQLite declares in its schema.
 */
import { MongoServerError } from 'mongodb';
import type { Collection, Db } from 'mongodb';

import type {
  ApiKeyDoc,
  BotDoc,
  CallDoc,
  CampaignDoc,
  ContactDoc,
  CounterDoc,
  TenantDoc,
} from './documents.js';

export interface Collections {
  tenants: Collection<TenantDoc>;
  apiKeys: Collection<ApiKeyDoc>;
  bots: Collection<BotDoc>;
  campaigns: Collection<CampaignDoc>;
  contacts: Collection<ContactDoc>;
  calls: Collection<CallDoc>;
  counters: Collection<CounterDoc>;
}

export function openCollections(db: Db): Collections {
  return {
    tenants: db.collection<TenantDoc>('tenants'),
    apiKeys: db.collection<ApiKeyDoc>('apiKeys'),
    bots: db.collection<BotDoc>('bots'),
    campaigns: db.collection<CampaignDoc>('campaigns'),
    contacts: db.collection<ContactDoc>('contacts'),
    calls: db.collection<CallDoc>('calls'),
    counters: db.collection<CounterDoc>('counters'),
  };
}

/** Creates every index; MongoDB skips one that already exists with the same keys. */
export async function ensureIndexes(c: Collections): Promise<void> {
  await c.tenants.createIndexes([{ key: { name: 1 }, name: 'tenant_name', unique: true }]);
  await c.apiKeys.createIndexes([{ key: { keyHash: 1 }, name: 'api_key_hash', unique: true }]);
  await c.bots.createIndexes([
    { key: { tenantId: 1, createdAt: 1, seq: 1 }, name: 'bot_tenant' },
    // Only bots with a key are indexed, so the many bots without one do not collide.
    {
      key: { inboundKey: 1 },
      name: 'bot_inbound_key',
      unique: true,
      partialFilterExpression: { inboundKey: { $type: 'string' } },
    },
  ]);
  await c.campaigns.createIndexes([
    { key: { tenantId: 1, createdAt: 1, seq: 1 }, name: 'campaign_tenant' },
    { key: { status: 1, createdAt: 1, seq: 1 }, name: 'campaign_status' },
  ]);
  await c.contacts.createIndexes([
    { key: { campaignId: 1, phone: 1 }, name: 'contact_phone', unique: true },
    { key: { campaignId: 1, state: 1, nextAttemptAt: 1, seq: 1 }, name: 'contact_due' },
    { key: { campaignId: 1, seq: 1 }, name: 'contact_seq' },
  ]);
  await c.calls.createIndexes([
    { key: { seq: 1 }, name: 'call_seq', unique: true },
    { key: { tenantId: 1, seq: -1 }, name: 'call_tenant' },
    { key: { campaignId: 1, status: 1 }, name: 'call_campaign' },
    { key: { contactId: 1, attempt: -1 }, name: 'call_contact' },
    { key: { tenantId: 1, direction: 1, seq: -1 }, name: 'call_tenant_direction' },
    { key: { direction: 1, status: 1, updatedAt: 1 }, name: 'call_direction_status' },
  ]);
}

/**
 * Brings documents stored by earlier versions up to date; safe to run on every start.
 * Calls stored before inbound lines existed are outbound.
 */
export async function migrateDocuments(c: Collections): Promise<void> {
  await c.calls.updateMany(
    { direction: { $exists: false } },
    { $set: { direction: 'outbound', from: null } },
  );
}

/** Returns true for a unique index violation (server error 11000). */
export function isDuplicateKeyError(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
}

/**
 * Reserves `count` consecutive numbers of the sequence `name` and returns the first. Numbers
 * are unique and grow, with gaps where a reservation goes unused.
 */
export async function nextSeq(c: Collections, name: string, count = 1): Promise<number> {
  for (let tries = 0; ; tries++) {
    try {
      const doc = await c.counters.findOneAndUpdate(
        { _id: name },
        { $inc: { value: count } },
        { upsert: true, returnDocument: 'after' },
      );
      if (doc === null) throw new Error(`counter "${name}" was not returned after its upsert`);
      return doc.value - count + 1;
    } catch (err) {
      // Two first upserts of one counter race on `_id`; the loser retries as an update.
      if (tries > 0 || !isDuplicateKeyError(err)) throw err;
    }
  }
}
