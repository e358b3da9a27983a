/**
 * The campaign side of the SQLite store: campaigns, their status changes, progress counts
 * and contacts. Functions that change more than one row run in one transaction.
 */
import { randomUUID } from 'node:crypto';

import type { SqliteDatabase as Database } from '@voxfleet/sqlite';

import { BridgeError, botNotFound, campaignNotFound } from '../../errors.js';
import type {
  Campaign,
  CampaignProgress,
  Contact,
  ContactFilter,
  ImportContactsResult,
  NewCampaign,
  NewContact,
  Page,
} from '../types.js';
import { decodeCursor, toCampaign, toContact, toPage } from './rows.js';
import type { CampaignRow, ContactRow } from './rows.js';

export function createCampaign(db: Database, tenantId: string, input: NewCampaign): Campaign {
  return db.transaction(() => {
    const bot = db
      .prepare('SELECT id FROM bots WHERE id = ? AND tenant_id = ?')
      .get(input.botId, tenantId);
    if (bot === undefined) throw botNotFound(input.botId);
    const now = new Date().toISOString();
    const campaign: Campaign = {
      id: `cmp_${randomUUID()}`,
      tenantId,
      ...input,
      status: 'draft',
      createdAt: now,
      updatedAt: now,
    };
    db.prepare(
      `INSERT INTO campaigns (id, tenant_id, bot_id, name, status, concurrency, max_attempts,
         retry_backoff_ms, caller_id, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      campaign.id,
      tenantId,
      campaign.botId,
      campaign.name,
      campaign.status,
      campaign.concurrency,
      campaign.maxAttempts,
      campaign.retryBackoffMs,
      campaign.callerId,
      now,
      now,
    );
    return campaign;
  });
}

export function listCampaigns(db: Database, tenantId: string): Campaign[] {
  const rows = db
    .prepare('SELECT * FROM campaigns WHERE tenant_id = ? ORDER BY created_at, rowid')
    .all(tenantId) as CampaignRow[];
  return rows.map(toCampaign);
}

export function getCampaign(db: Database, tenantId: string, campaignId: string): Campaign | null {
  const row = campaignRow(db, tenantId, campaignId);
  return row === undefined ? null : toCampaign(row);
}

function campaignRow(db: Database, tenantId: string, campaignId: string): CampaignRow | undefined {
  return db
    .prepare('SELECT * FROM campaigns WHERE id = ? AND tenant_id = ?')
    .get(campaignId, tenantId) as CampaignRow | undefined;
}

export function getCampaignProgress(db: Database, campaignId: string): CampaignProgress {
  const progress: CampaignProgress = {
    total: 0,
    pending: 0,
    dialling: 0,
    done: 0,
    failed: 0,
    byCallStatus: {},
    byOutcome: {},
  };
  const states = db
    .prepare('SELECT state, COUNT(*) AS n FROM contacts WHERE campaign_id = ? GROUP BY state')
    .all(campaignId) as Array<{ state: string; n: number }>;
  for (const { state, n } of states) {
    progress.total += n;
    if (state === 'pending' || state === 'dialling' || state === 'done' || state === 'failed') {
      progress[state] = n;
    }
  }
  const statuses = db
    .prepare('SELECT status, COUNT(*) AS n FROM calls WHERE campaign_id = ? GROUP BY status')
    .all(campaignId) as Array<{ status: string; n: number }>;
  for (const { status, n } of statuses) {
    progress.byCallStatus = { ...progress.byCallStatus, [status]: n };
  }
  const outcomes = db
    .prepare(
      `SELECT outcome, COUNT(*) AS n FROM calls WHERE campaign_id = ? AND outcome IS NOT NULL
       GROUP BY outcome`,
    )
    .all(campaignId) as Array<{ outcome: string; n: number }>;
  for (const { outcome, n } of outcomes) progress.byOutcome[outcome] = n;
  return progress;
}

export function startCampaign(
  db: Database,
  tenantId: string,
  campaignId: string,
  now: string,
): Campaign {
  return db.transaction(() => {
    const campaign = requireCampaign(db, tenantId, campaignId);
    if (campaign.status === 'running') return campaign;
    if (campaign.status === 'completed') {
      throw new BridgeError(
        'CAMPAIGN_INVALID_STATE',
        `campaign "${campaignId}" is completed and cannot start again`,
        {
          ids: { campaignId },
        },
      );
    }
    const { n } = db
      .prepare('SELECT COUNT(*) AS n FROM contacts WHERE campaign_id = ?')
      .get(campaignId) as {
      n: number;
    };
    if (n === 0) {
      throw new BridgeError(
        'CAMPAIGN_HAS_NO_CONTACTS',
        `campaign "${campaignId}" has no contacts: import a CSV before starting it`,
        { ids: { campaignId } },
      );
    }
    return setCampaignStatus(db, campaign, 'running', now);
  });
}

export function pauseCampaign(
  db: Database,
  tenantId: string,
  campaignId: string,
  now: string,
): Campaign {
  return db.transaction(() => {
    const campaign = requireCampaign(db, tenantId, campaignId);
    if (campaign.status === 'paused') return campaign;
    if (campaign.status !== 'running') {
      throw new BridgeError(
        'CAMPAIGN_INVALID_STATE',
        `campaign "${campaignId}" is ${campaign.status}: only a running campaign can pause`,
        { ids: { campaignId } },
      );
    }
    return setCampaignStatus(db, campaign, 'paused', now);
  });
}

function requireCampaign(db: Database, tenantId: string, campaignId: string): Campaign {
  const row = campaignRow(db, tenantId, campaignId);
  if (row === undefined) throw campaignNotFound(campaignId);
  return toCampaign(row);
}

function setCampaignStatus(
  db: Database,
  campaign: Campaign,
  status: Campaign['status'],
  now: string,
): Campaign {
  db.prepare('UPDATE campaigns SET status = ?, updated_at = ? WHERE id = ?').run(
    status,
    now,
    campaign.id,
  );
  return { ...campaign, status, updatedAt: now };
}

export function importContacts(
  db: Database,
  tenantId: string,
  campaignId: string,
  contacts: NewContact[],
  now: string,
): ImportContactsResult {
  return db.transaction(() => {
    const campaign = requireCampaign(db, tenantId, campaignId);
    if (campaign.status === 'completed') {
      throw new BridgeError(
        'CAMPAIGN_INVALID_STATE',
        `campaign "${campaignId}" is completed: create a new campaign for more contacts`,
        { ids: { campaignId } },
      );
    }
    const insert = db.prepare(
      `INSERT INTO contacts (id, tenant_id, campaign_id, phone, name, scenario, variables, state,
         attempts, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)
       ON CONFLICT (campaign_id, phone) DO NOTHING`,
    );
    const duplicateIndexes: number[] = [];
    let imported = 0;
    contacts.forEach((contact, index) => {
      const changes = insert.run(
        `cnt_${randomUUID()}`,
        tenantId,
        campaignId,
        contact.phone,
        contact.name,
        contact.scenario,
        JSON.stringify(contact.variables),
        now,
        now,
        now,
      ).changes;
      if (changes === 0) duplicateIndexes.push(index);
      else imported++;
    });
    return { imported, duplicateIndexes };
  });
}

export function listContacts(
  db: Database,
  tenantId: string,
  campaignId: string,
  filter: ContactFilter,
): Page<Contact> {
  requireCampaign(db, tenantId, campaignId);
  const after = filter.cursor === undefined ? 0 : decodeCursor(filter.cursor);
  const rows = db
    .prepare(
      `SELECT * FROM contacts WHERE campaign_id = ? AND seq > ? AND (? IS NULL OR state = ?)
       ORDER BY seq LIMIT ?`,
    )
    .all(
      campaignId,
      after,
      filter.state ?? null,
      filter.state ?? null,
      filter.limit + 1,
    ) as ContactRow[];
  return toPage(rows, filter.limit, toContact);
}
