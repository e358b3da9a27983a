/**
 * The sim carrier's inbound mode against a webhook server and a stand-in worker on real
 * sockets: the webhook request each provider sends, the markup it reads, the stream it
 * opens, and the responses it cannot use.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { SimCarrier } from '../src/index.js';
import { readWebhookResponse } from '../src/inbound-webhook.js';
import { AUTH, startCarrier, TestWorker } from './helpers.js';

interface ReceivedWebhook {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  fields: Record<string, string>;
}

/** A webhook server that records each request and responds with `respond(request)`. */
class WebhookServer {
  readonly received: ReceivedWebhook[] = [];
  respond: (request: ReceivedWebhook) => { status: number; type: string; body: string } = () => ({
    status: 200,
    type: 'text/xml',
    body: '<Response><Hangup/></Response>',
  });
  url = '';
  private server: Server | undefined;

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const text = Buffer.concat(chunks).toString('utf8');
        const source = req.method === 'GET' ? url.searchParams : new URLSearchParams(text);
        const request: ReceivedWebhook = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          fields: Object.fromEntries(source),
        };
        this.received.push(request);
        const response = this.respond(request);
        res.writeHead(response.status, { 'content-type': response.type });
        res.end(response.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/voice`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let carrier: SimCarrier;
let carrierUrl: string;
let webhook: WebhookServer;
let worker: TestWorker;

before(async () => {
  ({ carrier, url: carrierUrl } = await startCarrier({ speed: 20 }));
  webhook = new WebhookServer();
  await webhook.start();
  worker = await new TestWorker().start();
});

after(async () => {
  await carrier.stop();
  await webhook.close();
  await worker.close();
});

async function ring(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${carrierUrl}/v1/inbound-calls`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify({ from: '+15550100001', to: '+15550100000', ...body }),
  });
}

async function snapshot(carrierCallId: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${carrierUrl}/v1/calls/${carrierCallId}`, { headers: AUTH });
  return (await response.json()) as Record<string, unknown>;
}

test('twilio inbound uses twiml parameters', async () => {
  const before = worker.connections.length;
  const streamUrl = `ws://127.0.0.1:${worker.port}/ws/bot-1`;
  webhook.respond = () => ({
    status: 200,
    type: 'text/xml',
    body:
      `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Connect><Stream url="${streamUrl}">` +
      '<Parameter name="callId" value="call_1"/><Parameter name="token" value="a&amp;b"/>' +
      '</Stream></Connect></Response>',
  });
  const authToken = 'twilio-token-for-sim-tests';
  const response = await ring({
    webhookUrl: webhook.url,
    provider: 'twilio',
    twilioAuthToken: authToken,
  });
  assert.equal(response.status, 201);
  const placed = (await response.json()) as {
    carrierCallId: string;
    callId: string;
    action: string;
  };
  assert.equal(placed.action, 'stream');
  assert.equal(placed.callId, 'call_1');
  assert.match(placed.carrierCallId, /^CA[0-9a-f]{32}$/);

  const request = webhook.received.at(-1);
  assert.ok(request);
  assert.equal(request.method, 'POST');
  assert.equal(request.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(request.fields.CallSid, placed.carrierCallId);
  assert.equal(request.fields.From, '+15550100001');
  assert.equal(request.fields.To, '+15550100000');
  assert.equal(request.fields.Direction, 'inbound');
  // X-Twilio-Signature: HMAC-SHA1 of the URL and the sorted fields, keyed with the token.
  const signed = Object.keys(request.fields)
    .sort()
    .reduce((text, name) => text + name + (request.fields[name] ?? ''), webhook.url);
  const expected = createHmac('sha1', authToken).update(signed).digest('base64');
  assert.equal(request.headers['x-twilio-signature'], expected);

  const connection = await worker.nextConnection(before);
  const start = await connection.waitForEvent('start');
  const parameters = (start.start as { customParameters: Record<string, string> }).customParameters;
  assert.equal(parameters.token, 'a&b');
  assert.equal(parameters.callId, 'call_1');
  assert.equal(connection.path, '/ws/bot-1');
  connection.close(1000);
  const call = await waitForState(placed.carrierCallId, 'completed');
  assert.equal(call.direction, 'inbound');
  assert.equal(call.provider, 'twilio');
});

