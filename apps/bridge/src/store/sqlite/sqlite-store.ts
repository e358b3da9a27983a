/**
 * The SQLite implementation of `BridgeStore` on @voxfleet/sqlite: WAL journal, foreign
 * keys on, migrations at `init()`. Both of its drivers are synchronous, so every
 * transaction runs to its end before another request's query starts.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';

import { openDatabase, type SqliteDatabase } from '@voxfleet/sqlite';
import { CallStatus } from '@voxfleet/schema';
import type { BotConfig, CallResult } from '@voxfleet/schema';

import { BridgeError, botNotFound } from '../../errors.js';
import type {
  AbandonedCall,
  ApiKeyRecord,
  Bot,
  BridgeStore,
  Call,
  CallDetail,
  CallFilter,
  CallRecording,
  CallStatusEntry,
  CallStatusOutcome,
  CallStatusUpdate,
  Campaign,
  CarrierCredentialProvider,
  CampaignProgress,
  ClaimOptions,
  ClaimedAttempt,
  Contact,
  ContactFilter,
  ImportContactsResult,
  NewApiKey,
  NewCampaign,
  NewContact,
  NewInboundCall,
  OpenCall,
  OpenCallFilter,
  Page,
  SaveResultOutcome,
  Tenant,
} from '../types.js';
import { DEFAULT_ATTEMPT_STALE_MS } from '../types.js';
import * as campaigns from './campaigns.js';
import * as dialling from './dialling.js';
import * as inbound from './inbound.js';
import { migrate } from './migrations.js';
import { closeAbandonedCalls, listOpenCalls } from './open-calls.js';
import { decodeCursor, toApiKey, toBot, toCall, toPage, toTenant } from './rows.js';
import type { ApiKeyRow, BotRow, CallRow, TenantRow } from './rows.js';

export interface SqliteStoreOptions {
  /** Database file path, or `:memory:`. Parent folders are created. */
  path: string;
}

