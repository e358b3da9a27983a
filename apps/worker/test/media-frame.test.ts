/**
 * The hand-written media frame check against each provider's zod schema: every frame the
 * check accepts, the schema accepts with the same fields, and valid frames take the fast
 * path. Frames come from valid ones with one field changed at a time, plus random ones.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { ZodMiniType } from 'zod/mini';

import * as exotel from '../src/protocol/exotel.js';
import { readMediaFrame, type MediaFrameShape } from '../src/protocol/media-frame.js';
import * as plivo from '../src/protocol/plivo.js';
import * as telnyx from '../src/protocol/telnyx.js';
import * as twilio from '../src/protocol/twilio.js';

interface Provider {
  name: string;
  shape: MediaFrameShape;
  schema: ZodMiniType;
}

const PROVIDERS: Provider[] = [
  { name: 'twilio', shape: twilio.MEDIA_SHAPE, schema: twilio.InboundFrame },
  { name: 'exotel', shape: exotel.MEDIA_SHAPE, schema: exotel.InboundFrame },
  { name: 'plivo', shape: plivo.MEDIA_SHAPE, schema: plivo.InboundFrame },
  { name: 'telnyx', shape: telnyx.MEDIA_SHAPE, schema: telnyx.InboundFrame },
];

const PAYLOAD = Buffer.alloc(160, 0x7f).toString('base64');

/** Values that probe each rule: types, limits, formats. */
const ODD_VALUES: unknown[] = [
  undefined,
  null,
  true,
  0,
  -1,
  1.5,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  '',
  '7',
  '007',
  '-3',
  '1e3',
  '9'.repeat(15),
  '9'.repeat(16),
  '9'.repeat(20),
  '9'.repeat(21),
  'inbound',
  'x'.repeat(32),
  'x'.repeat(33),
  'MZ' + 'a'.repeat(126),
  'MZ' + 'a'.repeat(127),
  '😀'.repeat(40),
  '😀'.repeat(70),
  'not base64!',
  'AAAA====',
  [],
  ['a'],
  {},
  { payload: PAYLOAD },
];

function validFrame(shape: MediaFrameShape): Record<string, unknown> {
  const counter = shape.counters === 'decimal-string' ? '12' : 12;
  return {
    event: 'media',
    [shape.sequenceKey]: counter,
    [shape.streamKey]: 'MZstream',
    media: {
      ...(shape.track ? { track: 'inbound' } : {}),
      chunk: counter,
      timestamp: shape.counters === 'decimal-string' ? '240' : 240,
      payload: PAYLOAD,
    },
  };
}

/** Yields the valid frame, then copies with one field replaced by each odd value. */
function* variants(shape: MediaFrameShape): Generator<unknown> {
  const base = validFrame(shape);
  yield base;
  for (const key of ['event', shape.sequenceKey, shape.streamKey, 'media']) {
    for (const odd of ODD_VALUES) yield { ...base, [key]: odd };
  }
  const media = base['media'] as Record<string, unknown>;
  for (const key of ['track', 'chunk', 'timestamp', 'payload']) {
    for (const odd of ODD_VALUES) yield { ...base, media: { ...media, [key]: odd } };
  }
  yield { ...base, media: { ...media, payload: 'A'.repeat(shape.maxPayloadLength) } };
  yield { ...base, media: { ...media, payload: 'A'.repeat(shape.maxPayloadLength + 4) } };
  yield { ...base, extra: 1, media: { ...media, extra: 'kept out' } };
  for (const odd of ODD_VALUES) yield odd;
}

/** A deterministic generator, so a failure can be run again. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function* randomFrames(shape: MediaFrameShape, count: number): Generator<unknown> {
  const next = random(42);
  const pick = (): unknown => ODD_VALUES[Math.floor(next() * ODD_VALUES.length)];
  for (let i = 0; i < count; i++) {
    const frame = validFrame(shape);
    const media = frame['media'] as Record<string, unknown>;
    for (const key of Object.keys(frame)) if (next() < 0.15) frame[key] = pick();
    for (const key of Object.keys(media)) if (next() < 0.15) media[key] = pick();
    yield frame;
  }
}

function checkAgreement(provider: Provider, frame: unknown): void {
  const fast = readMediaFrame(frame, provider.shape);
  if (fast === null) return;
  const parsed = provider.schema.safeParse(frame);
  assert.ok(parsed.success, `${provider.name} schema rejects ${JSON.stringify(frame)}`);
  const data = parsed.data as Record<string, unknown> & { media: Record<string, unknown> };
  assert.equal(data['event'], 'media');
  assert.equal(data[provider.shape.streamKey], fast.streamId);
  assert.equal(data.media['payload'], fast.payload);
  assert.equal(data.media['chunk'], fast.chunk);
  assert.equal(data.media['timestamp'], fast.timestamp);
  if (provider.shape.track) assert.equal(data.media['track'], fast.track);
}

for (const provider of PROVIDERS) {
  describe(`${provider.name} media frame check`, () => {
    test('valid frame takes the fast path', () => {
      const fields = readMediaFrame(validFrame(provider.shape), provider.shape);
      assert.ok(fields !== null);
      assert.equal(fields.streamId, 'MZstream');
      assert.equal(fields.payload, PAYLOAD);
    });

    test('accepted frames match the schema', () => {
      let accepted = 0;
      for (const frame of variants(provider.shape)) {
        checkAgreement(provider, frame);
        if (readMediaFrame(frame, provider.shape) !== null) accepted++;
      }
      assert.ok(accepted > 10, `only ${accepted} variants took the fast path`);
    });

    test('random frames match the schema', () => {
      for (const frame of randomFrames(provider.shape, 3000)) checkAgreement(provider, frame);
    });
  });
}
