/**
 * The contract every `BridgeStore` backend must pass. A backend's test file calls
 * `runStoreContract` with a factory that returns a fresh, initialised store and a cleanup.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';

import type { BotConfig } from '@voxfleet/schema';
import { BotConfig as BotConfigSchema } from '@voxfleet/schema';

import { BridgeError } from '../src/errors.js';
import type { BridgeStore, NewContact } from '../src/store/types.js';

export interface StoreFixture {
  store: BridgeStore;
  cleanup(): Promise<void>;
}

const CONFIG: BotConfig = BotConfigSchema.parse({
  start: 'bye',
  nodes: { bye: { type: 'hangup', outcome: 'done' } },
});

const T0 = '2026-01-01T10:00:00.000Z';
const T1 = '2026-01-01T10:01:00.000Z';
const T2 = '2026-01-01T10:02:00.000Z';

function contact(phone: string, extra: Partial<NewContact> = {}): NewContact {
  return { phone, name: null, scenario: null, variables: {}, ...extra };
}

function key(n: number): { hash: string; prefix: string } {
  return { hash: `${n}`.padStart(64, '0'), prefix: `vfk_${n}` };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof BridgeError && err.code === code);
}

export function runStoreContract(name: string, createStore: () => Promise<StoreFixture>): void {
  describe(`${name} store contract`, () => {
    let fixture: StoreFixture;
    let store: BridgeStore;
    let tenantId: string;
    let otherTenantId: string;

    beforeEach(async () => {
      fixture = await createStore();
      store = fixture.store;
      tenantId = (await store.createTenant('acme', key(1))).tenant.id;
      otherTenantId = (await store.createTenant('globex', key(2))).tenant.id;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    async function runningCampaign(phones: string[], concurrency = 10, owner = tenantId) {
      const bot = await store.createBot(owner, { name: 'b', config: CONFIG });
      const campaign = await store.createCampaign(owner, {
        name: 'c',
        botId: bot.id,
        concurrency,
        maxAttempts: 3,
        retryBackoffMs: 1000,
        callerId: null,
      });
      await store.importContacts(
        owner,
        campaign.id,
        phones.map((p) => contact(p)),
        T0,
      );
      await store.startCampaign(owner, campaign.id, T0);
      return { bot, campaign };
    }

    test('tenant names are unique', async () => {
      await rejectsWith(store.createTenant('acme', key(3)), 'TENANT_ALREADY_EXISTS');
    });

    test('api key lookup by hash', async () => {
      const found = await store.findApiKey(key(1).hash);
      assert.equal(found?.tenant.id, tenantId);
      assert.equal(found?.apiKey.prefix, 'vfk_1');
      assert.equal(await store.findApiKey(key(9).hash), null);
    });

    test('ensureTenantKey is idempotent', async () => {
      const first = await store.ensureTenantKey('default', key(5));
      const second = await store.ensureTenantKey('default', key(5));
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.tenant.id, first.tenant.id);
      assert.equal((await store.findApiKey(key(5).hash))?.tenant.name, 'default');
    });

    test('bot update bumps revision', async () => {
      const bot = await store.createBot(tenantId, { name: 'b', config: CONFIG });
      assert.equal(bot.revision, 1);
      const updated = await store.updateBot(tenantId, bot.id, { name: 'b2', config: CONFIG });
      assert.equal(updated.revision, 2);
      assert.equal(updated.name, 'b2');
      assert.deepEqual((await store.getBotById(bot.id))?.config, CONFIG);
    });

    test('bots are isolated per tenant', async () => {
      const bot = await store.createBot(tenantId, { name: 'b', config: CONFIG });
      assert.equal(await store.getBot(otherTenantId, bot.id), null);
      assert.equal((await store.listBots(otherTenantId)).length, 0);
      await rejectsWith(
        store.updateBot(otherTenantId, bot.id, { name: 'x', config: CONFIG }),
        'BOT_NOT_FOUND',
      );
      await rejectsWith(
        store.createCampaign(otherTenantId, {
          name: 'c',
          botId: bot.id,
          concurrency: 1,
          maxAttempts: 1,
          retryBackoffMs: 0,
          callerId: null,
        }),
        'BOT_NOT_FOUND',
      );
    });

    test('import skips phones already in campaign', async () => {
      const { campaign } = await runningCampaign(['+15550000001']);
      const result = await store.importContacts(
        tenantId,
        campaign.id,
        [contact('+15550000002', { variables: { city: 'Pune' } }), contact('+15550000001')],
        T0,
      );
      assert.equal(result.imported, 1);
      assert.deepEqual(result.duplicateIndexes, [1]);
      const page = await store.listContacts(tenantId, campaign.id, { limit: 10 });
      assert.equal(page.items.length, 2);
      assert.deepEqual(page.items[1]?.variables, { city: 'Pune' });
    });

    test('start needs contacts and pause needs running', async () => {
      const bot = await store.createBot(tenantId, { name: 'b', config: CONFIG });
      const campaign = await store.createCampaign(tenantId, {
        name: 'c',
        botId: bot.id,
        concurrency: 1,
        maxAttempts: 1,
        retryBackoffMs: 0,
        callerId: null,
      });
      assert.equal(campaign.status, 'draft');
      await rejectsWith(store.pauseCampaign(tenantId, campaign.id, T0), 'CAMPAIGN_INVALID_STATE');
      await rejectsWith(store.startCampaign(tenantId, campaign.id, T0), 'CAMPAIGN_HAS_NO_CONTACTS');
      await store.importContacts(tenantId, campaign.id, [contact('+15550000001')], T0);
      assert.equal((await store.startCampaign(tenantId, campaign.id, T0)).status, 'running');
      assert.equal((await store.pauseCampaign(tenantId, campaign.id, T0)).status, 'paused');
      assert.equal((await store.startCampaign(tenantId, campaign.id, T0)).status, 'running');
      await rejectsWith(store.startCampaign(otherTenantId, campaign.id, T0), 'CAMPAIGN_NOT_FOUND');
    });

    test('claim respects concurrency and due time', async () => {
      const { campaign } = await runningCampaign(
        ['+15550000001', '+15550000002', '+15550000003'],
        2,
      );
      assert.deepEqual(await store.claimAttempts(10, '2025-12-31T00:00:00.000Z'), []);
      const first = await store.claimAttempts(10, T1);
      assert.equal(first.length, 2);
      assert.equal(first[0]?.to, '+15550000001');
      assert.equal(first[0]?.attempt, 1);
      assert.equal(first[0]?.campaignId, campaign.id);
      assert.deepEqual(await store.claimAttempts(10, T1), []);
      const call = await store.getCallById(first[0]?.callId ?? '');
      assert.equal(call?.status, 'queued');
    });

    test('claim serves oldest campaign first', async () => {
      const older = await runningCampaign(['+15550000001', '+15550000002']);
      const newer = await runningCampaign(['+15550000003']);
      const claimed = await store.claimAttempts(2, T1);
      assert.deepEqual(
        claimed.map((a) => a.campaignId),
        [older.campaign.id, older.campaign.id],
      );
      const rest = await store.claimAttempts(5, T1);
      assert.deepEqual(
        rest.map((a) => a.campaignId),
        [newer.campaign.id],
      );
    });

    test('claim skips paused campaigns', async () => {
      const { campaign } = await runningCampaign(['+15550000001']);
      await store.pauseCampaign(tenantId, campaign.id, T0);
      assert.deepEqual(await store.claimAttempts(5, T1), []);
    });

    test('status never moves back from final', async () => {
      await runningCampaign(['+15550000001']);
      const [claim] = await store.claimAttempts(1, T1);
      const callId = claim?.callId ?? '';
      const ringing = await store.applyCallStatus(callId, {
        status: 'ringing',
        at: T1,
        carrierCallId: 'c-1',
      });
      assert.equal(ringing.statusChanged, true);
      const back = await store.applyCallStatus(callId, { status: 'dialling', at: T1 });
      assert.equal(back.statusChanged, false);
      assert.equal(back.call.status, 'ringing');
      await store.applyCallStatus(callId, { status: 'in-progress', at: T1 });
      await store.applyCallStatus(callId, { status: 'completed', at: T2 });
      const late = await store.applyCallStatus(callId, { status: 'in-progress', at: T2 });
      assert.equal(late.statusChanged, false);
      assert.equal(late.call.status, 'completed');
      assert.equal(late.call.carrierCallId, 'c-1');
      assert.equal(late.call.answeredAt, T1);
      assert.equal(late.call.endedAt, T2);
      const detail = await store.getCall(tenantId, callId);
      assert.deepEqual(
        detail?.history.map((h) => h.status),
        ['queued', 'ringing', 'in-progress', 'completed'],
      );
      await rejectsWith(
        store.applyCallStatus('call_missing', { status: 'ringing', at: T1 }),
        'CALL_NOT_FOUND',
      );
    });

    test('retry decision returns contact to pending', async () => {
      await runningCampaign(['+15550000001']);
      const [claim] = await store.claimAttempts(1, T1);
      const callId = claim?.callId ?? '';
      const outcome = await store.applyCallStatus(callId, {
        status: 'busy',
        at: T1,
        contact: { decision: 'retry', nextAttemptAt: T2 },
      });
      assert.equal(outcome.contact?.state, 'pending');
      assert.equal(outcome.contact?.nextAttemptAt, T2);
      assert.equal(outcome.campaignCompleted, false);
      assert.deepEqual(await store.claimAttempts(1, T1), []);
      const [second] = await store.claimAttempts(1, T2);
      assert.equal(second?.attempt, 2);
      assert.equal(second?.contactId, claim?.contactId);
    });

    test('last final contact completes campaign', async () => {
      const { campaign } = await runningCampaign(['+15550000001', '+15550000002']);
      const claims = await store.claimAttempts(5, T1);
      assert.equal(claims.length, 2);
      const first = await store.applyCallStatus(claims[0]?.callId ?? '', {
        status: 'completed',
        at: T2,
        contact: { decision: 'done' },
      });
      assert.equal(first.campaignCompleted, false);
      const second = await store.applyCallStatus(claims[1]?.callId ?? '', {
        status: 'failed',
        at: T2,
        contact: { decision: 'failed' },
      });
      assert.equal(second.campaignCompleted, true);
      assert.equal((await store.getCampaign(tenantId, campaign.id))?.status, 'completed');
      const repeat = await store.applyCallStatus(claims[1]?.callId ?? '', {
        status: 'failed',
        at: T2,
        contact: { decision: 'retry', nextAttemptAt: T2 },
      });
      assert.equal(repeat.statusChanged, false);
      assert.equal(repeat.contact?.state, 'failed');
      const progress = await store.getCampaignProgress(campaign.id);
      assert.equal(progress.total, 2);
      assert.equal(progress.done, 1);
      assert.equal(progress.failed, 1);
      assert.deepEqual(progress.byCallStatus, { completed: 1, failed: 1 });
    });

    test('requeue does not count attempt', async () => {
      await runningCampaign(['+15550000001']);
      const [claim] = await store.claimAttempts(1, T1);
      const callId = claim?.callId ?? '';
      const contactAfter = await store.requeueCall(callId, T1);
      assert.equal(contactAfter?.state, 'pending');
      assert.equal(contactAfter?.attempts, 0);
      assert.equal(await store.getCallById(callId), null);
      const [again] = await store.claimAttempts(1, T1);
      assert.equal(again?.attempt, 1);
      await store.applyCallStatus(again?.callId ?? '', { status: 'dialling', at: T1 });
      await rejectsWith(store.requeueCall(again?.callId ?? '', T1), 'CALL_NOT_REQUEUEABLE');
      await rejectsWith(store.requeueCall(callId, T1), 'CALL_NOT_FOUND');
    });

    test('result is stored once per call', async () => {
      const { bot } = await runningCampaign(['+15550000001']);
      const [claim] = await store.claimAttempts(1, T1);
      const callId = claim?.callId ?? '';
      await store.applyCallStatus(callId, { status: 'completed', at: T2 });

      const result = {
        callId,
        botId: bot.id,
        workerId: 'w1',
        status: 'aborted' as const,
        outcome: 'error',
        hangupBy: 'system' as const,
        startedAt: T1,
        endedAt: T2,
        durationMs: 60_000,
        transcript: [],
        timeline: [],
        recording: null,
        error: 'worker stopped',
      };

      const first = await store.saveCallResult(callId, result, T2);
      assert.equal(first.duplicate, false);
      assert.equal(first.call.status, 'aborted');
      assert.equal(first.call.outcome, 'error');

      const second = await store.saveCallResult(callId, { ...result }, T2);
      assert.equal(second.duplicate, true);
      await rejectsWith(
        store.saveCallResult(callId, { ...result, outcome: 'other' }, T2),
        'CALL_RESULT_CONFLICT',
      );
      await rejectsWith(store.saveCallResult('call_missing', result, T2), 'CALL_NOT_FOUND');
    });

    test('calls list pages and filters', async () => {
      const { campaign } = await runningCampaign(['+15550000001', '+15550000002', '+15550000003']);
      const claims = await store.claimAttempts(5, T1);
      await store.applyCallStatus(claims[0]?.callId ?? '', { status: 'ringing', at: T1 });
      const page1 = await store.listCalls(tenantId, { limit: 2 });
      assert.equal(page1.items.length, 2);
      assert.notEqual(page1.nextCursor, null);
      const page2 = await store.listCalls(tenantId, { limit: 2, cursor: page1.nextCursor ?? '' });
      assert.equal(page2.items.length, 1);
      assert.equal(page2.nextCursor, null);
      const ids = [...page1.items, ...page2.items].map((c) => c.id);
      assert.equal(new Set(ids).size, 3);
      const ringing = await store.listCalls(tenantId, { limit: 10, status: 'ringing' });
      assert.deepEqual(
        ringing.items.map((c) => c.id),
        [claims[0]?.callId],
      );
      const byCampaign = await store.listCalls(tenantId, { limit: 10, campaignId: campaign.id });
      assert.equal(byCampaign.items.length, 3);
      assert.equal((await store.listCalls(otherTenantId, { limit: 10 })).items.length, 0);
      assert.equal(await store.getCall(otherTenantId, claims[0]?.callId ?? ''), null);
      await rejectsWith(store.listCalls(tenantId, { limit: 1, cursor: 'bogus' }), 'INVALID_CURSOR');
    });

    test('recording is attached to call', async () => {
      await runningCampaign(['+15550000001']);
      const [claim] = await store.claimAttempts(1, T1);
      const callId = claim?.callId ?? '';
      const call = await store.setCallRecording(callId, {
        key: 'k/1.wav',
        bytes: 44,
        uploadedAt: T2,
      });
      assert.deepEqual(call.recording, { key: 'k/1.wav', bytes: 44, uploadedAt: T2 });
      await rejectsWith(
        store.setCallRecording('call_missing', { key: 'x', bytes: 1, uploadedAt: T2 }),
        'CALL_NOT_FOUND',
      );
    });

    test('inbound key finds its bot until rotated', async () => {
      const bot = await store.createBot(tenantId, { name: 'line', config: CONFIG });
      assert.equal(bot.inboundKey, null);
      assert.equal(await store.findBotByInboundKey('vik_unknown'), null);

      const keyed = await store.rotateInboundKey(tenantId, bot.id, 'vik_first', T1);
      assert.equal(keyed.inboundKey, 'vik_first');
      assert.equal(keyed.revision, bot.revision);
      assert.equal((await store.findBotByInboundKey('vik_first'))?.id, bot.id);
      assert.equal((await store.getBot(tenantId, bot.id))?.inboundKey, 'vik_first');

      await store.rotateInboundKey(tenantId, bot.id, 'vik_second', T2);
      assert.equal(await store.findBotByInboundKey('vik_first'), null);
      const found = await store.findBotByInboundKey('vik_second');
      assert.equal(found?.id, bot.id);
      assert.equal(found?.tenantId, tenantId);
      await rejectsWith(
        store.rotateInboundKey(otherTenantId, bot.id, 'vik_other', T2),
        'BOT_NOT_FOUND',
      );
      assert.equal((await store.findBotByInboundKey('vik_second'))?.id, bot.id);
    });

    test('inbound call is recorded with direction and caller', async () => {
      const bot = await store.createBot(tenantId, { name: 'line', config: CONFIG });
      const call = await store.createInboundCall({
        id: 'call_inbound_1',
        tenantId,
        botId: bot.id,
        from: '+15550000009',
        to: '+15550000001',
        carrierCallId: 'CA1',
        status: 'in-progress',
        reason: null,
        workerId: 'w1',
        at: T1,
      });
      assert.equal(call.id, 'call_inbound_1');
      assert.equal(call.direction, 'inbound');
      assert.equal(call.from, '+15550000009');
      assert.equal(call.to, '+15550000001');
      assert.equal(call.status, 'in-progress');
      assert.equal(call.answeredAt, T1);
      assert.equal(call.endedAt, null);
      assert.equal(call.campaignId, null);
      assert.equal(call.contactId, null);
      assert.equal(call.carrierCallId, 'CA1');
      assert.equal(call.workerId, 'w1');
      const detail = await store.getCall(tenantId, call.id);
      assert.deepEqual(detail?.history, [{ status: 'in-progress', at: T1, reason: null }]);

      const busy = await store.createInboundCall({
        id: 'call_inbound_2',
        tenantId,
        botId: bot.id,
        from: 'anonymous',
        to: '+15550000001',
        carrierCallId: 'CA2',
        status: 'busy',
        reason: 'no-capacity',
        workerId: null,
        at: T2,
      });
      assert.equal(busy.status, 'busy');
      assert.equal(busy.reason, 'no-capacity');
      assert.equal(busy.answeredAt, null);
      assert.equal(busy.endedAt, T2);

      // A worker's result closes an inbound call as it closes an outbound one.
      const saved = await store.saveCallResult(
        call.id,
        {
          callId: call.id,
          botId: bot.id,
          workerId: 'w1',
          status: 'completed',
          outcome: 'done',
          hangupBy: 'bot',
          startedAt: T1,
          endedAt: T2,
          durationMs: 60_000,
          transcript: [],
          timeline: [],
          recording: null,
          error: null,
        },
        T2,
      );
      assert.equal(saved.call.status, 'completed');
      assert.equal(saved.call.direction, 'inbound');
      assert.equal(saved.call.endedAt, T2);
    });

    test('calls filter by direction', async () => {
      const { bot } = await runningCampaign(['+15550000001']);
      const [claim] = await store.claimAttempts(1, T1);
      const outboundCall = await store.getCallById(claim?.callId ?? '');
      assert.equal(outboundCall?.direction, 'outbound');
      assert.equal(outboundCall?.from, null);

      await store.createInboundCall({
        id: 'call_inbound_3',
        tenantId,
        botId: bot.id,
        from: '+15550000009',
        to: '+15550000002',
        carrierCallId: 'CA3',
        status: 'in-progress',
        reason: null,
        workerId: null,
        at: T1,
      });
      const inbound = await store.listCalls(tenantId, { limit: 10, direction: 'inbound' });
      assert.deepEqual(
        inbound.items.map((c) => c.id),
        ['call_inbound_3'],
      );
      const outbound = await store.listCalls(tenantId, { limit: 10, direction: 'outbound' });
      assert.deepEqual(
        outbound.items.map((c) => c.id),
        [claim?.callId],
      );
      assert.equal((await store.listCalls(tenantId, { limit: 10 })).items.length, 2);

      // Inbound calls are not campaign calls: a restarted dialler does not adopt them.
      const open = await store.listOpenCalls({ limit: 10 });
      assert.deepEqual(
        open.map((c) => c.callId),
        [claim?.callId],
      );
    });

    test('stale inbound calls are closed as abandoned', async () => {
      const bot = await store.createBot(tenantId, {
        name: 'short',
        config: { ...CONFIG, maxCallDurationMs: 5_000 },
      });
      await store.createInboundCall({
        id: 'call_inbound_stale',
        tenantId,
        botId: bot.id,
        from: '+15550000009',
        to: '+15550000001',
        carrierCallId: 'CA4',
        status: 'in-progress',
        reason: null,
        workerId: 'w1',
        at: T0,
      });
      const at = (ms: number): string => new Date(Date.parse(T0) + ms).toISOString();
      // Within the stale time (1 s) plus the bot's limit (5 s), the call stays live.
      assert.deepEqual(await store.closeAbandonedInboundCalls(at(5_500), 1_000), []);
      assert.equal((await store.getCallById('call_inbound_stale'))?.status, 'in-progress');

      const closed = await store.closeAbandonedInboundCalls(at(6_500), 1_000);
      assert.deepEqual(closed, [
        {
          callId: 'call_inbound_stale',
          contactId: null,
          campaignId: null,
          status: 'in-progress',
          contactState: null,
        },
      ]);
      const call = await store.getCall(tenantId, 'call_inbound_stale');
      assert.equal(call?.status, 'failed');
      assert.equal(call?.reason, 'abandoned');
      assert.equal(call?.endedAt, at(6_500));
      assert.deepEqual(call?.history.at(-1), {
        status: 'failed',
        at: at(6_500),
        reason: 'abandoned',
      });
      assert.deepEqual(await store.closeAbandonedInboundCalls(at(60_000), 1_000), []);
    });

    test('claim sweep also closes stale inbound calls', async () => {
      await runningCampaign(['+15550000001']);
      const bot = await store.createBot(tenantId, {
        name: 'short',
        config: { ...CONFIG, maxCallDurationMs: 5_000 },
      });
      await store.createInboundCall({
        id: 'call_inbound_claim',
        tenantId,
        botId: bot.id,
        from: '+15550000009',
        to: '+15550000001',
        carrierCallId: 'CA5',
        status: 'in-progress',
        reason: null,
        workerId: 'w1',
        at: T0,
      });
      const abandoned: string[] = [];
      const claims = await store.claimAttempts(1, T1, {
        attemptStaleMs: 1_000,
        onAbandoned: (calls) => abandoned.push(...calls.map((c) => c.callId)),
      });
      assert.equal(claims.length, 1);
      assert.deepEqual(abandoned, ['call_inbound_claim']);
      assert.equal((await store.getCallById('call_inbound_claim'))?.status, 'failed');
    });

    test('carrier credential is stored per tenant', async () => {
      assert.equal(await store.getCarrierCredential(tenantId, 'twilio'), null);
      await store.setCarrierCredential(tenantId, 'twilio', 'token-one', T1);
      assert.equal(await store.getCarrierCredential(tenantId, 'twilio'), 'token-one');
      assert.equal(await store.getCarrierCredential(otherTenantId, 'twilio'), null);
      await store.setCarrierCredential(tenantId, 'twilio', 'token-two', T2);
      assert.equal(await store.getCarrierCredential(tenantId, 'twilio'), 'token-two');
      await store.setCarrierCredential(tenantId, 'twilio', null, T2);
      assert.equal(await store.getCarrierCredential(tenantId, 'twilio'), null);
    });
  });
}
