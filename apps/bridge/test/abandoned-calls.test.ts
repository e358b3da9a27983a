/**
 * Recovery of call attempts a dialler left behind: `GET /internal/dialler/open-calls` and
 * the claim's sweep that closes silent live calls as abandoned, on SQLite with a pinned
 * clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { loadEnv } from '../src/env.js';
import { createCampaign, json, startTestBridge } from './helpers.js';
import type { TestBridge } from './helpers.js';

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
const STALE_MS = 60_000;

interface OpenCallBody {
  callId: string;
  attempt: number;
  contactId: string;
  campaignId: string;
  to: string;
  status: string;
  carrierCallId: string | null;
  workerId: string | null;
  updatedAt: string;
  campaign: { maxAttempts: number; retryBackoffMs: number };
}

interface CallBody {
  status: string;
  reason: string | null;
  endedAt: string | null;
  history: Array<{ status: string; at: string; reason: string | null }>;
}

interface ContactBody {
  id: string;
  state: string;
  attempts: number;
  nextAttemptAt: string;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

describe('abandoned call attempts', () => {
  let t: TestBridge;
  let clock = T0;

  before(async () => {
    t = await startTestBridge({ now: () => new Date(clock), attemptStaleMs: STALE_MS });
  });

  after(async () => {
    await t.close();
  });

  async function claim(limit = 10): Promise<Array<{ callId: string; contactId: string }>> {
    const response = await t.internal('POST', '/internal/dialler/claim', { limit });
    assert.equal(response.status, 200);
    return ((await response.json()) as { attempts: Array<{ callId: string; contactId: string }> })
      .attempts;
  }

  async function report(callId: string, status: string, at: number): Promise<void> {
    const body: Record<string, unknown> = { status, at: iso(at), workerId: 'worker-1' };
    if (status !== 'dialling') body.carrierCallId = `carrier-${callId}`;
    const response = await t.internal('POST', `/internal/calls/${callId}/status`, body);
    assert.equal(response.status, 200, await response.clone().text());
  }

  async function openCalls(query = ''): Promise<OpenCallBody[]> {
    const response = await t.internal('GET', `/internal/dialler/open-calls${query}`);
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { calls: OpenCallBody[] }).calls;
  }

  async function call(callId: string): Promise<CallBody> {
    const response = await t.api('GET', `/v1/calls/${callId}`);
    assert.equal(response.status, 200);
    return (await response.json()) as CallBody;
  }

  async function contacts(campaignId: string): Promise<Map<string, ContactBody>> {
    const response = await t.api('GET', `/v1/campaigns/${campaignId}/contacts`);
    const body = (await response.json()) as { items: ContactBody[] };
    return new Map(body.items.map((contact) => [contact.id, contact]));
  }

  test('open-calls lists live calls only', async () => {
    const csv = 'phone\n+919811000001\n+919811000002\n+919811000003\n';
    const { campaignId } = await createCampaign(t, csv, {
      concurrency: 3,
      maxAttempts: 4,
      retryBackoffMs: 2_000,
    });
    await t.api('POST', `/v1/campaigns/${campaignId}/start`);
    const [queued, ringing, ended] = await claim();
    assert.ok(queued !== undefined);
    assert.ok(ringing !== undefined);
    assert.ok(ended !== undefined);
    await report(ringing.callId, 'dialling', T0);
    await report(ringing.callId, 'ringing', T0 + 1_000);
    await report(ended.callId, 'failed', T0 + 1_000);

    const listed = await openCalls();
    assert.deepEqual(
      listed.map((open) => open.callId).sort(),
      [queued.callId, ringing.callId].sort(),
    );
    const ringingCall = listed.find((open) => open.callId === ringing.callId);
    assert.equal(ringingCall?.status, 'ringing');
    assert.equal(ringingCall?.carrierCallId, `carrier-${ringing.callId}`);
    assert.equal(ringingCall?.workerId, 'worker-1');
    assert.equal(ringingCall?.updatedAt, iso(T0 + 1_000));
    assert.equal(ringingCall?.contactId, ringing.contactId);
    assert.equal(ringingCall?.campaignId, campaignId);
    assert.equal(ringingCall?.attempt, 1);
    assert.equal(ringingCall?.to, '+919811000002');
    assert.deepEqual(ringingCall?.campaign, {
      maxAttempts: 4,
      retryBackoffMs: 2_000,
      callerId: null,
    });
    const queuedCall = listed.find((open) => open.callId === queued.callId);
    assert.equal(queuedCall?.status, 'queued');
    assert.equal(queuedCall?.carrierCallId, null);

    const onlyRinging = await openCalls(`?callId=${encodeURIComponent(ringing.callId)}`);
    assert.deepEqual(
      onlyRinging.map((open) => open.callId),
      [ringing.callId],
    );
    assert.deepEqual(await openCalls(`?callId=${encodeURIComponent(ended.callId)}`), []);
    assert.equal((await openCalls('?limit=1')).length, 1);

    const unauthorised = await fetch(`${t.url}/internal/dialler/open-calls`);
    assert.equal(unauthorised.status, 401);
    const invalid = await t.internal('GET', '/internal/dialler/open-calls?limit=0');
    assert.equal(invalid.status, 400);

    // Finish them, so the sweep test starts from no live calls.
    await report(queued.callId, 'failed', T0 + 1_000);
    await report(ringing.callId, 'failed', T0 + 1_000);
    await t.api('POST', `/v1/campaigns/${campaignId}/pause`);
    assert.deepEqual(await openCalls(), []);
  });

  test('claim closes silent calls as abandoned', async () => {
    clock = T0;
    const { campaignId } = await createCampaign(t, 'phone\n+919822000001\n+919822000002\n', {
      concurrency: 2,
      maxAttempts: 2,
      retryBackoffMs: 1_000,
    });
    await t.api('POST', `/v1/campaigns/${campaignId}/start`);
    const [ringing, answered] = await claim();
    assert.ok(ringing !== undefined);
    assert.ok(answered !== undefined);
    await report(ringing.callId, 'dialling', T0);
    await report(ringing.callId, 'ringing', T0);
    await report(answered.callId, 'dialling', T0);
    await report(answered.callId, 'in-progress', T0);

    // Within the stale window nothing changes and the campaign stays full.
    clock = T0 + STALE_MS - 1_000;
    assert.deepEqual(await claim(), []);
    assert.equal((await call(ringing.callId)).status, 'ringing');

    // Past it the ringing call is closed and its contact waits for the backoff.
    clock = T0 + STALE_MS + 1_000;
    assert.deepEqual(await claim(), []);
    const closed = await call(ringing.callId);
    assert.equal(closed.status, 'failed');
    assert.equal(closed.reason, 'abandoned');
    assert.equal(closed.endedAt, iso(clock));
    assert.deepEqual(closed.history.at(-1), {
      status: 'failed',
      at: iso(clock),
      reason: 'abandoned',
    });
    let byId = await contacts(campaignId);
    assert.equal(byId.get(ringing.contactId)?.state, 'pending');
    assert.equal(byId.get(ringing.contactId)?.nextAttemptAt, iso(clock + 1_000));
    // The answered call has the bot's maxCallDurationMs (600 s by default) on top.
    assert.equal((await call(answered.callId)).status, 'in-progress');
    assert.equal(byId.get(answered.contactId)?.state, 'dialling');

    // The retry is claimed once due; left queued, it is closed and the contact fails.
    clock += 2_000;
    const [retry] = await claim();
    assert.equal(retry?.contactId, ringing.contactId);
    clock += STALE_MS + 1_000;
    assert.deepEqual(await claim(), []);
    assert.equal((await call(retry?.callId ?? '')).reason, 'abandoned');
    byId = await contacts(campaignId);
    assert.equal(byId.get(ringing.contactId)?.state, 'failed');
    assert.equal(byId.get(ringing.contactId)?.attempts, 2);

    // An in-progress call is closed only after its bot's maximum call duration as well.
    clock = T0 + 600_000 + STALE_MS - 1_000;
    assert.deepEqual(await claim(), []);
    assert.equal((await call(answered.callId)).status, 'in-progress');
    clock = T0 + 600_000 + STALE_MS + 1_000;
    assert.deepEqual(await claim(), []);
    assert.equal((await call(answered.callId)).reason, 'abandoned');
    assert.equal((await contacts(campaignId)).get(answered.contactId)?.state, 'pending');

    // Its retry, abandoned too, exhausts the attempts and completes the campaign.
    clock += 2_000;
    const [last] = await claim();
    assert.equal(last?.contactId, answered.contactId);
    clock += STALE_MS + 1_000;
    assert.deepEqual(await claim(), []);
    assert.equal((await contacts(campaignId)).get(answered.contactId)?.state, 'failed');
    const campaign = await json(await t.api('GET', `/v1/campaigns/${campaignId}`));
    assert.equal(campaign.status, 'completed');
  });

  test('claim leaves calls with recent updates alone', async () => {
    clock = T0 + 10 * 3_600_000;
    const { campaignId } = await createCampaign(t, 'phone\n+919833000001\n', {
      concurrency: 1,
      maxAttempts: 1,
    });
    await t.api('POST', `/v1/campaigns/${campaignId}/start`);
    const [attempt] = await claim();
    assert.ok(attempt !== undefined);
    // Each status update restarts the stale window.
    for (const status of ['dialling', 'ringing'] as const) {
      clock += STALE_MS - 1_000;
      assert.deepEqual(await claim(), []);
      await report(attempt.callId, status, clock);
    }
    clock += STALE_MS - 1_000;
    assert.deepEqual(await claim(), []);
    assert.equal((await call(attempt.callId)).status, 'ringing');
    assert.equal((await contacts(campaignId)).get(attempt.contactId)?.state, 'dialling');
  });
});

test('an empty BRIDGE_PORT means the default port', () => {
  const env = loadEnv({ BRIDGE_INTERNAL_TOKEN: 'internal-token-for-tests', BRIDGE_PORT: '' });
  assert.equal(env.port, 7700);
});

describe('BRIDGE_ATTEMPT_STALE_MS', () => {
  const base = { BRIDGE_INTERNAL_TOKEN: 'internal-token-for-tests' };

  test('defaults to 5 minutes', () => {
    assert.equal(loadEnv(base).attemptStaleMs, 300_000);
  });

  test('accepts milliseconds', () => {
    assert.equal(loadEnv({ ...base, BRIDGE_ATTEMPT_STALE_MS: '90000' }).attemptStaleMs, 90_000);
  });

  test('rejects values under one second', () => {
    assert.throws(
      () => loadEnv({ ...base, BRIDGE_ATTEMPT_STALE_MS: '10' }),
      /BRIDGE_ATTEMPT_STALE_MS/,
    );
  });
});
