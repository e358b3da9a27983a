import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { encodeMulaw, pcmFromBytes } from '@voxfleet/audio';
import { parseKeyValueList } from '../src/protocol/plivo.js';
import { StreamDecoder } from '../src/protocol/stream-decoder.js';
import {
  defineConformanceTests,
  l16Base64,
  tone,
  type Dialect,
  type OutboundMessage,
} from './protocol-conformance.js';

/** Plivo's default stream format, `audio/x-l16;rate=8000`, in 20 ms media messages. */
const plivo: Dialect = {
  provider: 'plivo',
  samplesPerMedia: 160,
  newStreamId: () => randomUUID(),
  connected: () => null,
  start: ({ streamId, carrierCallId, params }) => ({
    event: 'start',
    sequenceNumber: 1,
    start: {
      callId: carrierCallId,
      streamId,
      accountId: 'MAtest',
      tracks: ['inbound'],
      mediaFormat: { encoding: 'audio/x-l16', sampleRate: 8000 },
    },
    extra_headers: Object.entries(params)
      .map(([key, value]) => `${key}=${value}`)
      .join(';'),
  }),
  media: (streamId, index, pcm) => ({
    event: 'media',
    sequenceNumber: index + 1,
    streamId,
    media: {
      track: 'inbound',
      timestamp: String(index * 20),
      chunk: index,
      payload: l16Base64(pcm),
    },
  }),
  dtmf: (streamId, digit) => ({ event: 'dtmf', sequenceNumber: 2, streamId, dtmf: { digit } }),
  markAck: (streamId, name) => ({ event: 'playedStream', sequenceNumber: 3, streamId, name }),
  stop: (streamId) => ({ event: 'stop', sequenceNumber: 4, streamId }),
  readOutbound(message, streamId): OutboundMessage {
    if (message['event'] === 'playAudio') {
      const media = message['media'] as {
        contentType: string;
        sampleRate: number;
        payload: string;
      };
      assert.equal(media.contentType, 'audio/x-l16');
      assert.equal(media.sampleRate, 8000);
      const bytes = Buffer.from(media.payload, 'base64');
      return { kind: 'media', samples8k: pcmFromBytes(bytes).length, bytes: bytes.length };
    }
    assert.equal(message['streamId'], streamId);
    if (message['event'] === 'checkpoint') return { kind: 'mark', name: String(message['name']) };
    assert.equal(message['event'], 'clearAudio');
    return { kind: 'clear' };
  },
};

defineConformanceTests(plivo);

function startFrame(encoding: string, sampleRate: number): string {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: 1,
    start: { callId: 'call-uuid', streamId: 'stream-uuid', mediaFormat: { encoding, sampleRate } },
    extra_headers: 'token=abc,callId=c1',
  });
}

test('plivo: mulaw stream replies in mulaw with checkpoint and clearAudio', () => {
  const decoder = new StreamDecoder(null);
  const started = decoder.decode(startFrame('audio/x-mulaw', 8000));
  assert.ok(started.ok);
  const start = started.events[0];
  assert.equal(start?.type === 'start' ? start.start.provider : null, 'plivo');
  assert.deepEqual(start?.type === 'start' ? start.start.customParameters : null, {
    token: 'abc',
    callId: 'c1',
  });

  const media = decoder.decode(
    JSON.stringify({
      event: 'media',
      streamId: 'stream-uuid',
      media: { payload: Buffer.from(encodeMulaw(tone(160))).toString('base64') },
    }),
  );
  assert.ok(media.ok);
  assert.equal(media.events[0]?.type === 'media' ? media.events[0].pcm.length : 0, 160);

  const stream = decoder.stream;
  assert.ok(stream !== null);
  const play = JSON.parse(stream.buildMedia(tone(160))) as {
    event: string;
    media: { contentType: string; sampleRate: number; payload: string };
  };
  assert.equal(play.event, 'playAudio');
  assert.equal(play.media.contentType, 'audio/x-mulaw');
  assert.equal(play.media.sampleRate, 8000);
  assert.equal(Buffer.from(play.media.payload, 'base64').length, 160);
  assert.deepEqual(JSON.parse(stream.buildMark('m1')), {
    event: 'checkpoint',
    streamId: 'stream-uuid',
    name: 'm1',
  });
  assert.deepEqual(JSON.parse(stream.buildClear()), {
    event: 'clearAudio',
    streamId: 'stream-uuid',
  });

  const played = decoder.decode(
    JSON.stringify({ event: 'playedStream', streamId: 'stream-uuid', name: 'm1' }),
  );
  assert.deepEqual(played, { ok: true, events: [{ type: 'mark', name: 'm1' }] });
  const cleared = decoder.decode(
    JSON.stringify({ event: 'clearedAudio', streamId: 'stream-uuid' }),
  );
  assert.ok(cleared.ok);
  assert.equal(cleared.events[0]?.type, 'notice');
});

test('plivo: l16 at 16 kHz both ways', () => {
  const decoder = new StreamDecoder('plivo');
  assert.ok(decoder.decode(startFrame('audio/x-l16;rate=16000', 16000)).ok);
  const media = decoder.decode(
    JSON.stringify({
      event: 'media',
      streamId: 'stream-uuid',
      media: { payload: l16Base64(tone(320)) },
    }),
  );
  assert.ok(media.ok);
  assert.equal(media.events[0]?.type === 'media' ? media.events[0].pcm.length : 0, 160);
  const play = JSON.parse(decoder.stream?.buildMedia(tone(160)) ?? '{}') as {
    media: { sampleRate: number; payload: string };
  };
  assert.equal(play.media.sampleRate, 16000);
  assert.equal(Buffer.from(play.media.payload, 'base64').length, 640);
});

test('plivo: mulaw at 16 kHz is rejected as unsupported', () => {
  const decoder = new StreamDecoder(null);
  const result = decoder.decode(startFrame('audio/x-mulaw', 16000));
  assert.equal(result.ok ? null : result.reason, 'unsupported-format');
});

test('plivo: extra headers parse with either separator', () => {
  assert.deepEqual(parseKeyValueList('a=1;b=2,c=3,broken'), { a: '1', b: '2', c: '3' });
});
