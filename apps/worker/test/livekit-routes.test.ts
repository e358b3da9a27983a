/**
 * `POST /livekit/dialout` and `POST /attach` with LiveKit media, against a local HTTP server
 * that implements the part of LiveKit's Twirp API (`/twirp/livekit.RoomService/*`,
 * `/twirp/livekit.SIP/*`) that livekit-server-sdk calls. Joining a room for media needs a
 * real LiveKit server, so these tests pass a media connector that records the join request.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, beforeEach, test } from 'node:test';
import { loadEnv } from '../src/env.js';
import { WorkerError } from '../src/errors.js';
import type { LiveKitMediaConnector, LiveKitMediaJoinOptions } from '../src/livekit/media.js';
import { Harness, postJson, waitUntil } from './support/harness.js';

const API_KEY = 'APItestkey';
const API_SECRET = 'test-secret-that-signs-the-tokens-0123456789';
const TRUNK_ID = 'ST_test_trunk';

interface TwirpCall {
  method: string;
  body: Record<string, unknown>;
  claims: Record<string, unknown>;
}

type TwirpReply = { status: number; body: Record<string, unknown> };

/** A Twirp server on 127.0.0.1 that verifies each bearer token and records each call. */
class TwirpStandIn {
  readonly calls: TwirpCall[] = [];
  readonly replies = new Map<string, TwirpReply>();
  readonly #server: Server = createServer((req, res) => void this.#handle(req, res));
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('no server address');
    this.url = `http://127.0.0.1:${address.port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  methods(): string[] {
    return this.calls.map((call) => call.method);
  }

  find(method: string): TwirpCall {
    const call = this.calls.find((entry) => entry.method === method);
    if (call === undefined)
      throw new Error(`no ${method} request; got ${this.methods().join(', ')}`);
    return call;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const method = (req.url ?? '').replace(/^\/twirp\//, '');
    const header = req.headers.authorization ?? '';
    const claims = verifyJwt(header.replace(/^Bearer /, ''), API_SECRET);
    if (claims === null) {
      return reply(res, { status: 401, body: { code: 'unauthenticated', msg: 'bad token' } });
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<
      string,
      unknown
    >;
    this.calls.push({ method, body, claims });
    const configured = this.replies.get(method);
    if (configured !== undefined) return reply(res, configured);
    if (method === 'livekit.RoomService/CreateRoom') {
      return reply(res, { status: 200, body: { sid: 'RM_test', name: body['name'] } });
    }
    if (method === 'livekit.SIP/CreateSIPParticipant') {
      return reply(res, {
        status: 200,
        body: {
          participantId: 'PA_test',
          participantIdentity: body['participantIdentity'],
          roomName: body['roomName'],
          sipCallId: 'SCL_test',
        },
      });
    }
    if (method === 'livekit.RoomService/DeleteRoom') return reply(res, { status: 200, body: {} });
    reply(res, { status: 404, body: { code: 'bad_route', msg: `no method ${method}` } });
  }
}

function reply(res: ServerResponse, { status, body }: TwirpReply): void {
  // The SDK reads a Twirp error body only when the content type is exactly this.
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Verifies an HS256 JWT with `secret`; returns its claims, or null when it does not verify. */
function verifyJwt(token: string, secret: string): Record<string, unknown> | null {
  const [header, payload, signature] = token.split('.');
  if (header === undefined || payload === undefined || signature === undefined) return null;
  const decodedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as {
    alg?: string;
  };
  if (decodedHeader.alg !== 'HS256') return null;
  const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
  const received = Buffer.from(signature, 'base64url');
  if (received.length !== expected.length || !timingSafeEqual(received, expected)) return null;
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Stands in for the `@livekit/rtc-node` connector, which needs a real LiveKit server. */
class RecordingMediaConnector implements LiveKitMediaConnector {
  readonly joins: LiveKitMediaJoinOptions[] = [];
  closed = 0;
  failWith: Error | null = null;

  async join(options: LiveKitMediaJoinOptions): Promise<{ close(): Promise<void> }> {
    this.joins.push(options);
    if (this.failWith !== null) throw this.failWith;
    return {
      close: async () => {
        this.closed++;
      },
    };
  }
}

const harness = new Harness();
const twirp = new TwirpStandIn();
const media = new RecordingMediaConnector();
let url = '';
let unconfiguredUrl = '';

before(async () => {
  await harness.open();
  await twirp.start();
  ({ url } = await harness.startWorker({
    livekit: { url: twirp.url, apiKey: API_KEY, apiSecret: API_SECRET, sipTrunkId: TRUNK_ID },
    livekitMedia: media,
  }));
  ({ url: unconfiguredUrl } = await harness.startWorker({ pool: 'unconfigured' }));
  await waitUntil(isReady, 'worker ready');
});

after(async () => {
  await harness.close();
  await twirp.stop();
});

beforeEach(() => {
  twirp.calls.length = 0;
  twirp.replies.clear();
  media.joins.length = 0;
  media.closed = 0;
  media.failWith = null;
});

async function isReady(): Promise<boolean> {
  return (await fetch(`${url}/ready`)).status === 200;
}

async function dialoutBody(
  overrides: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  const reservation = await harness.reserve();
  return {
    reservationToken: reservation.token,
    callId: reservation.callId,
    botId: 'bot-1',
    tenantId: 't1',
    campaignId: 'camp-1',
    contactId: 'contact-1',
    to: '+919800000001',
    from: '+918000000001',
    streamTimeoutMs: 5_000,
    ...overrides,
  };
}

function errorCode(body: Record<string, unknown>): unknown {
  return (body['error'] as Record<string, unknown> | undefined)?.['code'];
}

function errorMessage(body: Record<string, unknown>): string {
  return String((body['error'] as Record<string, unknown> | undefined)?.['message']);
}

test('dialout without LiveKit settings returns 503', async () => {
  const response = await postJson(`${unconfiguredUrl}/livekit/dialout`, {});
  assert.equal(response.status, 503);
  assert.equal(errorCode(response.body), 'LIVEKIT_NOT_CONFIGURED');
  assert.match(errorMessage(response.body), /LIVEKIT_URL/);
});

test('dialout rejects an invalid body with 400', async () => {
  const response = await postJson(`${url}/livekit/dialout`, {
    reservationToken: 'x',
    callId: 'c',
    to: '98000',
  });
  assert.equal(response.status, 400);
  assert.equal(errorCode(response.body), 'INVALID_REQUEST');
  assert.deepEqual(twirp.calls, []);
});

test('dialout with a wrong token is rejected before LiveKit', async () => {
  const body = await dialoutBody();
  const response = await postJson(`${url}/livekit/dialout`, {
    ...body,
    reservationToken: 'forged',
  });
  assert.equal(response.status, 403);
  assert.equal(errorCode(response.body), 'RESERVATION_INVALID');
  assert.deepEqual(twirp.calls, []);
  assert.ok(await isReady());
  await harness.registry.release('w1', String(body['reservationToken']));
});

test('dialout creates room, SIP participant and joins', async () => {
  const body = await dialoutBody();
  const callId = String(body['callId']);
  const response = await postJson(`${url}/livekit/dialout`, body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  assert.equal(response.body['room'], `voxfleet-${callId}`);
  assert.equal(response.body['sipCallId'], 'SCL_test');
  assert.equal(response.body['sipParticipantIdentity'], `sip-${callId}`);
  assert.deepEqual(twirp.methods(), [
    'livekit.RoomService/CreateRoom',
    'livekit.SIP/CreateSIPParticipant',
  ]);

  const createRoom = twirp.find('livekit.RoomService/CreateRoom');
  assert.equal(createRoom.body['name'], `voxfleet-${callId}`);
  assert.equal(createRoom.claims['iss'], API_KEY);
  assert.deepEqual(createRoom.claims['video'], { roomCreate: true });

  const sip = twirp.find('livekit.SIP/CreateSIPParticipant');
  assert.equal(sip.body['sipTrunkId'], TRUNK_ID);
  assert.equal(sip.body['sipCallTo'], '+919800000001');
  assert.equal(sip.body['sipNumber'], '+918000000001');
  assert.equal(sip.body['roomName'], `voxfleet-${callId}`);
  assert.equal(sip.body['participantIdentity'], `sip-${callId}`);
  assert.equal(sip.claims['iss'], API_KEY);
  assert.deepEqual(sip.claims['sip'], { call: true });

  assert.equal(media.joins.length, 1);
  const join = media.joins[0];
  assert.ok(join !== undefined);
  assert.equal(join.room, `voxfleet-${callId}`);
  assert.equal(join.sipIdentity, `sip-${callId}`);
  assert.match(join.streamUrl, new RegExp(`callId=${callId}`));
  const agentClaims = verifyJwt(join.token, API_SECRET);
  assert.ok(agentClaims !== null, 'agent token is not signed with the API secret');
  assert.equal(agentClaims['sub'], 'agent-w1');
  const video = agentClaims['video'] as Record<string, unknown>;
  assert.equal(video['roomJoin'], true);
  assert.equal(video['room'], `voxfleet-${callId}`);
  assert.equal(video['canPublish'], true);
  assert.equal(video['canSubscribe'], true);

  // The call ends (never answered here): the room is deleted and the worker is idle again.
  const cancel = await postJson(`${url}/attach/${callId}/cancel`, {
    reservationToken: body['reservationToken'],
    reason: 'no-answer',
  });
  assert.equal(cancel.status, 200);
  await waitUntil(() => twirp.methods().includes('livekit.RoomService/DeleteRoom'), 'room delete');
  assert.equal(twirp.find('livekit.RoomService/DeleteRoom').body['room'], `voxfleet-${callId}`);
  assert.equal(media.closed, 1);
  await waitUntil(isReady, 'worker idle after the call');
});

test('SIP failure frees the slot and deletes room', async () => {
  twirp.replies.set('livekit.SIP/CreateSIPParticipant', {
    status: 400,
    body: {
      code: 'failed_precondition',
      msg: 'sip call failed',
      meta: { sip_status_code: '486', sip_status: 'Busy Here' },
    },
  });
  const body = await dialoutBody();
  const response = await postJson(`${url}/livekit/dialout`, body);
  assert.equal(response.status, 502);
  assert.equal(errorCode(response.body), 'LIVEKIT_SIP_FAILED');
  assert.match(errorMessage(response.body), /SIP 486/);
  assert.match(errorMessage(response.body), /create SIP participant/);
  assert.deepEqual(twirp.methods(), [
    'livekit.RoomService/CreateRoom',
    'livekit.SIP/CreateSIPParticipant',
    'livekit.RoomService/DeleteRoom',
  ]);
  assert.equal(media.joins.length, 0);
  await waitUntil(isReady, 'worker idle after the failed dial-out');
  const next = await harness.reserve();
  assert.equal(next.workerId, 'w1', 'the slot was not released in the registry');
  await harness.registry.release(next.workerId, next.token);
});

test('Twirp error on CreateRoom maps to 502', async () => {
  twirp.replies.set('livekit.RoomService/CreateRoom', {
    status: 403,
    body: { code: 'permission_denied', msg: 'no permission to create rooms' },
  });
  const response = await postJson(`${url}/livekit/dialout`, await dialoutBody());
  assert.equal(response.status, 502);
  assert.equal(errorCode(response.body), 'LIVEKIT_REQUEST_FAILED');
  assert.match(errorMessage(response.body), /create room failed with HTTP 403 permission_denied/);
  assert.deepEqual(twirp.methods(), ['livekit.RoomService/CreateRoom']);
  await waitUntil(isReady, 'worker idle after the failed dial-out');
});

test('media join failure frees the slot', async () => {
  media.failWith = new WorkerError('LIVEKIT_MEDIA_UNAVAILABLE', '@livekit/rtc-node failed to load');
  const response = await postJson(`${url}/livekit/dialout`, await dialoutBody());
  assert.equal(response.status, 503);
  assert.equal(errorCode(response.body), 'LIVEKIT_MEDIA_UNAVAILABLE');
  assert.ok(twirp.methods().includes('livekit.RoomService/DeleteRoom'));
  await waitUntil(isReady, 'worker idle after the failed join');
});

test('unreachable LiveKit maps to LIVEKIT_UNREACHABLE', async () => {
  // A port that was just free and is closed again, so nothing listens on it.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const address = closed.address();
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no server address');

  const { url: deadUrl } = await harness.startWorker({
    pool: 'dead-livekit',
    livekit: {
      url: `http://127.0.0.1:${address.port}`,
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      sipTrunkId: TRUNK_ID,
    },
    livekitMedia: media,
  });

  const reservation = await harness.registry.reserve({
    pool: 'dead-livekit',
    callId: harness.nextCallId(),
    reservationTtlMs: 10_000,
  });
  assert.ok(reservation !== null);
  const response = await postJson(`${deadUrl}/livekit/dialout`, {
    ...(await dialoutBodyFor(reservation.token, reservation.callId)),
  });
  assert.equal(response.status, 502);
  assert.equal(errorCode(response.body), 'LIVEKIT_UNREACHABLE');
  assert.match(errorMessage(response.body), /LIVEKIT_URL/);

  await waitUntil(
    async () => (await fetch(`${deadUrl}/ready`)).status === 200,
    'worker idle after an unreachable LiveKit',
  );
});

