import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildClearMessage,
  buildMarkMessage,
  buildMediaMessage,
  parseInboundFrame,
} from '../src/protocol/twilio.js';

const SID = 'MZ0123456789abcdef';

test('parseInboundFrame accepts each Twilio event', () => {
  const frames = [
    { event: 'connected', protocol: 'Call', version: '1.0.0' },
    {
      event: 'start',
      sequenceNumber: '1',
      streamSid: SID,
      start: {
        streamSid: SID,
        accountSid: 'AC1',
        callSid: 'CA1',
        tracks: ['inbound'],
        customParameters: { token: 't' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    },
    {
      event: 'media',
      sequenceNumber: '2',
      streamSid: SID,
      media: { track: 'inbound', chunk: '1', timestamp: '5', payload: '//8=' },
    },
    {
      event: 'dtmf',
      sequenceNumber: '3',
      streamSid: SID,
      dtmf: { track: 'inbound_track', digit: '#' },
    },
    { event: 'mark', sequenceNumber: '4', streamSid: SID, mark: { name: 'menu:1' } },
    {
      event: 'stop',
      sequenceNumber: '5',
      streamSid: SID,
      stop: { accountSid: 'AC1', callSid: 'CA1' },
    },
  ];
  for (const frame of frames) {
    const parsed = parseInboundFrame(JSON.stringify(frame));
    assert.equal(parsed.ok, true, `${frame.event} was rejected`);
    if (parsed.ok) assert.equal(parsed.frame.event, frame.event);
  }
});

test('parseInboundFrame rejects invalid frames without throwing', () => {
  const cases: Array<[string, 'invalid-json' | 'invalid-frame']> = [
    ['{"event":', 'invalid-json'],
    ['[]', 'invalid-frame'],
    ['{"event":"hello"}', 'invalid-frame'],
    [
      JSON.stringify({ event: 'media', streamSid: SID, media: { payload: 'not base64!' } }),
      'invalid-frame',
    ],
    [JSON.stringify({ event: 'dtmf', streamSid: SID, dtmf: { digit: '12' } }), 'invalid-frame'],
    [
      JSON.stringify({ event: 'start', streamSid: SID, start: { customParameters: { a: 1 } } }),
      'invalid-frame',
    ],
    [JSON.stringify({ event: 'mark', streamSid: SID, mark: {} }), 'invalid-frame'],
  ];
  for (const [text, reason] of cases) {
    const parsed = parseInboundFrame(text);
    assert.equal(parsed.ok, false, `accepted ${text}`);
    if (!parsed.ok) assert.equal(parsed.reason, reason, text);
  }
});

test('outbound messages carry the stream id', () => {
  const media = JSON.parse(buildMediaMessage(SID, new Uint8Array(160).fill(0xff))) as {
    event: string;
    streamSid: string;
    media: { payload: string };
  };
  assert.equal(media.event, 'media');
  assert.equal(media.streamSid, SID);
  assert.equal(Buffer.from(media.media.payload, 'base64').byteLength, 160);
  assert.deepEqual(JSON.parse(buildMarkMessage(SID, 'm1')), {
    event: 'mark',
    streamSid: SID,
    mark: { name: 'm1' },
  });
  assert.deepEqual(JSON.parse(buildClearMessage(SID)), { event: 'clear', streamSid: SID });
});
