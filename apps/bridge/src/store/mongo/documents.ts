/**
 * Document shapes of the MongoDB store and their mapping to store entities. Every document
 * uses the entity id as `_id`. `seq` comes from the `counters` collection and orders lists
 * and page cursors the way SQLite's row ids do. Stored values are parsed with the shared
 * schemas on the way out, so a corrupt document fails loudly instead of leaking out.
 */
import { BotConfig, CallResult, CallStatus, SimScenario } from '@voxfleet/schema';
import { z } from 'zod';

import type {
  ApiKeyRecord,
  Bot,
  Call,
  CallDirection,
  CallRecording,
  CallStatusEntry,
  Campaign,
  CarrierCredentialProvider,
  Contact,
  Tenant,
} from '../types.js';

export interface TenantDoc {
  _id: string;
  name: string;
  createdAt: string;
  /** Webhook signing secrets by carrier; absent until the tenant stores one. */
  carrierCredentials?: Partial<Record<CarrierCredentialProvider, string>>;
}

export interface ApiKeyDoc {
  _id: string;
  tenantId: string;
  /** SHA-256 of the key, hex; unique. */
  keyHash: string;
  prefix: string;
  createdAt: string;
}

export interface BotDoc {
  _id: string;
  seq: number;
  tenantId: string;
  name: string;
  config: unknown;
  revision: number;
  /** Absent on bots stored before inbound lines existed. */
  inboundKey?: string | null;
  createdAt: string;
  updatedAt: string;
}

/** One concurrency slot of a campaign, held by the call attempt `callId`. */
export interface SlotDoc {
  callId: string;
  /** Wall-clock time of the reservation, for releasing slots that a crash left behind. */
  reservedAtMs: number;
}

export interface CampaignDoc {
  _id: string;
  seq: number;
  tenantId: string;
  botId: string;
  name: string;
  status: string;
  concurrency: number;
  maxAttempts: number;
  retryBackoffMs: number;
  callerId: string | null;
  createdAt: string;
  updatedAt: string;
  /** Slots of contacts in `dialling`; the claim never lets it grow past `concurrency`. */
  slots: SlotDoc[];
}

/**
 * One contact variable. Variables are stored as name/value pairs because their names come
 * from CSV headers, and a name such as `$x` or `a.b` is not a safe MongoDB field name.
 */
export interface VariableDoc {
  name: string;
  value: string;
}

export interface ContactDoc {
  _id: string;
  seq: number;
  tenantId: string;
  campaignId: string;
  phone: string;
  name: string | null;
  scenario: string | null;
  variables: VariableDoc[];
  state: string;
  attempts: number;
  nextAttemptAt: string;
  lastCallId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface HistoryDoc {
  status: string;
  at: string;
  reason: string | null;
}

export interface CallDoc {
  _id: string;
  seq: number;
  tenantId: string;
  botId: string;
  /** Absent on calls stored before inbound lines existed, which are all outbound. */
  direction?: CallDirection;
  from?: string | null;
  campaignId: string | null;
  contactId: string | null;
  attempt: number;
  to: string;
  status: string;
  reason: string | null;
  carrierCallId: string | null;
  workerId: string | null;
  createdAt: string;
  updatedAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  outcome: string | null;
  result: unknown;
  recording: CallRecording | null;
  /** Status changes in order; kept in the call so that one update changes both. */
  history: HistoryDoc[];
}

export interface CounterDoc {
  _id: string;
  value: number;
}

const CampaignStatusSchema = z.enum(['draft', 'running', 'paused', 'completed']);
const ContactStateSchema = z.enum(['pending', 'dialling', 'done', 'failed']);

export function toTenant(doc: TenantDoc): Tenant {
  return { id: doc._id, name: doc.name, createdAt: doc.createdAt };
}

export function toApiKey(doc: ApiKeyDoc): ApiKeyRecord {
  return { id: doc._id, tenantId: doc.tenantId, prefix: doc.prefix, createdAt: doc.createdAt };
}

export function toBot(doc: BotDoc): Bot {
  return {
    id: doc._id,
    tenantId: doc.tenantId,
    name: doc.name,
    config: BotConfig.parse(doc.config),
    revision: doc.revision,
    inboundKey: doc.inboundKey ?? null,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

export function toCampaign(doc: CampaignDoc): Campaign {
  return {
    id: doc._id,
    tenantId: doc.tenantId,
    name: doc.name,
    botId: doc.botId,
    status: CampaignStatusSchema.parse(doc.status),
    concurrency: doc.concurrency,
    maxAttempts: doc.maxAttempts,
    retryBackoffMs: doc.retryBackoffMs,
    callerId: doc.callerId,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

export function toVariableDocs(variables: Record<string, string>): VariableDoc[] {
  return Object.entries(variables).map(([name, value]) => ({ name, value }));
}

export function fromVariableDocs(docs: VariableDoc[]): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const { name, value } of docs) variables[name] = value;
  return variables;
}

export function toContact(doc: ContactDoc): Contact {
  return {
    id: doc._id,
    tenantId: doc.tenantId,
    campaignId: doc.campaignId,
    phone: doc.phone,
    name: doc.name,
    scenario: doc.scenario === null ? null : SimScenario.parse(doc.scenario),
    variables: fromVariableDocs(doc.variables),
    state: ContactStateSchema.parse(doc.state),
    attempts: doc.attempts,
    nextAttemptAt: doc.nextAttemptAt,
    lastCallId: doc.lastCallId,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
  };
}

export function toCall(doc: CallDoc): Call {
  return {
    id: doc._id,
    tenantId: doc.tenantId,
    botId: doc.botId,
    direction: doc.direction ?? 'outbound',
    from: doc.from ?? null,
    campaignId: doc.campaignId,
    contactId: doc.contactId,
    attempt: doc.attempt,
    to: doc.to,
    status: CallStatus.parse(doc.status),
    reason: doc.reason,
    carrierCallId: doc.carrierCallId,
    workerId: doc.workerId,
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    answeredAt: doc.answeredAt,
    endedAt: doc.endedAt,
    outcome: doc.outcome,
    result: doc.result === null || doc.result === undefined ? null : CallResult.parse(doc.result),
    recording: doc.recording,
  };
}

export function toHistory(doc: CallDoc): CallStatusEntry[] {
  return doc.history.map((entry) => ({
    status: CallStatus.parse(entry.status),
    at: entry.at,
    reason: entry.reason,
  }));
}