async function dialoutBodyFor(token: string, callId: string): Promise<Record<string, unknown>> {
  return {
    reservationToken: token,
    callId,
    botId: 'bot-1',
    tenantId: 't1',
    campaignId: null,
    contactId: null,
    to: '+919800000001',
  };
}

test('attach with LiveKit media joins the room', async () => {
  const body = await dialoutBody({ media: { kind: 'livekit', room: 'inbound-room-7' } });
  delete body['from'];
  const callId = String(body['callId']);
  const response = await postJson(`${url}/attach`, body);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  assert.equal(response.body['callId'], callId);
  assert.deepEqual(twirp.calls, [], 'an attach must not create rooms or dial');

  assert.equal(media.joins.length, 1);
  const join = media.joins[0];
  assert.ok(join !== undefined);
  assert.equal(join.room, 'inbound-room-7');
  assert.equal(join.sipIdentity, null);
  assert.equal(join.streamUrl, response.body['streamUrl']);
  const claims = verifyJwt(join.token, API_SECRET);
  assert.ok(claims !== null);
  assert.equal((claims['video'] as Record<string, unknown>)['room'], 'inbound-room-7');

  const cancel = await postJson(`${url}/attach/${callId}/cancel`, {
    reservationToken: body['reservationToken'],
    reason: 'test-done',
  });
  assert.equal(cancel.status, 200);
  await waitUntil(() => media.closed === 1, 'media session closed');
  await waitUntil(isReady, 'worker idle after the call');
});

