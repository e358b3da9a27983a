import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttachCancelRequest, AttachRequest } from '@voxfleet/schema';
import { checkAttachCancelRequest, checkAttachRequest } from '../src/http/attach-body.js';

const ATTACH = {
  reservationToken: 'token-1',
  callId: 'call-1',
  botId: 'bot-1',
  tenantId: 'tenant-1',
  campaignId: null,
  contactId: 'contact-1',
  to: '+919800000001',
};

const ATTACH_CASES: Array<[string, unknown]> = [
  ['minimal', ATTACH],
  [
    'every field',
    {
      ...ATTACH,
      campaignId: 'c1',
      streamTimeoutMs: 1_000,
      reservedAt: '2026-02-28T23:59:59.123Z',
      media: { kind: 'livekit', room: 'room-1' },
    },
  ],
  ['websocket media', { ...ATTACH, media: { kind: 'websocket' } }],
  ['leap day', { ...ATTACH, reservedAt: '2024-02-29T00:00:00Z' }],
  ['not a leap day', { ...ATTACH, reservedAt: '2023-02-29T00:00:00Z' }],
  ['day 31 of a 30-day month', { ...ATTACH, reservedAt: '2026-04-31T00:00:00Z' }],
  ['time with an offset', { ...ATTACH, reservedAt: '2026-01-01T00:00:00+01:00' }],
  ['time without seconds', { ...ATTACH, reservedAt: '2026-01-01T00:00Z' }],
  ['reservedAt a number', { ...ATTACH, reservedAt: 5 }],
  ['null body', null],
  ['array body', [ATTACH]],
  ['string body', 'attach'],
  ['missing token', { ...ATTACH, reservationToken: undefined }],
  ['empty token', { ...ATTACH, reservationToken: '' }],
  ['long call id', { ...ATTACH, callId: 'c'.repeat(129) }],
  // zod 4 counts string length in code points; each emoji is two UTF-16 code units.
  ['call id of 128 emoji', { ...ATTACH, callId: '😀'.repeat(128) }],
  ['call id of 129 emoji', { ...ATTACH, callId: '😀'.repeat(129) }],
  ['campaignId missing', { ...ATTACH, campaignId: undefined }],
  ['contactId a number', { ...ATTACH, contactId: 4 }],
  ['not E.164', { ...ATTACH, to: '09800000001' }],
  ['to a number', { ...ATTACH, to: 919800000001 }],
  ['timeout too short', { ...ATTACH, streamTimeoutMs: 999 }],
  ['timeout fractional', { ...ATTACH, streamTimeoutMs: 1500.5 }],
  ['timeout a string', { ...ATTACH, streamTimeoutMs: '5000' }],
  ['unknown field', { ...ATTACH, priority: 1 }],
  ['unknown media kind', { ...ATTACH, media: { kind: 'sip' } }],
  ['livekit without room', { ...ATTACH, media: { kind: 'livekit' } }],
  ['media with extra field', { ...ATTACH, media: { kind: 'websocket', room: 'r' } }],
  ['media not an object', { ...ATTACH, media: 'websocket' }],
];

test('checkAttachRequest accepts what AttachRequest accepts', () => {
  for (const [name, body] of ATTACH_CASES) {
    const shared = AttachRequest.safeParse(body);
    const checked = checkAttachRequest(body);
    assert.equal(checked.ok, shared.success, `${name}: accepted by one check only`);
    if (checked.ok && shared.success) {
      assert.deepEqual(checked.value, shared.data, `${name}: parsed values differ`);
    }
  }
});

test('checkAttachRequest names each invalid field', () => {
  const checked = checkAttachRequest({ ...ATTACH, to: '123', callId: '', extra: 1 });
  assert.equal(checked.ok, false);
  const message = checked.ok ? '' : checked.message;
  assert.match(message, /E\.164/);
  assert.match(message, /at callId/);
  assert.match(message, /unrecognized key: "extra"/);
});

test('checkAttachCancelRequest accepts what AttachCancelRequest accepts', () => {
  const cases: unknown[] = [
    { reservationToken: 't', reason: 'no-answer' },
    { reservationToken: 't' },
    { reservationToken: '', reason: 'busy' },
    { reservationToken: 't', reason: 'r'.repeat(65) },
    { reservationToken: 't', reason: '😀'.repeat(64) },
    { reservationToken: 't', reason: 'busy', extra: true },
    null,
    [],
  ];
  for (const body of cases) {
    const shared = AttachCancelRequest.safeParse(body);
    const checked = checkAttachCancelRequest(body);
    assert.equal(checked.ok, shared.success, `${JSON.stringify(body)}: accepted by one check only`);
    if (checked.ok && shared.success) assert.deepEqual(checked.value, shared.data);
  }
});
