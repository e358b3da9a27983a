/**
 * The MongoDB implementation of `BridgeStore` on the official driver. `init()` connects and
 * creates the indexes. Every change is a single-document atomic operation, so the store
 * needs no replica set; `dialling.ts` explains how claims stay within each campaign's
 * concurrency. Multi-document changes undo their earlier steps when a later one fails.
 */
import { randomUUID } from 'node:crypto';

import { MongoClient } from 'mongodb';
import type { CallResult, BotConfig } from '@voxfleet/schema';

import { BridgeError, botNotFound } from '../../errors.js';
import { decodeCursor, toPage } from '../sqlite/rows.js';
import type {
  AbandonedCall,
  ApiKeyRecord,
  Bot,
  BridgeStore,
  Call,
  CallDetail,
  CallFilter,
  CallRecording,
  CallStatusOutcome,
  CallStatusUpdate,
  Campaign,
  CampaignProgress,
  CarrierCredentialProvider,
  ClaimOptions,
  ClaimedAttempt,
  OpenCall,
  OpenCallFilter,
  Contact,
  ContactFilter,
  ImportContactsResult,
  NewApiKey,
  NewCampaign,
  NewContact,
  NewInboundCall,
  Page,
  SaveResultOutcome,
  Tenant,
} from '../types.js';
import { DEFAULT_ATTEMPT_STALE_MS } from '../types.js';
import * as campaigns from './campaigns.js';
import {
  ensureIndexes,
  isDuplicateKeyError,
  migrateDocuments,
  nextSeq,
  openCollections,
} from './collections.js';
import type { Collections } from './collections.js';
import * as dialling from './dialling.js';
import * as inbound from './inbound.js';
import { toApiKey, toBot, toCall, toHistory, toTenant } from './documents.js';
import type { BotDoc } from './documents.js';
import { closeAbandonedCalls, listOpenCalls } from './open-calls.js';
import { callListFilter } from './plans.js';

export interface MongoStoreOptions {
  /** Connection string, such as `mongodb://mongo:27017`. */
  url: string;
  /** Database name, such as `voxfleet`. */
  dbName: string;
  /** How long `init()` and each operation wait for a reachable server. Defaults to 10000. */
  serverSelectionTimeoutMs?: number;
}

export class MongoStore implements BridgeStore {
  readonly #options: MongoStoreOptions;
  #client: MongoClient | null = null;
  #collections: Collections | null = null;
  #opening: Promise<void> | null = null;
  #closed = false;

  constructor(options: MongoStoreOptions) {
    this.#options = options;
  }

