/**
 * The inbound side of the MongoDB store: bots' inbound keys, inbound call records, the
 * sweep of inbound calls that no result closed, and tenants' carrier credentials. Each
 * change is one single-document write, as in `dialling.ts`.
 */
import { botNotFound } from '../../errors.js';
import type {
  AbandonedCall,
  Bot,
  Call,
  CarrierCredentialProvider,
  NewInboundCall,
} from '../types.js';
import { nextSeq } from './collections.js';
import type { Collections } from './collections.js';
import { toBot, toCall } from './documents.js';
import type { CallDoc } from './documents.js';
import { maxCallDurationMs } from './open-calls.js';

const LIVE_STATUSES = ['queued', 'dialling', 'ringing', 'in-progress'];

export async function findBotByInboundKey(c: Collections, inboundKey: string): Promise<Bot | null> {
  const doc = await c.bots.findOne({ inboundKey });
  return doc === null ? null : toBot(doc);
}

export async function rotateInboundKey(
  c: Collections,
  tenantId: string,
  botId: string,
  inboundKey: string,
  now: string,
): Promise<Bot> {
  const doc = await c.bots.findOneAndUpdate(
    { _id: botId, tenantId },
    { $set: { inboundKey, updatedAt: now } },
    { returnDocument: 'after' },
  );
  if (doc === null) throw botNotFound(botId);
  return toBot(doc);
}

export async function createInboundCall(c: Collections, call: NewInboundCall): Promise<Call> {
  const answered = call.status === 'in-progress';
  const doc: CallDoc = {
    _id: call.id,
    seq: await nextSeq(c, 'calls'),
    tenantId: call.tenantId,
    botId: call.botId,
    direction: 'inbound',
    from: call.from,
    campaignId: null,
    contactId: null,
    attempt: 1,
    to: call.to,
    status: call.status,
    reason: call.reason,
    carrierCallId: call.carrierCallId,
    workerId: call.workerId,
    createdAt: call.at,
    updatedAt: call.at,
    answeredAt: answered ? call.at : null,
    endedAt: answered ? null : call.at,
    outcome: null,
    result: null,
    recording: null,
    history: [{ status: call.status, at: call.at, reason: call.reason }],
  };
  await c.calls.insertOne(doc);
  return toCall(doc);
}

/**
 * Closes live inbound calls without an update for longer than `staleMs` plus the bot's
 * `maxCallDurationMs` as `failed`, reason `abandoned`. A call that changed since it was
 * read is left alone.
 */
export async function closeAbandonedInboundCalls(
  c: Collections,
  now: string,
  staleMs: number,
): Promise<AbandonedCall[]> {
  const nowMs = Date.parse(now);
  const cutoff = new Date(nowMs - staleMs).toISOString();
  const docs = await c.calls
    .find(
      { direction: 'inbound', status: { $in: LIVE_STATUSES }, updatedAt: { $lt: cutoff } },
      { projection: { history: 0, result: 0 } },
    )
    .toArray();

  const closed: AbandonedCall[] = [];
  for (const doc of docs) {
    const call = toCall({ ...doc, history: [], result: null });
    const limitMs = (await maxCallDurationMs(c, call.botId)) + staleMs;
    if (Date.parse(call.updatedAt) >= nowMs - limitMs) continue;
    // Conditional on the status and update time as read, so a result that arrived since wins.
    const written = await c.calls.updateOne(
      { _id: call.id, status: call.status, updatedAt: call.updatedAt },
      {
        $set: { status: 'failed', reason: 'abandoned', updatedAt: now, endedAt: now },
        $push: { history: { status: 'failed', at: now, reason: 'abandoned' } },
      },
    );
    if (written.modifiedCount === 0) continue;
    closed.push({
      callId: call.id,
      contactId: null,
      campaignId: null,
      status: call.status,
      contactState: null,
    });
  }
  return closed;
}

export async function getCarrierCredential(
  c: Collections,
  tenantId: string,
  provider: CarrierCredentialProvider,
): Promise<string | null> {
  const doc = await c.tenants.findOne({ _id: tenantId }, { projection: { carrierCredentials: 1 } });
  return doc?.carrierCredentials?.[provider] ?? null;
}

export async function setCarrierCredential(
  c: Collections,
  tenantId: string,
  provider: CarrierCredentialProvider,
  secret: string | null,
): Promise<void> {
  const field = `carrierCredentials.${provider}`;
  await c.tenants.updateOne(
    { _id: tenantId },
    secret === null ? { $unset: { [field]: '' } } : { $set: { [field]: secret } },
  );
}
