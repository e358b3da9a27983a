/**
 * Fuzz test of the media WebSocket: thousands of random and mutated frames in all four
 * providers' shapes against a live worker. The worker must not crash, must return 200 on
 * `/health` throughout, and must run a valid call afterwards. The PRNG is seeded, so a
 * failure reproduces with the same seed (FUZZ_SEED overrides it).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CallResult } from '@voxfleet/schema';
import WebSocket from 'ws';
import { Harness, attachBody, postJson, waitUntil } from './support/harness.js';
import { ProtocolCaller, tone, type Dialect } from './protocol-conformance.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 0x5eed);
const TOTAL_FRAMES = 4_000;
const FRAMES_PER_CALL = 400;
const TIME_BUDGET_MS = 25_000;

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const random = createRandom(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const randomInt = (max: number): number => Math.floor(random() * max);

function randomString(length: number): string {
  const alphabet = 'abcXYZ019+/=_-:"\\{}[] \u00e9\u0000\ud83d';
  let text = '';
  for (let i = 0; i < length; i++) text += alphabet[randomInt(alphabet.length)];
  return text;
}

function randomPrimitive(): unknown {
  return pick([
    null,
    true,
    -1,
    0,
    1e308,
    Number.MAX_SAFE_INTEGER + 2,
    '',
    '1',
    randomString(randomInt(40)),
    'A'.repeat(randomInt(5_000)),
    [],
    {},
  ]);
}

/** Returns `value` with one random change somewhere inside it. */
function mutate(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== 'object') return randomPrimitive();
  if (Array.isArray(value)) {
    const copy = [...(value as unknown[])];
    if (copy.length > 0 && random() < 0.7) {
      const index = randomInt(copy.length);
      copy[index] = mutate(copy[index], depth + 1);
    } else copy.push(randomPrimitive());
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(copy);
  const action = random();
  const key = keys.length > 0 ? pick(keys) : 'event';
  if (action < 0.5) copy[key] = mutate(copy[key], depth + 1);
  else if (action < 0.7) delete copy[key];
  else if (action < 0.85) copy[randomString(6)] = randomPrimitive();
  else copy[key] = randomPrimitive();
  return copy;
}

const MULAW_FRAME = Buffer.alloc(160, 0xff).toString('base64');
const L16_FRAME = Buffer.alloc(320).toString('base64');

/** Valid frames of each provider for stream `id`, used as mutation templates. */
function templates(id: string): unknown[] {
  return [
    { event: 'connected', protocol: 'Call', version: '1.0.0' },
    { event: 'start', streamSid: id, start: { callSid: 'CA1', customParameters: {} } },
    { event: 'media', streamSid: id, media: { chunk: '1', timestamp: '20', payload: MULAW_FRAME } },
    { event: 'dtmf', streamSid: id, dtmf: { digit: '5' } },
    { event: 'mark', streamSid: id, mark: { name: 'greeting' } },
    {
      event: 'start',
      stream_sid: id,
      start: { call_sid: 'c', media_format: { sample_rate: '8000' } },
    },
    { event: 'media', stream_sid: id, media: { chunk: '1', payload: L16_FRAME } },
    { event: 'dtmf', stream_sid: id, dtmf: { digit: '#', duration: '100' } },
    {
      event: 'start',
      start: {
        streamId: id,
        callId: 'c',
        mediaFormat: { encoding: 'audio/x-l16', sampleRate: 16000 },
      },
      extra_headers: 'a=b',
    },
    { event: 'media', streamId: id, media: { chunk: 2, payload: L16_FRAME } },
    { event: 'playedStream', streamId: id, name: 'greeting' },
    { event: 'clearedAudio', streamId: id },
    {
      event: 'start',
      stream_id: id,
      start: { call_control_id: 'v3:x', client_state: 'e30=', media_format: { encoding: 'PCMA' } },
    },
    {
      event: 'media',
      stream_id: id,
      media: { track: 'inbound', chunk: String(randomInt(50)), payload: MULAW_FRAME },
    },
    { event: 'error', payload: { code: 1, title: 'x' } },
  ];
}

function randomFrame(id: string): { data: string | Buffer; binary: boolean } {
  const kind = random();
  if (kind < 0.5) return { data: JSON.stringify(mutate(pick(templates(id)))), binary: false };
  if (kind < 0.6) return { data: JSON.stringify(pick(templates(id))), binary: false };
  if (kind < 0.7) {
    const text = JSON.stringify(pick(templates(id)));
    return { data: text.slice(0, randomInt(text.length)), binary: false };
  }
  if (kind < 0.8) return { data: randomString(randomInt(200)), binary: false };
  if (kind < 0.87) {
    const bytes = Buffer.alloc(randomInt(400));
    for (let i = 0; i < bytes.length; i++) bytes[i] = randomInt(256);
    return { data: bytes, binary: random() < 0.5 };
  }
  if (kind < 0.94) {
    const depth = 1 + randomInt(5_000);
    return { data: '['.repeat(depth) + ']'.repeat(depth), binary: false };
  }
  return {
    data: JSON.stringify({ event: 'media', padding: 'x'.repeat(60_000 + randomInt(20_000)) }),
    binary: false,
  };
}