test('attach with websocket media needs no LiveKit', async () => {
  const body = await dialoutBody({ media: { kind: 'websocket' } });
  delete body['from'];
  const response = await postJson(`${unconfiguredUrl}/attach`, {
    ...body,
    reservationToken: 'not-for-this-worker',
  });
  // The body is valid, so the worker gets as far as the registry, which rejects the token.
  assert.equal(response.status, 403);
  assert.equal(errorCode(response.body), 'RESERVATION_INVALID');

  const accepted = await postJson(`${url}/attach`, body);
  assert.equal(accepted.status, 200);
  assert.equal(media.joins.length, 0);
  const cancel = await postJson(`${url}/attach/${String(body['callId'])}/cancel`, {
    reservationToken: body['reservationToken'],
    reason: 'test-done',
  });
  assert.equal(cancel.status, 200);
  await waitUntil(isReady, 'worker idle after the cancel');
});

test('attach with LiveKit media needs the settings', async () => {
  const body = await dialoutBody({ media: { kind: 'livekit', room: 'r1' } });
  delete body['from'];
  const response = await postJson(`${unconfiguredUrl}/attach`, body);
  assert.equal(response.status, 503);
  assert.equal(errorCode(response.body), 'LIVEKIT_NOT_CONFIGURED');
  await harness.registry.release('w1', String(body['reservationToken']));
});

