import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { createCampaign, errorCode, json, startTestBridge } from './helpers.js';
import type { TestBridge } from './helpers.js';

interface Attempt {
  callId: string;
  attempt: number;
  campaignId: string;
  contactId: string;
  to: string;
  scenario: string | null;
  variables: Record<string, string>;
  campaign: { maxAttempts: number; retryBackoffMs: number; callerId: string | null };
}

interface StatusBody {
  call: { status: string; carrierCallId: string | null; workerId: string | null };
  statusChanged: boolean;
  contact: { state: string; nextAttemptAt: string; attempts: number } | null;
  campaignCompleted: boolean;
}

describe('dialler routes', () => {
  let t: TestBridge;

  before(async () => {
    t = await startTestBridge();
  });

  after(async () => {
    await t.close();
  });

  async function claim(limit: number): Promise<Attempt[]> {
    const response = await t.internal('POST', '/internal/dialler/claim', { limit });
    assert.equal(response.status, 200);
    return ((await response.json()) as { attempts: Attempt[] }).attempts;
  }

  async function postStatus(callId: string, body: Record<string, unknown>): Promise<StatusBody> {
    const response = await t.internal('POST', `/internal/calls/${callId}/status`, body);
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as StatusBody;
  }

  async function drain(): Promise<void> {
    // Finishes whatever earlier tests left dialling so each test starts from no live calls.
    for (const attempt of await claim(1000)) {
      await postStatus(attempt.callId, {
        status: 'failed',
        at: new Date().toISOString(),
        contact: { decision: 'failed' },
      });
    }
  }

  test('claim honours campaign concurrency', async () => {
    await drain();
    const csv = 'phone,scenario,plan\n+919800000001,busy,gold\n+919800000002,,\n+919800000003,,\n';
    const { campaignId } = await createCampaign(t, csv, {
      concurrency: 2,
      callerId: '+919800009999',
    });
    await t.api('POST', `/v1/campaigns/${campaignId}/start`);

    const first = await claim(10);
    assert.equal(first.length, 2);
    assert.equal(first[0]?.to, '+919800000001');
    assert.equal(first[0]?.scenario, 'busy');
    assert.deepEqual(first[0]?.variables, { plan: 'gold' });
    assert.deepEqual(first[0]?.campaign, {
      maxAttempts: 3,
      retryBackoffMs: 60_000,
      callerId: '+919800009999',
    });
    assert.equal((await claim(10)).length, 0);

    await postStatus(first[0]?.callId ?? '', {
      status: 'completed',
      at: new Date().toISOString(),
      contact: { decision: 'done' },
    });
    const next = await claim(10);
    assert.deepEqual(
      next.map((a) => a.to),
      ['+919800000003'],
    );
  });

  test('claim ignores draft and paused campaigns', async () => {
    await drain();
    const { campaignId } = await createCampaign(t, 'phone\n+919800000001\n');
    assert.equal((await claim(10)).length, 0);
    await t.api('POST', `/v1/campaigns/${campaignId}/start`);
    await t.api('POST', `/v1/campaigns/${campaignId}/pause`);
    assert.equal((await claim(10)).length, 0);
  });

  test('claim validates limit', async () => {
    const response = await t.internal('POST', '/internal/dialler/claim', { limit: 0 });
    assert.equal(response.status, 400);
    assert.equal(await errorCode(response), 'VALIDATION_FAILED');
  });

  test('status lifecycle and retry', async () => {
    await drain();
    const { campaignId } = await createCampaign(t, 'phone\n+919800000001\n', {
      retryBackoffMs: 1000,
    });
    await t.api('POST', `/v1/campaigns/${campaignId}/start`);
    const [attempt] = await claim(1);
    const callId = attempt?.callId ?? '';
    const at = '2026-01-01T10:00:00.000Z';

    const dialling = await postStatus(callId, { status: 'dialling', at, workerId: 'worker-7' });
    assert.equal(dialling.statusChanged, true);
    assert.equal(dialling.call.workerId, 'worker-7');
    const ringing = await postStatus(callId, { status: 'ringing', at, carrierCallId: 'sim-1' });
    assert.equal(ringing.call.carrierCallId, 'sim-1');
    const repeated = await postStatus(callId, { status: 'ringing', at });
    assert.equal(repeated.statusChanged, false);

    // No nextAttemptAt: the default is `at` plus retryBackoffMs * 2^(attempt-1).
    const busy = await postStatus(callId, { status: 'busy', at, contact: { decision: 'retry' } });
    assert.equal(busy.call.status, 'busy');
    assert.equal(busy.contact?.state, 'pending');
    assert.equal(busy.contact?.nextAttemptAt, '2026-01-01T10:00:01.000Z');
    assert.equal(busy.campaignCompleted, false);

    const revived = await postStatus(callId, { status: 'in-progress', at });
    assert.equal(revived.statusChanged, false);
    assert.equal(revived.call.status, 'busy');

    const [retry] = await claim(1);
    assert.equal(retry?.attempt, 2);
    assert.equal(retry?.contactId, attempt?.contactId);
    const done = await postStatus(retry?.callId ?? '', {
      status: 'no-answer',
      at,
      contact: { decision: 'failed' },
    });
    assert.equal(done.contact?.state, 'failed');
    assert.equal(done.campaignCompleted, true);

    const detail = (await (await t.api('GET', `/v1/campaigns/${campaignId}`)).json()) as {
      status: string;
      progress: { failed: number; byCallStatus: Record<string, number> };
    };
    assert.equal(detail.status, 'completed');
    assert.equal(detail.progress.failed, 1);
    assert.deepEqual(detail.progress.byCallStatus, { busy: 1, 'no-answer': 1 });
  });

  test('decision with live status is 400', async () => {
    const response = await t.internal('POST', '/internal/calls/call_any/status', {
      status: 'ringing',
      at: new Date().toISOString(),
      contact: { decision: 'done' },
    });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: { details: Array<{ path: string }> } };
    assert.equal(body.error.details[0]?.path, 'contact');
  });

  test('status for unknown call is 404', async () => {
    const response = await t.internal('POST', '/internal/calls/call_missing/status', {
      status: 'ringing',
      at: new Date().toISOString(),
    });
    assert.equal(response.status, 404);
    assert.equal(await errorCode(response), 'CALL_NOT_FOUND');
  });

  test('requeue returns contact to pending', async () => {
    await drain();
    const { campaignId } = await createCampaign(t, 'phone\n+919800000001\n');
    await t.api('POST', `/v1/campaigns/${campaignId}/start`);
    const [attempt] = await claim(1);
    const response = await t.internal('POST', `/internal/calls/${attempt?.callId ?? ''}/requeue`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { contact: { state: string; attempts: number } };
    assert.equal(body.contact.state, 'pending');
    assert.equal(body.contact.attempts, 0);
    const callRead = await t.api('GET', `/v1/calls/${attempt?.callId ?? ''}`);
    assert.equal(callRead.status, 404);

    const [again] = await claim(1);
    assert.equal(again?.attempt, 1);
    await postStatus(again?.callId ?? '', { status: 'dialling', at: new Date().toISOString() });
    const placed = await t.internal('POST', `/internal/calls/${again?.callId ?? ''}/requeue`);
    assert.equal(placed.status, 409);
    assert.equal(await errorCode(placed), 'CALL_NOT_REQUEUEABLE');
    const progress = (await json(await t.api('GET', `/v1/campaigns/${campaignId}`)))
      .progress as Record<string, number>;
    assert.equal(progress.dialling, 1);
  });
});