test('plivo inbound drops plus, reads headers', async () => {
  const before = worker.connections.length;
  const streamUrl = `ws://127.0.0.1:${worker.port}/ws/bot-2?callId=call_2&amp;token=t2`;
  webhook.respond = () => ({
    status: 200,
    type: 'text/xml',
    body:
      '<Response><Stream bidirectional="true" keepCallAlive="true" ' +
      `extraHeaders="callId=call_2,token=t2">${streamUrl}</Stream></Response>`,
  });
  const response = await ring({ webhookUrl: webhook.url, provider: 'plivo' });
  assert.equal(response.status, 201);
  const placed = (await response.json()) as { carrierCallId: string; callId: string };
  assert.equal(placed.callId, 'call_2');
  const request = webhook.received.at(-1);
  assert.equal(request?.fields.CallUUID, placed.carrierCallId);
  assert.equal(request?.fields.From, '15550100001');
  assert.equal(request?.fields.To, '15550100000');

  const connection = await worker.nextConnection(before);
  assert.equal(connection.path, '/ws/bot-2?callId=call_2&token=t2');
  const start = await connection.waitForEvent('start');
  assert.match(String(start.extra_headers), /token=t2/);
  connection.close(1000);
  await waitForState(placed.carrierCallId, 'completed');
});

test('exotel inbound reads json url', async () => {
  const before = worker.connections.length;
  webhook.respond = () => ({
    status: 200,
    type: 'application/json',
    body: JSON.stringify({ url: `ws://127.0.0.1:${worker.port}/ws/bot-3?callId=call_3&token=t3` }),
  });
  const response = await ring({ webhookUrl: webhook.url, provider: 'exotel', scenario: 'silent' });
  assert.equal(response.status, 201);
  const placed = (await response.json()) as { carrierCallId: string; callId: string };
  assert.equal(placed.callId, 'call_3');
  const request = webhook.received.at(-1);
  assert.equal(request?.method, 'GET');
  assert.equal(request?.fields.CallFrom, '+15550100001');
  assert.equal(request?.fields.CallTo, '+15550100000');
  const connection = await worker.nextConnection(before);
  await connection.waitForEvent('start');
  connection.close(1000);
  await waitForState(placed.carrierCallId, 'completed');
});

test('hang-up response records busy call', async () => {
  const before = worker.connections.length;
  webhook.respond = () => ({
    status: 200,
    type: 'text/xml',
    body: '<Response><Say>All lines are busy.</Say><Hangup/></Response>',
  });
  const response = await ring({ webhookUrl: webhook.url, provider: 'telnyx' });
  assert.equal(response.status, 201);
  const placed = (await response.json()) as { carrierCallId: string; action: string };
  assert.equal(placed.action, 'hangup');
  assert.match(placed.carrierCallId, /^v3:/);
  const call = await waitForState(placed.carrierCallId, 'busy');
  assert.equal(call.endReason, 'busy');
  assert.equal(worker.connections.length, before);
});

test('unusable webhook responses return 502', async () => {
  webhook.respond = () => ({ status: 404, type: 'application/json', body: '{"error":"no"}' });
  const missing = await ring({ webhookUrl: webhook.url, provider: 'twilio' });
  assert.equal(missing.status, 502);
  const body = (await missing.json()) as { code: string; message: string };
  assert.equal(body.code, 'CARRIER_SIM_WEBHOOK_FAILED');
  assert.match(body.message, /HTTP 404/);

  webhook.respond = () => ({
    status: 200,
    type: 'text/xml',
    body: '<Response><Say>hi</Say></Response>',
  });
  const noStream = await ring({ webhookUrl: webhook.url, provider: 'twilio' });
  assert.equal(noStream.status, 502);

  const unreachable = await ring({ webhookUrl: 'http://127.0.0.1:1/voice', provider: 'twilio' });
  assert.equal(unreachable.status, 502);
});

test('invalid inbound requests return 400', async () => {
  for (const body of [
    { webhookUrl: 'ftp://example.invalid/voice' },
    { webhookUrl: webhook.url, to: '12345' },
    { webhookUrl: webhook.url, scenario: 'busy' },
    { webhookUrl: webhook.url, provider: 'vonage' },
  ]) {
    const response = await ring(body);
    assert.equal(response.status, 400, JSON.stringify(body));
    assert.equal(((await response.json()) as { code: string }).code, 'CARRIER_SIM_INVALID_REQUEST');
  }
  const unauthorised = await fetch(`${carrierUrl}/v1/inbound-calls`, {
    method: 'POST',
    body: '{}',
  });
  assert.equal(unauthorised.status, 401);
});

test('markup reader unescapes attributes', () => {
  const action = readWebhookResponse(
    200,
    'text/xml',
    '<Response><Connect><Stream url="wss://w.example/ws/b?callId=c&amp;token=t" track="inbound_track"/></Connect></Response>',
  );
  assert.deepEqual(action, {
    kind: 'stream',
    streamUrl: 'wss://w.example/ws/b?callId=c&token=t',
    customParameters: {},
  });
  assert.equal(readWebhookResponse(503, 'application/json', '{}').kind, 'hangup');
  assert.equal(readWebhookResponse(200, 'application/json', '{"url":"http://x"}').kind, 'invalid');
});

async function waitForState(
  carrierCallId: string,
  state: string,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const call = await snapshot(carrierCallId);
    if (call.state === state) return call;
    if (Date.now() > deadline)
      throw new Error(`call ${carrierCallId} is ${String(call.state)}, not ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
