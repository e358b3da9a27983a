/**
 * Row shapes of the SQLite tables and their mapping to store entities. JSON columns are
 * parsed with the shared schemas so a corrupt row fails loudly instead of leaking out.
 */
import { BotConfig, CallResult, CallStatus, SimScenario } from '@voxfleet/schema';
import { z } from 'zod';

import { BridgeError } from '../../errors.js';
import type {
  ApiKeyRecord,
  Bot,
  Call,
  Campaign,
  CampaignStatus,
  Contact,
  ContactState,
  Page,
  Tenant,
} from '../types.js';

export interface TenantRow {
  id: string;
  name: string;
  created_at: string;
}

export interface ApiKeyRow {
  id: string;
  tenant_id: string;
  key_hash: string;
  prefix: string;
  created_at: string;
}

export interface BotRow {
  id: string;
  tenant_id: string;
  name: string;
  config: string;
  revision: number;
  inbound_key: string | null;
  created_at: string;
  updated_at: string;
}

export interface CampaignRow {
  id: string;
  tenant_id: string;
  bot_id: string;
  name: string;
  status: string;
  concurrency: number;
  max_attempts: number;
  retry_backoff_ms: number;
  caller_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface ContactRow {
  seq: number;
  id: string;
  tenant_id: string;
  campaign_id: string;
  phone: string;
  name: string | null;
  scenario: string | null;
  variables: string;
  state: string;
  attempts: number;
  next_attempt_at: string;
  last_call_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface CallRow {
  seq: number;
  id: string;
  tenant_id: string;
  bot_id: string;
  direction: string;
  from_phone: string | null;
  campaign_id: string | null;
  contact_id: string | null;
  attempt: number;
  to_phone: string;
  status: string;
  reason: string | null;
  carrier_call_id: string | null;
  worker_id: string | null;
  created_at: string;
  updated_at: string;
  answered_at: string | null;
  ended_at: string | null;
  outcome: string | null;
  result: string | null;
  recording_key: string | null;
  recording_bytes: number | null;
  recording_uploaded_at: string | null;
}

const CampaignStatusSchema = z.enum(['draft', 'running', 'paused', 'completed']);
const ContactStateSchema = z.enum(['pending', 'dialling', 'done', 'failed']);
const Variables = z.record(z.string(), z.string());
const CallDirectionSchema = z.enum(['outbound', 'inbound']);

export function toTenant(row: TenantRow): Tenant {
  return { id: row.id, name: row.name, createdAt: row.created_at };
}

export function toApiKey(row: ApiKeyRow): ApiKeyRecord {
  return { id: row.id, tenantId: row.tenant_id, prefix: row.prefix, createdAt: row.created_at };
}

export function toBot(row: BotRow): Bot {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    config: BotConfig.parse(JSON.parse(row.config)),
    revision: row.revision,
    inboundKey: row.inbound_key,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toCampaign(row: CampaignRow): Campaign {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    botId: row.bot_id,
    status: CampaignStatusSchema.parse(row.status) satisfies CampaignStatus,
    concurrency: row.concurrency,
    maxAttempts: row.max_attempts,
    retryBackoffMs: row.retry_backoff_ms,
    callerId: row.caller_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toContact(row: ContactRow): Contact {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    campaignId: row.campaign_id,
    phone: row.phone,
    name: row.name,
    scenario: row.scenario === null ? null : SimScenario.parse(row.scenario),
    variables: Variables.parse(JSON.parse(row.variables)),
    state: ContactStateSchema.parse(row.state) satisfies ContactState,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastCallId: row.last_call_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toCall(row: CallRow): Call {
  const recording =
    row.recording_key === null
      ? null
      : {
          key: row.recording_key,
          bytes: row.recording_bytes ?? 0,
          uploadedAt: row.recording_uploaded_at ?? row.updated_at,
        };
  return {
    id: row.id,
    tenantId: row.tenant_id,
    botId: row.bot_id,
    direction: CallDirectionSchema.parse(row.direction),
    from: row.from_phone,
    campaignId: row.campaign_id,
    contactId: row.contact_id,
    attempt: row.attempt,
    to: row.to_phone,
    status: CallStatus.parse(row.status),
    reason: row.reason,
    carrierCallId: row.carrier_call_id,
    workerId: row.worker_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    answeredAt: row.answered_at,
    endedAt: row.ended_at,
    outcome: row.outcome,
    result: row.result === null ? null : CallResult.parse(JSON.parse(row.result)),
    recording,
  };
}

/** Encodes a row sequence number as an opaque page cursor. */
export function encodeCursor(seq: number): string {
  return Buffer.from(`s${seq}`).toString('base64url');
}

/** Decodes a cursor from `encodeCursor`; raises INVALID_CURSOR on anything else. */
export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^s([0-9]{1,15})$/.exec(text);
  if (match?.[1] === undefined) {
    throw new BridgeError('INVALID_CURSOR', `invalid cursor "${cursor}": pass back a nextCursor`, {
      details: [{ path: 'cursor', message: 'not a cursor this API returned' }],
    });
  }
  return Number(match[1]);
}

/** Cuts `limit + 1` rows into a page, with a cursor when the extra row shows more exist. */
export function toPage<R extends { seq: number }, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
): Page<T> {
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  const nextCursor = rows.length > limit && last !== undefined ? encodeCursor(last.seq) : null;
  return { items: pageRows.map(map), nextCursor };
}