export class SqliteStore implements BridgeStore {
  readonly #path: string;
  #db: SqliteDatabase | null = null;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    this.#path = options.path;
  }

  async init(): Promise<void> {
    if (this.#db !== null) return;
    if (this.#closed) throw new BridgeError('STORE_UNAVAILABLE', 'store is closed');
    if (this.#path !== ':memory:') mkdirSync(dirname(this.#path), { recursive: true });
    const db = openDatabase({ path: this.#path, busyTimeoutMs: 5000 });
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    this.#db = db;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const db = this.#db;
    this.#db = null;
    db?.close();
  }

  async ping(): Promise<boolean> {
    if (this.#db === null) return false;
    try {
      this.#db.prepare('SELECT 1').get();
      return true;
    } catch {
      return false;
    }
  }

  get #conn(): SqliteDatabase {
    if (this.#db === null) {
      throw new BridgeError('STORE_UNAVAILABLE', 'store is not open: call init() first');
    }
    return this.#db;
  }

  async createTenant(
    name: string,
    key: NewApiKey,
  ): Promise<{ tenant: Tenant; apiKey: ApiKeyRecord }> {
    const db = this.#conn;
    return db.transaction(() => {
      const existing = db.prepare('SELECT id FROM tenants WHERE name = ?').get(name);
      if (existing !== undefined) {
        throw new BridgeError(
          'TENANT_ALREADY_EXISTS',
          `tenant "${name}" already exists: pick another name`,
        );
      }
      const tenant = this.#insertTenant(name);
      return { tenant, apiKey: this.#insertKey(tenant.id, key) };
    });
  }

  async ensureTenantKey(
    name: string,
    key: NewApiKey,
  ): Promise<{ tenant: Tenant; created: boolean }> {
    const db = this.#conn;
    return db.transaction(() => {
      const existing = db
        .prepare(
          'SELECT t.* FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = ?',
        )
        .get(key.hash) as TenantRow | undefined;
      if (existing !== undefined) return { tenant: toTenant(existing), created: false };
      const row = db.prepare('SELECT * FROM tenants WHERE name = ?').get(name) as
        TenantRow | undefined;
      const tenant = row === undefined ? this.#insertTenant(name) : toTenant(row);
      this.#insertKey(tenant.id, key);
      return { tenant, created: true };
    });
  }

  #insertTenant(name: string): Tenant {
    const tenant: Tenant = { id: `ten_${randomUUID()}`, name, createdAt: new Date().toISOString() };
    this.#conn
      .prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)')
      .run(tenant.id, tenant.name, tenant.createdAt);
    return tenant;
  }

  #insertKey(tenantId: string, key: NewApiKey): ApiKeyRecord {
    const record: ApiKeyRecord = {
      id: `key_${randomUUID()}`,
      tenantId,
      prefix: key.prefix,
      createdAt: new Date().toISOString(),
    };
    this.#conn
      .prepare(
        'INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(record.id, tenantId, key.hash, key.prefix, record.createdAt);
    return record;
  }

  async findApiKey(hash: string): Promise<{ apiKey: ApiKeyRecord; tenant: Tenant } | null> {
    const db = this.#conn;
    const keyRow = db.prepare('SELECT * FROM api_keys WHERE key_hash = ?').get(hash) as
      ApiKeyRow | undefined;
    if (keyRow === undefined) return null;
    const tenantRow = db.prepare('SELECT * FROM tenants WHERE id = ?').get(keyRow.tenant_id) as
      TenantRow | undefined;
    if (tenantRow === undefined) return null;
    return { apiKey: toApiKey(keyRow), tenant: toTenant(tenantRow) };
  }

  async createBot(tenantId: string, input: { name: string; config: BotConfig }): Promise<Bot> {
    const now = new Date().toISOString();
    const bot: Bot = {
      id: `bot_${randomUUID()}`,
      tenantId,
      name: input.name,
      config: input.config,
      revision: 1,
      inboundKey: null,
      createdAt: now,
      updatedAt: now,
    };
    this.#conn
      .prepare(
        `INSERT INTO bots (id, tenant_id, name, config, revision, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(bot.id, tenantId, bot.name, JSON.stringify(bot.config), bot.revision, now, now);
    return bot;
  }

  async listBots(tenantId: string): Promise<Bot[]> {
    const rows = this.#conn
      .prepare('SELECT * FROM bots WHERE tenant_id = ? ORDER BY created_at, rowid')
      .all(tenantId) as BotRow[];
    return rows.map(toBot);
  }

  async getBot(tenantId: string, botId: string): Promise<Bot | null> {
    const row = this.#conn
      .prepare('SELECT * FROM bots WHERE id = ? AND tenant_id = ?')
      .get(botId, tenantId) as BotRow | undefined;
    return row === undefined ? null : toBot(row);
  }

  async findBotByInboundKey(inboundKey: string): Promise<Bot | null> {
    return inbound.findBotByInboundKey(this.#conn, inboundKey);
  }

  async rotateInboundKey(
    tenantId: string,
    botId: string,
    inboundKey: string,
    now: string,
  ): Promise<Bot> {
    return inbound.rotateInboundKey(this.#conn, tenantId, botId, inboundKey, now);
  }

  async getBotById(botId: string): Promise<Bot | null> {
    const row = this.#conn.prepare('SELECT * FROM bots WHERE id = ?').get(botId) as
      BotRow | undefined;
    return row === undefined ? null : toBot(row);
  }

  async updateBot(
    tenantId: string,
    botId: string,
    input: { name: string; config: BotConfig },
  ): Promise<Bot> {
    const db = this.#conn;
    return db.transaction(() => {
      const now = new Date().toISOString();
      const changes = db
        .prepare(
          `UPDATE bots SET name = ?, config = ?, revision = revision + 1, updated_at = ?
           WHERE id = ? AND tenant_id = ?`,
        )
        .run(input.name, JSON.stringify(input.config), now, botId, tenantId).changes;
      if (changes === 0) throw botNotFound(botId);
      return toBot(db.prepare('SELECT * FROM bots WHERE id = ?').get(botId) as BotRow);
    });
  }

  async createCampaign(tenantId: string, input: NewCampaign): Promise<Campaign> {
    return campaigns.createCampaign(this.#conn, tenantId, input);
  }

  async listCampaigns(tenantId: string): Promise<Campaign[]> {
    return campaigns.listCampaigns(this.#conn, tenantId);
  }

  async getCampaign(tenantId: string, campaignId: string): Promise<Campaign | null> {
    return campaigns.getCampaign(this.#conn, tenantId, campaignId);
  }

  async getCampaignProgress(campaignId: string): Promise<CampaignProgress> {
    return campaigns.getCampaignProgress(this.#conn, campaignId);
  }

  async startCampaign(tenantId: string, campaignId: string, now: string): Promise<Campaign> {
    return campaigns.startCampaign(this.#conn, tenantId, campaignId, now);
  }

  async pauseCampaign(tenantId: string, campaignId: string, now: string): Promise<Campaign> {
    return campaigns.pauseCampaign(this.#conn, tenantId, campaignId, now);
  }

  async importContacts(
    tenantId: string,
    campaignId: string,
    contacts: NewContact[],
    now: string,
  ): Promise<ImportContactsResult> {
    return campaigns.importContacts(this.#conn, tenantId, campaignId, contacts, now);
  }

  async listContacts(
    tenantId: string,
    campaignId: string,
    filter: ContactFilter,
  ): Promise<Page<Contact>> {
    return campaigns.listContacts(this.#conn, tenantId, campaignId, filter);
  }

  async claimAttempts(
    limit: number,
    now: string,
    options: ClaimOptions = {},
  ): Promise<ClaimedAttempt[]> {
    const db = this.#conn;
    const staleMs = options.attemptStaleMs ?? DEFAULT_ATTEMPT_STALE_MS;
    // The inner claim transaction becomes a savepoint of this one, so the sweep and the
    // claim commit together.
    const { abandoned, claimed } = db.transaction(() => ({
      abandoned: [
        ...closeAbandonedCalls(db, now, staleMs),
        ...inbound.closeAbandonedInboundCalls(db, now, staleMs),
      ],
      claimed: dialling.claimAttempts(db, limit, now),
    }));
    if (abandoned.length > 0) options.onAbandoned?.(abandoned);
    return claimed;
  }

  async listOpenCalls(filter: OpenCallFilter): Promise<OpenCall[]> {
    return listOpenCalls(this.#conn, filter);
  }

  async applyCallStatus(callId: string, update: CallStatusUpdate): Promise<CallStatusOutcome> {
    return dialling.applyCallStatus(this.#conn, callId, update);
  }

  async requeueCall(callId: string, now: string): Promise<Contact | null> {
    return dialling.requeueCall(this.#conn, callId, now);
  }

  async saveCallResult(
    callId: string,
    result: CallResult,
    now: string,
  ): Promise<SaveResultOutcome> {
    return dialling.saveCallResult(this.#conn, callId, result, now);
  }

  async setCallRecording(callId: string, recording: CallRecording): Promise<Call> {
    dialling.setCallRecording(this.#conn, callId, recording);
    return toCall(this.#conn.prepare('SELECT * FROM calls WHERE id = ?').get(callId) as CallRow);
  }

  async createInboundCall(call: NewInboundCall): Promise<Call> {
    return inbound.createInboundCall(this.#conn, call);
  }

  async closeAbandonedInboundCalls(now: string, staleMs: number): Promise<AbandonedCall[]> {
    return inbound.closeAbandonedInboundCalls(this.#conn, now, staleMs);
  }

  async getCarrierCredential(
    tenantId: string,
    provider: CarrierCredentialProvider,
  ): Promise<string | null> {
    return inbound.getCarrierCredential(this.#conn, tenantId, provider);
  }

  async setCarrierCredential(
    tenantId: string,
    provider: CarrierCredentialProvider,
    secret: string | null,
    now: string,
  ): Promise<void> {
    inbound.setCarrierCredential(this.#conn, tenantId, provider, secret, now);
  }

  async getCallById(callId: string): Promise<Call | null> {
    const row = this.#conn.prepare('SELECT * FROM calls WHERE id = ?').get(callId) as
      CallRow | undefined;
    return row === undefined ? null : toCall(row);
  }

  async getCall(tenantId: string, callId: string): Promise<CallDetail | null> {
    const db = this.#conn;
    const row = db
      .prepare('SELECT * FROM calls WHERE id = ? AND tenant_id = ?')
      .get(callId, tenantId) as CallRow | undefined;
    if (row === undefined) return null;
    const history = db
      .prepare('SELECT status, at, reason FROM call_status_history WHERE call_id = ? ORDER BY seq')
      .all(callId) as Array<{ status: string; at: string; reason: string | null }>;
    return {
      ...toCall(row),
      history: history.map((entry): CallStatusEntry => ({
        ...entry,
        status: CallStatus.parse(entry.status),
      })),
    };
  }

  async listCalls(tenantId: string, filter: CallFilter): Promise<Page<Call>> {
    const before =
      filter.cursor === undefined ? Number.MAX_SAFE_INTEGER : decodeCursor(filter.cursor);
    const rows = this.#conn
      .prepare(
        `SELECT * FROM calls WHERE tenant_id = ? AND seq < ?
           AND (? IS NULL OR campaign_id = ?) AND (? IS NULL OR bot_id = ?) AND (? IS NULL OR status = ?)
           AND (? IS NULL OR direction = ?)
         ORDER BY seq DESC LIMIT ?`,
      )
      .all(
        tenantId,
        before,
        filter.campaignId ?? null,
        filter.campaignId ?? null,
        filter.botId ?? null,
        filter.botId ?? null,
        filter.status ?? null,
        filter.status ?? null,
        filter.direction ?? null,
        filter.direction ?? null,
        filter.limit + 1,
      ) as CallRow[];
    return toPage(rows, filter.limit, toCall);
  }
}
