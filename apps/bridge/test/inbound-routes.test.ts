/**
 * The inbound webhook on a real voxbridge with a real SQLite registry and a stand-in worker:
 * the markup per carrier, the call record, the busy response without capacity, unknown keys,
 * Twilio signatures and invalid webhooks.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';

import { openRegistry, type CapacityRegistry } from '@voxfleet/registry';

import { loadEnv } from '../src/env.js';
import { computeTwilioSignature } from '../src/inbound/twilio-signature.js';
import { errorCode, json, SIMPLE_BOT, startTestBridge, type TestBridge } from './helpers.js';
import { postForm, StandInWorker } from './inbound-support.js';

const TO = '+15550100000';
const FROM = '+15550100001';

interface InboundUrls {
  twilio: string;
  plivo: string;
  telnyx: string;
  exotel: string;
}

interface CallView {
  id: string;
  direction: string;
  from: string | null;
  to: string;
  status: string;
  reason: string | null;
  answeredAt: string | null;
  endedAt: string | null;
  workerId: string | null;
  carrierCallId: string | null;
  campaignId: string | null;
  contactId: string | null;
}

let t: TestBridge;
let registry: CapacityRegistry;
let worker: StandInWorker;
let botId: string;
let urls: InboundUrls;
let registryDir: string;

async function inboundCalls(): Promise<CallView[]> {
  const page = (await json(await t.api('GET', '/v1/calls?direction=inbound'))) as {
    items: CallView[];
  };
  return page.items;
}

async function callByCarrierId(carrierCallId: string): Promise<CallView> {
  const call = (await inboundCalls()).find((item) => item.carrierCallId === carrierCallId);
  assert.ok(call, `no inbound call with carrier id ${carrierCallId}`);
  return call;
}

describe('inbound webhook', () => {
  before(async () => {
    registryDir = await mkdtemp(join(tmpdir(), 'voxbridge-inbound-'));
    const registryUrl = `sqlite:${join(registryDir, 'registry.db')}`;
    t = await startTestBridge({ registryUrl, inbound: { streamTimeoutMs: 20_000 } });
    registry = await openRegistry(registryUrl);
    worker = new StandInWorker(registry, 'w1');
    await worker.start();
    const bot = await json(await t.api('POST', '/v1/bots', SIMPLE_BOT));
    botId = String(bot.id);
    assert.equal(bot.inboundUrl, null);
    const rotated = await json(await t.api('POST', `/v1/bots/${botId}/inbound-key`));
    urls = rotated.inboundUrl as InboundUrls;
  });

  after(async () => {
    await worker?.stop();
    await registry?.close();
    await t?.close();
    await rm(registryDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    // Each test starts with the slot idle.
    await worker.releaseLast();
    worker.rejectAttach = false;
  });

  test('bot detail shows one inbound URL per carrier', async () => {
    const detail = await json(await t.api('GET', `/v1/bots/${botId}`));
    const shown = detail.inboundUrl as InboundUrls;
    assert.deepEqual(shown, urls);
    for (const provider of ['twilio', 'plivo', 'telnyx', 'exotel'] as const) {
      assert.match(
        shown[provider],
        new RegExp(`^${t.url}/inbound/${provider}/vik_[A-Za-z0-9_-]{32}$`),
      );
    }
  });

  test('twilio webhook returns connect stream', async () => {
    const response = await postForm(urls.twilio, { CallSid: 'CAtwilio1', From: FROM, To: TO });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/xml/);
    const twiml = await response.text();
    const attach = worker.attached.at(-1);
    assert.ok(attach);
    assert.match(twiml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Response><Connect><Stream /);
    assert.match(twiml, new RegExp(`<Stream url="ws://127\\.0\\.0\\.1:\\d+/ws/${botId}">`));
    assert.ok(twiml.includes(`<Parameter name="token" value="${attach.token}"/>`), twiml);
    assert.ok(twiml.includes(`<Parameter name="callId" value="${attach.callId}"/>`), twiml);
    assert.equal(attach.to, TO);
    assert.equal(attach.streamTimeoutMs, 20_000);

    const call = await callByCarrierId('CAtwilio1');
    assert.equal(call.id, attach.callId);
    assert.equal(call.direction, 'inbound');
    assert.equal(call.status, 'in-progress');
    assert.equal(call.from, FROM);
    assert.equal(call.to, TO);
    assert.equal(call.workerId, 'w1');
    assert.equal(call.campaignId, null);
    assert.equal(call.contactId, null);
    assert.notEqual(call.answeredAt, null);
    assert.equal(call.endedAt, null);

    const slot = (await registry.list()).find((view) => view.workerId === 'w1');
    assert.equal(slot?.state, 'busy');
    assert.equal(slot?.reservation?.callId, call.id);
    assert.match(slot?.reservation?.tenantId ?? '', /^ten_/);
  });

  test('telnyx webhook returns rtp stream', async () => {
    const response = await postForm(urls.telnyx, { CallSid: 'v3:telnyx1', From: FROM, To: TO });
    assert.equal(response.status, 200);
    const texml = await response.text();
    const attach = worker.attached.at(-1);
    assert.ok(attach);
    assert.match(
      texml,
      /<Connect><Stream url="ws:[^"]+" track="inbound_track" bidirectionalMode="rtp" bidirectionalCodec="PCMU"\/><\/Connect>/,
    );
    assert.ok(texml.includes(`token=${attach.token}`), texml);
    assert.ok(texml.includes(`callId=${attach.callId}`), texml);
    assert.equal((await callByCarrierId('v3:telnyx1')).status, 'in-progress');
  });

  test('plivo webhook returns extra headers', async () => {
    // Plivo sends numbers without the leading plus.
    const response = await postForm(urls.plivo, {
      CallUUID: 'c0ffee00-0000-4000-8000-000000000001',
      From: FROM.slice(1),
      To: TO.slice(1),
    });
    assert.equal(response.status, 200);
    const xml = await response.text();
    const attach = worker.attached.at(-1);
    assert.ok(attach);
    assert.match(
      xml,
      /<Stream bidirectional="true" keepCallAlive="true" contentType="audio\/x-mulaw;rate=8000" extraHeaders="[^"]+">ws:\/\/[^<]+<\/Stream>/,
    );
    assert.ok(xml.includes(`extraHeaders="callId=${attach.callId},token=${attach.token}"`), xml);
    assert.ok(xml.includes(`?callId=${attach.callId}&amp;token=${attach.token}</Stream>`), xml);
    const call = await callByCarrierId('c0ffee00-0000-4000-8000-000000000001');
    assert.equal(call.from, FROM);
    assert.equal(call.to, TO);
  });

  test('exotel url returns json stream url', async () => {
    const query = new URLSearchParams({ CallSid: 'exotel1', CallFrom: FROM, CallTo: TO });
    const response = await fetch(`${urls.exotel}?${query.toString()}`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { url: string };
    const attach = worker.attached.at(-1);
    assert.ok(attach);
    const streamUrl = new URL(body.url);
    assert.equal(streamUrl.searchParams.get('token'), attach.token);
    assert.equal(streamUrl.pathname, `/ws/${botId}`);
    assert.equal((await callByCarrierId('exotel1')).direction, 'inbound');
  });

  test('no free slot returns busy', async () => {
    // The first call takes the only slot.
    const before = worker.attached.length;
    const first = await postForm(urls.twilio, { CallSid: 'CAfirst', From: FROM, To: TO });
    assert.equal(first.status, 200);
    const busy = await postForm(urls.twilio, { CallSid: 'CAbusy', From: FROM, To: TO });
    assert.equal(busy.status, 200);
    const twiml = await busy.text();
    assert.match(
      twiml,
      /<Response><Say>All lines are busy\. Please call again later\.<\/Say><Hangup\/><\/Response>/,
    );
    assert.equal(worker.attached.length, before + 1);

    const call = await callByCarrierId('CAbusy');
    assert.equal(call.status, 'busy');
    assert.equal(call.reason, 'no-capacity');
    assert.equal(call.answeredAt, null);
    assert.notEqual(call.endedAt, null);

    const plivoBusy = await postForm(urls.plivo, {
      CallUUID: 'plivo-busy',
      From: '15550100001',
      To: '15550100000',
    });
    assert.match(
      await plivoBusy.text(),
      /<Speak>All lines are busy\. Please call again later\.<\/Speak><Hangup reason="busy"\/>/,
    );
    const exotelBusy = await fetch(
      `${urls.exotel}?CallSid=exotel-busy&CallFrom=${encodeURIComponent(FROM)}&CallTo=${encodeURIComponent(TO)}`,
    );
    assert.equal(exotelBusy.status, 503);
  });

  test('repeated webhook gets first response', async () => {
    // A carrier retry and a replayed request carry the same CallSid; they arrive at once here.
    const before = worker.attached.length;
    const fields = { CallSid: 'CArepeat1', From: FROM, To: TO };
    const responses = await Promise.all([
      postForm(urls.twilio, fields),
      postForm(urls.twilio, fields),
    ]);
    const bodies = await Promise.all(responses.map((response) => response.text()));
    const later = await postForm(urls.twilio, fields);
    const laterBody = await later.text();

    assert.equal(worker.attached.length, before + 1);
    assert.match(bodies[0] ?? '', /<Connect><Stream /);
    assert.equal(bodies[1], bodies[0]);
    assert.equal(laterBody, bodies[0]);
    const calls = (await inboundCalls()).filter((call) => call.carrierCallId === 'CArepeat1');
    assert.equal(calls.length, 1);
  });

  test('rejected attach returns busy', async () => {
    worker.rejectAttach = true;
    const response = await postForm(urls.twilio, { CallSid: 'CArejected', From: FROM, To: TO });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /<Hangup\/>/);
    const call = await callByCarrierId('CArejected');
    assert.equal(call.status, 'busy');
    assert.equal(call.reason, 'attach-failed');
    // The rejected reservation went back, so the slot is idle for the next call.
    const slot = (await registry.list()).find((view) => view.workerId === 'w1');
    assert.equal(slot?.state, 'idle');
  });

  test('unknown inbound key returns 404', async () => {
    const response = await postForm(`${t.url}/inbound/twilio/vik_not-a-real-key-at-all`, {
      CallSid: 'CAunknown',
      From: FROM,
      To: TO,
    });
    assert.equal(response.status, 404);
    assert.equal(await errorCode(response), 'INBOUND_KEY_NOT_FOUND');
  });

  test('rotated inbound key retires the old url', async () => {
    const bot = await json(await t.api('POST', '/v1/bots', { ...SIMPLE_BOT, name: 'rotating' }));
    const first = (await json(await t.api('POST', `/v1/bots/${String(bot.id)}/inbound-key`)))
      .inboundUrl as InboundUrls;
    const second = (await json(await t.api('POST', `/v1/bots/${String(bot.id)}/inbound-key`)))
      .inboundUrl as InboundUrls;
    assert.notEqual(first.twilio, second.twilio);
    const old = await postForm(first.twilio, { CallSid: 'CAold', From: FROM, To: TO });
    assert.equal(old.status, 404);
    const other = await t.api('POST', '/v1/bots/bot_missing/inbound-key');
    assert.equal(other.status, 404);
    assert.equal(await errorCode(other), 'BOT_NOT_FOUND');
  });

  test('invalid webhook fields return 400', async () => {
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      [urls.twilio, { From: FROM, To: TO }, /CallSid is required/],
      [urls.twilio, { CallSid: 'CAx', From: FROM }, /To is required/],
      [
        urls.twilio,
        { CallSid: 'CAx', From: FROM, To: 'sip:line@example.com' },
        /To must be the dialled number in E\.164 form/,
      ],
      [urls.plivo, { CallUUID: 'p', From: '15550100001', To: '05550100000' }, /To must be/],
      [urls.twilio, { CallSid: 'CAx', From: 'x'.repeat(300), To: TO }, /From must be at most 256/],
    ];
    for (const [url, fields, message] of cases) {
      const response = await postForm(url, fields);
      assert.equal(response.status, 400, JSON.stringify(fields));
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'INBOUND_INVALID_REQUEST');
      assert.match(body.error.message, message);
    }
    const key = urls.twilio.split('/').at(-1) ?? '';
    const badProvider = await postForm(`${t.url}/inbound/vonage/${key}`, {
      CallSid: 'x',
      From: FROM,
      To: TO,
    });
    assert.equal(badProvider.status, 400);
    assert.equal(await errorCode(badProvider), 'VALIDATION_FAILED');
    const json = await fetch(urls.twilio, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ CallSid: 1 }),
    });
    assert.equal(json.status, 400);
    const text = await fetch(urls.twilio, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'CallSid=x',
    });
    assert.equal(text.status, 400);
  });

  test('twilio signature checked once stored', async () => {
    const listed = await json(await t.api('GET', '/v1/carrier-credentials'));
    assert.deepEqual(listed.items, [{ provider: 'twilio', configured: false }]);
    const authToken = 'twilio-auth-token-for-tests';
    const stored = await t.api('PUT', '/v1/carrier-credentials/twilio', { authToken });
    assert.deepEqual(await json(stored), { provider: 'twilio', configured: true });

    const fields = { CallSid: 'CAsigned', From: FROM, To: TO, CallStatus: 'ringing' };
    const missing = await postForm(urls.twilio, fields);
    assert.equal(missing.status, 403);
    assert.equal(await errorCode(missing), 'INBOUND_SIGNATURE_INVALID');
    const wrong = await postForm(urls.twilio, fields, {
      'x-twilio-signature': computeTwilioSignature('another-token', urls.twilio, fields),
    });
    assert.equal(wrong.status, 403);
    assert.equal(
      (await inboundCalls()).some((call) => call.carrierCallId === 'CAsigned'),
      false,
    );

    const signed = await postForm(urls.twilio, fields, {
      'x-twilio-signature': computeTwilioSignature(authToken, urls.twilio, fields),
    });
    assert.equal(signed.status, 200);
    assert.match(await signed.text(), /<Connect><Stream/);
    // Other carriers' webhooks are not signed with the Twilio token.
    await worker.releaseLast();
    const telnyx = await postForm(urls.telnyx, { CallSid: 'v3:unsigned', From: FROM, To: TO });
    assert.equal(telnyx.status, 200);

    const removed = await t.api('DELETE', '/v1/carrier-credentials/twilio');
    assert.deepEqual(await json(removed), { provider: 'twilio', configured: false });
    await worker.releaseLast();
    const unsigned = await postForm(urls.twilio, { ...fields, CallSid: 'CAunsigned' });
    assert.equal(unsigned.status, 200);
  });

  test('calls filter by direction', async () => {
    const inbound = await inboundCalls();
    assert.ok(inbound.length >= 4);
    assert.ok(inbound.every((call) => call.direction === 'inbound'));
    const outbound = (await json(await t.api('GET', '/v1/calls?direction=outbound'))) as {
      items: CallView[];
    };
    assert.equal(outbound.items.length, 0);
    const invalid = await t.api('GET', '/v1/calls?direction=sideways');
    assert.equal(invalid.status, 400);
  });
});

test('openapi lists the inbound routes', async () => {
  const bridge = await startTestBridge({});
  try {
    const document = (await (await fetch(`${bridge.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const webhook = document.paths['/inbound/{provider}/{inboundKey}'];
    assert.ok(webhook?.post, 'POST webhook documented');
    assert.ok(webhook.get, 'GET webhook documented');
    assert.ok(document.paths['/v1/bots/{id}/inbound-key']?.post);
    assert.ok(document.paths['/v1/carrier-credentials']?.get);
    assert.ok(document.paths['/v1/carrier-credentials/twilio']?.put);
    assert.ok(document.paths['/v1/carrier-credentials/twilio']?.delete);
  } finally {
    await bridge.close();
  }
});

test('inbound env variables parse', () => {
  const base = { BRIDGE_INTERNAL_TOKEN: 'internal-token-for-tests' };
  const defaults = loadEnv(base);
  assert.equal(defaults.publicUrl, undefined);
  assert.deepEqual(defaults.inbound, {
    pool: 'default',
    reservationTtlMs: 10_000,
    streamTimeoutMs: 30_000,
    tenantMaxCalls: undefined,
    sweepIntervalMs: 30_000,
  });
  const set = loadEnv({
    ...base,
    BRIDGE_PUBLIC_URL: 'https://voice.example.com',
    BRIDGE_INBOUND_POOL: 'inbound',
    BRIDGE_INBOUND_STREAM_TIMEOUT_MS: '15000',
    BRIDGE_INBOUND_TENANT_MAX_CALLS: '5',
  });
  assert.equal(set.publicUrl, 'https://voice.example.com');
  assert.equal(set.inbound.pool, 'inbound');
  assert.equal(set.inbound.streamTimeoutMs, 15_000);
  assert.equal(set.inbound.tenantMaxCalls, 5);
  assert.throws(
    () => loadEnv({ ...base, BRIDGE_PUBLIC_URL: 'voice.example.com' }),
    /BRIDGE_PUBLIC_URL/,
  );
  assert.throws(
    () => loadEnv({ ...base, BRIDGE_INBOUND_TENANT_MAX_CALLS: '0' }),
    /TENANT_MAX_CALLS/,
  );
});

describe('inbound webhook without a registry', () => {
  test('every call gets busy markup', async () => {
    const bridge = await startTestBridge({});
    try {
      const bot = await json(await bridge.api('POST', '/v1/bots', SIMPLE_BOT));
      const rotated = await json(
        await bridge.api('POST', `/v1/bots/${String(bot.id)}/inbound-key`),
      );
      const inboundUrl = (rotated.inboundUrl as InboundUrls).telnyx;
      const response = await postForm(inboundUrl, { CallSid: 'v3:nocapacity', From: FROM, To: TO });
      assert.equal(response.status, 200);
      assert.match(
        await response.text(),
        /<Say>All lines are busy\. Please call again later\.<\/Say><Hangup\/>/,
      );
      const page = (await json(await bridge.api('GET', '/v1/calls?direction=inbound'))) as {
        items: CallView[];
      };
      assert.equal(page.items.length, 1);
      assert.equal(page.items[0]?.status, 'busy');
      assert.equal(page.items[0]?.reason, 'no-capacity');
    } finally {
      await bridge.close();
    }
  });
});