const harness = new Harness();
let url = '';

before(async () => {
  await harness.open();
  ({ url } = await harness.startWorker({ streamIdleTimeoutMs: 2_000 }));
});

after(async () => {
  await harness.close();
});

async function attachCall(): Promise<{ callId: string; streamUrl: string }> {
  await waitUntil(async () => (await fetch(`${url}/ready`)).status === 200, 'worker ready', 15_000);
  const reservation = await harness.reserve();
  const response = await postJson(`${url}/attach`, attachBody(reservation));
  assert.equal(response.status, 200);
  return { callId: reservation.callId, streamUrl: String(response.body['streamUrl']) };
}

async function openSocket(streamUrl: string): Promise<WebSocket> {
  const socket = new WebSocket(streamUrl);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  return socket;
}

test('fuzzed frames never crash the worker', async () => {
  const startedAt = Date.now();
  let sent = 0;
  let calls = 0;
  while (sent < TOTAL_FRAMES && Date.now() - startedAt < TIME_BUDGET_MS) {
    const { streamUrl } = await attachCall();
    const socket = await openSocket(streamUrl);
    calls++;
    const id = `fuzz-${calls}`;
    // Half the calls start properly first, so the fuzz also reaches the per-provider decoders.
    if (random() < 0.5) socket.send(JSON.stringify(pick(templates(id).filter(isStart))));
    for (let i = 0; i < FRAMES_PER_CALL && socket.readyState === WebSocket.OPEN; i++) {
      const frame = randomFrame(id);
      socket.send(frame.data, { binary: frame.binary });
      sent++;
      if (i % 100 === 99) {
        const health = await fetch(`${url}/health`);
        assert.equal(health.status, 200, `/health failed after ${sent} frames (seed ${SEED})`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    socket.terminate();
    // A call that never started waits for its stream: free it as the dialler would.
    const body = {
      reservationToken: new URL(streamUrl).searchParams.get('token') ?? '',
      reason: 'fuzz',
    };
    const callId = new URL(streamUrl).searchParams.get('callId') ?? '';
    await postJson(`${url}/attach/${encodeURIComponent(callId)}/cancel`, body);
  }
  assert.ok(sent >= 1_000, `only ${sent} frames sent in the time budget`);
  assert.equal((await fetch(`${url}/health`)).status, 200);

  // The next valid call works end to end.
  const { callId, streamUrl } = await attachCall();
  const caller = await ProtocolCaller.connect(TWILIO, streamUrl);
  caller.open({});
  await caller.waitForMark('greeting', 10_000);
  caller.sendAudio(tone(800));
  caller.sendDtmf('1');
  await caller.waitForMark('goodbye', 10_000);
  const result = CallResult.parse(await harness.bridge.waitForResult(callId));
  assert.equal(result.status, 'completed');
  assert.equal(result.outcome, 'pressed-1');
});

function isStart(frame: unknown): boolean {
  return (
    typeof frame === 'object' && frame !== null && (frame as { event?: unknown }).event === 'start'
  );
}

const TWILIO: Dialect = {
  provider: 'twilio',
  samplesPerMedia: 160,
  newStreamId: () => 'MZvalid',
  connected: () => null,
  start: ({ streamId }) => ({ event: 'start', streamSid: streamId, start: { callSid: 'CA1' } }),
  media: (streamId, _index, pcm) => ({
    event: 'media',
    streamSid: streamId,
    media: { payload: Buffer.from(new Uint8Array(pcm.length).fill(0xff)).toString('base64') },
  }),
  dtmf: (streamId, digit) => ({ event: 'dtmf', streamSid: streamId, dtmf: { digit } }),
  markAck: (streamId, name) => ({ event: 'mark', streamSid: streamId, mark: { name } }),
  stop: (streamId) => ({ event: 'stop', streamSid: streamId }),
  readOutbound(message) {
    if (message['event'] === 'mark')
      return { kind: 'mark', name: (message['mark'] as { name: string }).name };
    if (message['event'] === 'clear') return { kind: 'clear' };
    return { kind: 'media', samples8k: 160, bytes: 160 };
  },
};
