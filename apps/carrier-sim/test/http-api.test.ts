import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AUTH,
  CallbackReceiver,
  TestWorker,
  callRequest,
  postCall,
  startCarrier,
} from './helpers.js';
import type { SimCarrier } from '../src/index.js';

describe('sim carrier HTTP API', () => {
  let carrier: SimCarrier;
  let carrierUrl: string;
  let receiver: CallbackReceiver;
  let worker: TestWorker;

  before(async () => {
    receiver = await new CallbackReceiver().start();
    worker = await new TestWorker().start();
    ({ carrier, url: carrierUrl } = await startCarrier({ speed: 10 }));
  });

  after(async () => {
    await carrier.stop();
    await worker.close();
    await receiver.close();
  });

  test('health returns ok', async () => {
    const response = await fetch(`${carrierUrl}/health`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok', activeCalls: 0 });
  });

  test('start returns the same url twice', async () => {
    assert.deepEqual(await carrier.start(), { url: carrierUrl });
  });

  test('place-call returns 201 with a call SID', async () => {
    const request = callRequest(worker, receiver, { scenario: 'busy', from: '+14155550100' });
    const { status, json } = await postCall(carrierUrl, request);
    assert.equal(status, 201);
    assert.match(String(json.carrierCallId), /^CA[0-9a-f]{32}$/);

    const response = await fetch(`${carrierUrl}/v1/calls/${String(json.carrierCallId)}`, {
      headers: AUTH,
    });
    assert.equal(response.status, 200);
    const call = (await response.json()) as Record<string, unknown>;
    assert.equal(call.callId, request.callId);
    assert.equal(call.to, '+919800000001');
    assert.equal(call.from, '+14155550100');
    assert.equal(call.scenario, 'busy');
    assert.equal(typeof call.createdAt, 'string');
    assert.ok(!JSON.stringify(call).includes('secret-token'), 'the stream URL token leaked');
  });

  const badBodies: Array<[string, unknown, RegExp]> = [
    ['missing callId', { to: '+919800000001' }, /callId/],
    ['bad phone number', { to: '98000' }, /to: must be an E\.164 number/],
    ['unknown scenario', { scenario: 'dance' }, /scenario/],
    ['unknown field', { colour: 'red' }, /colour/],
    ['http stream URL', { streamUrl: 'http://127.0.0.1:1/ws' }, /streamUrl: must be a ws/],
    ['ws callback URL', { statusCallbackUrl: 'ws://127.0.0.1:1/x' }, /statusCallbackUrl/],
    ['ring timeout too short', { ringTimeoutMs: 10 }, /ringTimeoutMs/],
    ['array body', [], /expected object/],
  ];
  for (const [name, patch, pattern] of badBodies) {
    test(`place-call rejects ${name} with 400`, async () => {
      const base = callRequest(worker, receiver);
      const body = Array.isArray(patch) ? patch : { ...base, ...(patch as object) };
      if (name === 'missing callId') delete (body as Record<string, unknown>).callId;
      const { status, json } = await postCall(carrierUrl, body);
      assert.equal(status, 400);
      assert.equal(json.code, 'CARRIER_SIM_INVALID_REQUEST');
      assert.equal(json.error, 'Bad Request');
      assert.match(String(json.message), pattern);
      assert.ok(Array.isArray(json.issues) && json.issues.length > 0, 'issues are listed');
    });
  }

  test('call routes need the carrier secret', async () => {
    const request = callRequest(worker, receiver, { scenario: 'busy' });
    const variants: Array<Record<string, string>> = [{}, { 'x-carrier-secret': 'wrong' }];
    for (const headers of variants) {
      const placed = await fetch(`${carrierUrl}/v1/calls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(request),
      });
      assert.equal(placed.status, 401);
      const read = await fetch(`${carrierUrl}/v1/calls/CA0000`, { headers });
      assert.equal(read.status, 401);
    }
    const sent = receiver.received.filter((r) => r.event.callId === request.callId);
    assert.equal(sent.length, 0, 'no callback was sent');
  });

  test('place-call rejects invalid JSON with 400', async () => {
    const { status, json } = await postCall(carrierUrl, '{"callId": ');
    assert.equal(status, 400);
    assert.equal(json.code, 'CARRIER_SIM_INVALID_JSON');
  });

  test('place-call rejects an oversized body with 413', async () => {
    const { status, json } = await postCall(carrierUrl, { padding: 'x'.repeat(70_000) });
    assert.equal(status, 413);
    assert.equal(json.code, 'CARRIER_SIM_BODY_TOO_LARGE');
  });

  test('place-call rejects a live duplicate call id with 409', async () => {
    const request = callRequest(worker, receiver, { scenario: 'no-answer', ringTimeoutMs: 60_000 });
    const first = await postCall(carrierUrl, request);
    assert.equal(first.status, 201);
    const second = await postCall(carrierUrl, request);
    assert.equal(second.status, 409);
    assert.equal(second.json.code, 'CARRIER_SIM_CALL_ACTIVE');
  });

  test('unknown call returns 404', async () => {
    const response = await fetch(`${carrierUrl}/v1/calls/CA0000`, { headers: AUTH });
    assert.equal(response.status, 404);
    const json = (await response.json()) as Record<string, unknown>;
    assert.equal(json.code, 'CARRIER_SIM_CALL_NOT_FOUND');
  });

  test('unknown route returns 404 and wrong method 405', async () => {
    const missing = await fetch(`${carrierUrl}/v2/nothing`);
    assert.equal(missing.status, 404);
    await missing.arrayBuffer();
    const wrongMethod = await fetch(`${carrierUrl}/v1/calls`, { headers: AUTH });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    await wrongMethod.arrayBuffer();
  });
});