  init(): Promise<void> {
    if (this.#closed)
      return Promise.reject(new BridgeError('STORE_UNAVAILABLE', 'store is closed'));
    this.#opening ??= this.#open();
    return this.#opening;
  }

  async #open(): Promise<void> {
    const client = new MongoClient(this.#options.url, {
      serverSelectionTimeoutMS: this.#options.serverSelectionTimeoutMs ?? 10_000,
      // An optional field left undefined is omitted instead of stored as null, so documents
      // parse back with the shared schemas.
      ignoreUndefined: true,
      appName: 'voxbridge',
    });
    try {
      await client.connect();
      const collections = openCollections(client.db(this.#options.dbName));
      await ensureIndexes(collections);
      await migrateDocuments(collections);
      this.#client = client;
      this.#collections = collections;
    } catch (err) {
      this.#opening = null;
      await client.close().catch(() => undefined);
      throw new BridgeError(
        'STORE_UNAVAILABLE',
        `cannot open MongoDB database "${this.#options.dbName}": check MONGO_URL and that the server is up`,
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#opening?.catch(() => undefined);
    const client = this.#client;
    this.#client = null;
    this.#collections = null;
    await client?.close();
  }

  async ping(): Promise<boolean> {
    if (this.#client === null) return false;
    try {
      await this.#client.db(this.#options.dbName).command({ ping: 1 });
      return true;
    } catch {
      return false;
    }
  }

  get #c(): Collections {
    if (this.#collections === null) {
      throw new BridgeError('STORE_UNAVAILABLE', 'store is not open: call init() first');
    }
    return this.#collections;
  }

  async createTenant(
    name: string,
    key: NewApiKey,
  ): Promise<{ tenant: Tenant; apiKey: ApiKeyRecord }> {
    const tenant = await this.#insertTenant(name);
    if (tenant === null) {
      throw new BridgeError(
        'TENANT_ALREADY_EXISTS',
        `tenant "${name}" already exists: pick another name`,
      );
    }
    try {
      return { tenant, apiKey: await this.#insertKey(tenant.id, key) };
    } catch (err) {
      // Undo the tenant, so that a failed create leaves nothing behind.
      await this.#c.tenants.deleteOne({ _id: tenant.id });
      throw err;
    }
  }

  async ensureTenantKey(
    name: string,
    key: NewApiKey,
  ): Promise<{ tenant: Tenant; created: boolean }> {
    const existing = await this.findApiKey(key.hash);
    if (existing !== null) return { tenant: existing.tenant, created: false };

    let tenantDoc = await this.#c.tenants.findOne({ name });
    let tenant = tenantDoc === null ? await this.#insertTenant(name) : toTenant(tenantDoc);
    if (tenant === null) {
      // Another process created the tenant since the lookup.
      tenantDoc = await this.#c.tenants.findOne({ name });
      if (tenantDoc === null) throw new Error(`tenant "${name}" vanished after a duplicate insert`);
      tenant = toTenant(tenantDoc);
    }
    try {
      await this.#insertKey(tenant.id, key);
      return { tenant, created: true };
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
      const raced = await this.findApiKey(key.hash);
      if (raced === null) throw err;
      return { tenant: raced.tenant, created: false };
    }
  }

  /** Inserts a tenant, or returns null when the name is taken. */
  async #insertTenant(name: string): Promise<Tenant | null> {
    const tenant: Tenant = { id: `ten_${randomUUID()}`, name, createdAt: new Date().toISOString() };
    try {
      await this.#c.tenants.insertOne({ _id: tenant.id, name, createdAt: tenant.createdAt });
      return tenant;
    } catch (err) {
      if (isDuplicateKeyError(err)) return null;
      throw err;
    }
  }

  async #insertKey(tenantId: string, key: NewApiKey): Promise<ApiKeyRecord> {
    const doc = {
      _id: `key_${randomUUID()}`,
      tenantId,
      keyHash: key.hash,
      prefix: key.prefix,
      createdAt: new Date().toISOString(),
    };
    await this.#c.apiKeys.insertOne(doc);
    return toApiKey(doc);
  }

  async findApiKey(hash: string): Promise<{ apiKey: ApiKeyRecord; tenant: Tenant } | null> {
    const keyDoc = await this.#c.apiKeys.findOne({ keyHash: hash });
    if (keyDoc === null) return null;
    const tenantDoc = await this.#c.tenants.findOne({ _id: keyDoc.tenantId });
    if (tenantDoc === null) return null;
    return { apiKey: toApiKey(keyDoc), tenant: toTenant(tenantDoc) };
  }

  async createBot(tenantId: string, input: { name: string; config: BotConfig }): Promise<Bot> {
    const now = new Date().toISOString();
    const doc: BotDoc = {
      _id: `bot_${randomUUID()}`,
      seq: await nextSeq(this.#c, 'bots'),
      tenantId,
      name: input.name,
      config: input.config,
      revision: 1,
      inboundKey: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.#c.bots.insertOne(doc);
    return toBot(doc);
  }

  async listBots(tenantId: string): Promise<Bot[]> {
    const docs = await this.#c.bots.find({ tenantId }).sort({ createdAt: 1, seq: 1 }).toArray();
    return docs.map(toBot);
  }

  async getBot(tenantId: string, botId: string): Promise<Bot | null> {
    const doc = await this.#c.bots.findOne({ _id: botId, tenantId });
    return doc === null ? null : toBot(doc);
  }

  async findBotByInboundKey(inboundKey: string): Promise<Bot | null> {
    return inbound.findBotByInboundKey(this.#c, inboundKey);
  }

  async rotateInboundKey(
    tenantId: string,
    botId: string,
    inboundKey: string,
    now: string,
  ): Promise<Bot> {
    return inbound.rotateInboundKey(this.#c, tenantId, botId, inboundKey, now);
  }

  async getBotById(botId: string): Promise<Bot | null> {
    const doc = await this.#c.bots.findOne({ _id: botId });
    return doc === null ? null : toBot(doc);
  }

  async updateBot(
    tenantId: string,
    botId: string,
    input: { name: string; config: BotConfig },
  ): Promise<Bot> {
    const doc = await this.#c.bots.findOneAndUpdate(
      { _id: botId, tenantId },
      {
        $set: { name: input.name, config: input.config, updatedAt: new Date().toISOString() },
        $inc: { revision: 1 },
      },
      { returnDocument: 'after' },
    );
    if (doc === null) throw botNotFound(botId);
    return toBot(doc);
  }

  async createCampaign(tenantId: string, input: NewCampaign): Promise<Campaign> {
    return campaigns.createCampaign(this.#c, tenantId, input);
  }

  async listCampaigns(tenantId: string): Promise<Campaign[]> {
    return campaigns.listCampaigns(this.#c, tenantId);
  }

  async getCampaign(tenantId: string, campaignId: string): Promise<Campaign | null> {
    return campaigns.getCampaign(this.#c, tenantId, campaignId);
  }

  async getCampaignProgress(campaignId: string): Promise<CampaignProgress> {
    return campaigns.getCampaignProgress(this.#c, campaignId);
  }

  async startCampaign(tenantId: string, campaignId: string, now: string): Promise<Campaign> {
    return campaigns.startCampaign(this.#c, tenantId, campaignId, now);
  }

  async pauseCampaign(tenantId: string, campaignId: string, now: string): Promise<Campaign> {
    return campaigns.pauseCampaign(this.#c, tenantId, campaignId, now);
  }

  async importContacts(
    tenantId: string,
    campaignId: string,
    contacts: NewContact[],
    now: string,
  ): Promise<ImportContactsResult> {
    return campaigns.importContacts(this.#c, tenantId, campaignId, contacts, now);
  }

  async listContacts(
    tenantId: string,
    campaignId: string,
    filter: ContactFilter,
  ): Promise<Page<Contact>> {
    return campaigns.listContacts(this.#c, tenantId, campaignId, filter);
  }

  async claimAttempts(
    limit: number,
    now: string,
    options: ClaimOptions = {},
  ): Promise<ClaimedAttempt[]> {
    const staleMs = options.attemptStaleMs ?? DEFAULT_ATTEMPT_STALE_MS;
    // Each close releases its campaign slot, so the claim that follows can use it.
    const abandoned = [
      ...(await closeAbandonedCalls(this.#c, now, staleMs)),
      ...(await inbound.closeAbandonedInboundCalls(this.#c, now, staleMs)),
    ];
    if (abandoned.length > 0) options.onAbandoned?.(abandoned);
    return dialling.claimAttempts(this.#c, limit, now);
  }

  async listOpenCalls(filter: OpenCallFilter): Promise<OpenCall[]> {
    return listOpenCalls(this.#c, filter);
  }

  async applyCallStatus(callId: string, update: CallStatusUpdate): Promise<CallStatusOutcome> {
    return dialling.applyCallStatus(this.#c, callId, update);
  }

  async requeueCall(callId: string, now: string): Promise<Contact | null> {
    return dialling.requeueCall(this.#c, callId, now);
  }

  async saveCallResult(
    callId: string,
    result: CallResult,
    now: string,
  ): Promise<SaveResultOutcome> {
    return dialling.saveCallResult(this.#c, callId, result, now);
  }

  async setCallRecording(callId: string, recording: CallRecording): Promise<Call> {
    return dialling.setCallRecording(this.#c, callId, recording);
  }

  async createInboundCall(call: NewInboundCall): Promise<Call> {
    return inbound.createInboundCall(this.#c, call);
  }

  async closeAbandonedInboundCalls(now: string, staleMs: number): Promise<AbandonedCall[]> {
    return inbound.closeAbandonedInboundCalls(this.#c, now, staleMs);
  }

  async getCarrierCredential(
    tenantId: string,
    provider: CarrierCredentialProvider,
  ): Promise<string | null> {
    return inbound.getCarrierCredential(this.#c, tenantId, provider);
  }

  async setCarrierCredential(
    tenantId: string,
    provider: CarrierCredentialProvider,
    secret: string | null,
  ): Promise<void> {
    await inbound.setCarrierCredential(this.#c, tenantId, provider, secret);
  }

  async getCallById(callId: string): Promise<Call | null> {
    const doc = await this.#c.calls.findOne({ _id: callId });
    return doc === null ? null : toCall(doc);
  }

  async getCall(tenantId: string, callId: string): Promise<CallDetail | null> {
    const doc = await this.#c.calls.findOne({ _id: callId, tenantId });
    return doc === null ? null : { ...toCall(doc), history: toHistory(doc) };
  }

  async listCalls(tenantId: string, filter: CallFilter): Promise<Page<Call>> {
    const before =
      filter.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(filter.cursor);
    const docs = await this.#c.calls
      .find(callListFilter(tenantId, filter, before))
      .sort({ seq: -1 })
      .limit(filter.limit + 1)
      .toArray();
    return toPage(docs, filter.limit, toCall);
  }
}
