import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMulaw, encodeMulaw } from '@voxfleet/audio';
import { computeTwilioSignature } from '../src/protocol/twilio-signature.js';
import {
  ProtocolCaller,
  defineConformanceTests,
  type Dialect,
  type OutboundMessage,
} from './protocol-conformance.js';
import { waitUntil } from './support/harness.js';

const twilio: Dialect = {
  provider: 'twilio',
  samplesPerMedia: 160,
  newStreamId: () => `MZ${Math.random().toString(16).slice(2, 18)}`,
  connected: () => ({ event: 'connected', protocol: 'Call', version: '1.0.0' }),
  start: ({ streamId, carrierCallId, params }) => ({
    event: 'start',
    sequenceNumber: '1',
    streamSid: streamId,
    start: {
      streamSid: streamId,
      accountSid: 'ACtest',
      callSid: carrierCallId,
      tracks: ['inbound'],
      customParameters: params,
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
  }),
  media: (streamId, index, pcm) => ({
    event: 'media',
    sequenceNumber: String(index + 1),
    streamSid: streamId,
    media: {
      track: 'inbound',
      chunk: String(index),
      timestamp: String(index * 20),
      payload: Buffer.from(encodeMulaw(pcm)).toString('base64'),
    },
  }),
  dtmf: (streamId, digit) => ({
    event: 'dtmf',
    streamSid: streamId,
    sequenceNumber: '1',
    dtmf: { track: 'inbound_track', digit },
  }),
  markAck: (streamId, name) => ({
    event: 'mark',
    sequenceNumber: '1',
    streamSid: streamId,
    mark: { name },
  }),
  stop: (streamId) => ({
    event: 'stop',
    sequenceNumber: '1',
    streamSid: streamId,
    stop: { accountSid: 'ACtest', callSid: 'CAtest' },
  }),
  readOutbound(message, streamId): OutboundMessage {
    assert.equal(message['streamSid'], streamId);
    if (message['event'] === 'media') {
      const media = message['media'] as { payload: string };
      const bytes = Buffer.from(media.payload, 'base64');
      assert.equal(bytes.length, 160, 'Twilio media frames are 20 ms of μ-law');
      return { kind: 'media', samples8k: decodeMulaw(bytes).length, bytes: bytes.length };
    }
    if (message['event'] === 'mark') {
      return { kind: 'mark', name: (message['mark'] as { name: string }).name };
    }
    assert.equal(message['event'], 'clear');
    return { kind: 'clear' };
  },
};

const context = defineConformanceTests(twilio);

test('twilio: signature matches an HMAC-SHA1 test vector', () => {
  // Computed independently: printf '%s' "$URL" | openssl sha1 -hmac secret -binary | base64
  const url = 'wss://worker.example/ws/bot-1?callId=c1&token=t1';
  assert.equal(computeTwilioSignature('secret', url), '+smbOBJiEvoyz+X3ewfhgXvUUpo=');
});

test('twilio: X-Twilio-Signature is verified when configured', async () => {
  const { url } = await context.harness.startWorker({
    workerId: 'signed',
    twilioAuthToken: 'auth-secret',
  });
  // Both workers share the registry: stop the unsigned one so reservations land here.
  const unsigned = context.harness.workers[0];
  await unsigned?.stop();
  await waitUntil(async () => (await fetch(`${url}/ready`)).status === 200, 'signed worker ready');

  const call = await context.attach(url);
  const signed = new URL(call.streamUrl);
  signed.protocol = 'ws:';

  await assert.rejects(
    ProtocolCaller.connect(twilio, call.streamUrl, {
      'x-twilio-signature': 'bm90IGEgc2lnbmF0dXJl',
    }),
    /status 403/,
  );

  const unsignedCaller = await ProtocolCaller.connect(twilio, call.streamUrl);
  unsignedCaller.open({});
  assert.equal(await unsignedCaller.waitForClose(), 1008, 'a Twilio start without a signature');

  const caller = await ProtocolCaller.connect(twilio, call.streamUrl, {
    'x-twilio-signature': computeTwilioSignature('auth-secret', signed.toString()),
  });
  caller.open({});
  await caller.waitForMark('greeting');
  caller.sendStop();
  const result = await context.harness.bridge.waitForResult(call.callId);
  assert.equal(result.outcome, 'caller-hangup');
});
