import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resample } from '@voxfleet/audio';
import { StreamDecoder } from '../src/protocol/stream-decoder.js';
import {
  defineConformanceTests,
  l16Base64,
  tone,
  type Dialect,
  type OutboundMessage,
} from './protocol-conformance.js';

/** Exotel at `?sample-rate=16000`: 100 ms of 16-bit PCM at 16 kHz per media message. */
const exotel: Dialect = {
  provider: 'exotel',
  samplesPerMedia: 800,
  newStreamId: () => `MZ${Math.random().toString(16).slice(2, 18)}`,
  connected: () => ({ event: 'connected' }),
  start: ({ streamId, carrierCallId, params }) => ({
    event: 'start',
    sequence_number: '1',
    stream_sid: streamId,
    start: {
      stream_sid: streamId,
      call_sid: carrierCallId,
      account_sid: 'exotel-account',
      from: '+919800000001',
      to: '+918000000000',
      custom_parameters: params,
      media_format: { encoding: 'audio/x-raw', sample_rate: '16000', bit_rate: '16' },
    },
  }),
  media: (streamId, index, pcm) => ({
    event: 'media',
    sequence_number: String(index + 1),
    stream_sid: streamId,
    media: {
      chunk: String(index),
      timestamp: String(index * 100),
      payload: l16Base64(resample(pcm, 8000, 16000)),
    },
  }),
  dtmf: (streamId, digit) => ({
    event: 'dtmf',
    sequence_number: '2',
    stream_sid: streamId,
    dtmf: { digit, duration: '100' },
  }),
  markAck: (streamId, name) => ({
    event: 'mark',
    sequence_number: '3',
    stream_sid: streamId,
    mark: { name },
  }),
  stop: (streamId) => ({
    event: 'stop',
    sequence_number: '4',
    stream_sid: streamId,
    stop: { call_sid: 'c', account_sid: 'a', reason: 'callended' },
  }),
  readOutbound(message, streamId): OutboundMessage {
    assert.equal(message['stream_sid'], streamId);
    if (message['event'] === 'media') {
      const bytes = Buffer.from((message['media'] as { payload: string }).payload, 'base64');
      assert.equal(
        bytes.length % 320,
        0,
        `chunk of ${bytes.length} bytes is not a multiple of 320`,
      );
      assert.ok(bytes.length >= 3_200, `chunk of ${bytes.length} bytes is under 3.2 KB`);
      assert.ok(bytes.length <= 100_000, `chunk of ${bytes.length} bytes is over 100 KB`);
      return { kind: 'media', samples8k: bytes.length / 4, bytes: bytes.length };
    }
    if (message['event'] === 'mark') {
      return { kind: 'mark', name: (message['mark'] as { name: string }).name };
    }
    assert.equal(message['event'], 'clear');
    return { kind: 'clear' };
  },
};

defineConformanceTests(exotel);

function startFrame(sampleRate: string): string {
  return JSON.stringify({
    event: 'start',
    stream_sid: 'MZ1',
    start: {
      call_sid: 'CA1',
      custom_parameters: { token: 't' },
      media_format: { encoding: 'audio/x-raw', sample_rate: sampleRate, bit_rate: '16' },
    },
  });
}

test('exotel: 8, 16 and 24 kHz media decode to 8 kHz', () => {
  for (const rate of [8000, 16000, 24000]) {
    const decoder = new StreamDecoder(null);
    const started = decoder.decode(startFrame(String(rate)));
    assert.ok(started.ok, `start at ${rate} Hz`);
    assert.equal(started.events[0]?.type, 'start');
    const wire = resample(tone(800), 8000, rate);
    const decoded = decoder.decode(
      JSON.stringify({ event: 'media', stream_sid: 'MZ1', media: { payload: l16Base64(wire) } }),
    );
    assert.ok(decoded.ok, `rate ${rate}`);
    const event = decoded.events[0];
    assert.equal(event?.type, 'media');
    assert.equal(event?.type === 'media' ? event.pcm.length : 0, 800, `rate ${rate}`);
  }
});

test('exotel: outbound chunks follow the 320-byte rule at 24 kHz', () => {
  const decoder = new StreamDecoder('exotel');
  assert.ok(decoder.decode(startFrame('24000')).ok);
  const stream = decoder.stream;
  assert.ok(stream !== null);
  const message = JSON.parse(stream.buildMedia(tone(stream.outboundFrameSamples))) as {
    media: { payload: string };
  };
  const bytes = Buffer.from(message.media.payload, 'base64').length;
  assert.equal(bytes, 9_600);
  assert.equal(bytes % 320, 0);
  assert.deepEqual(JSON.parse(stream.buildClear()), { event: 'clear', stream_sid: 'MZ1' });
});

test('exotel: unsupported sample rate is rejected', () => {
  const decoder = new StreamDecoder(null);
  const result = decoder.decode(startFrame('44100'));
  assert.equal(result.ok, false);
  assert.equal(decoder.stream, null);
});