test('attach rejects an unknown media kind', async () => {
  const body = await dialoutBody({ media: { kind: 'sip', uri: 'sip:x@y' } });
  delete body['from'];
  const response = await postJson(`${url}/attach`, body);
  assert.equal(response.status, 400);
  assert.equal(errorCode(response.body), 'INVALID_REQUEST');
  assert.match(errorMessage(response.body), /media/);
  assert.ok(await isReady());
  await harness.registry.release('w1', String(body['reservationToken']));
});

test('LiveKit env needs all four variables', () => {
  const base = { BRIDGE_INTERNAL_TOKEN: 'token' };
  assert.equal(loadEnv(base).livekit, undefined);

  const full = loadEnv({
    ...base,
    LIVEKIT_URL: 'wss://livekit.example.test',
    LIVEKIT_API_KEY: API_KEY,
    LIVEKIT_API_SECRET: API_SECRET,
    LIVEKIT_SIP_TRUNK_ID: TRUNK_ID,
  });
  assert.deepEqual(full.livekit, {
    url: 'wss://livekit.example.test',
    apiKey: API_KEY,
    apiSecret: API_SECRET,
    sipTrunkId: TRUNK_ID,
  });

  assert.throws(
    () => loadEnv({ ...base, LIVEKIT_URL: 'wss://livekit.example.test' }),
    /LIVEKIT_API_KEY, LIVEKIT_API_SECRET, LIVEKIT_SIP_TRUNK_ID: required when LIVEKIT_URL is set/,
  );
});
