/**
 * Reading the Redis backend's stream entries: one `events` field per entry, the earlier
 * layout of one field per attribute, and values that are not events.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MalformedStreamEntryError, toSlotEvents } from '../src/redis/event-stream.js';

/** Joins events as the functions write them: parts by U+001F, events by U+001E. */
function packEvents(events: string[][]): string {
  return events.map((parts) => parts.join('\u001f')).join('\u001e');
}

test('event stream reads one field per entry', () => {
  const value = packEvents([
    ['reserved', 'w1', 'host-a', 'call-1', '1733350000000001', 't1', ''],
    ['drain', 'w2', 'host-b'],
    ['released', 'w1', 'host-a', 'call-1', '1733350000000001', '', 'k1'],
  ]);
  const events = toSlotEvents(['1733350000123-4', ['events', value]], 'default');
  assert.deepEqual(events, [
    {
      id: '1733350000123-4',
      type: 'reserved',
      workerId: 'w1',
      pool: 'default',
      host: 'host-a',
      at: 1733350000123,
      callId: 'call-1',
      fence: 1733350000000001,
      tenantId: 't1',
    },
    {
      id: '1733350000123-4.1',
      type: 'drain',
      workerId: 'w2',
      pool: 'default',
      host: 'host-b',
      at: 1733350000123,
    },
    {
      id: '1733350000123-4.2',
      type: 'released',
      workerId: 'w1',
      pool: 'default',
      host: 'host-a',
      at: 1733350000123,
      callId: 'call-1',
      fence: 1733350000000001,
      campaignId: 'k1',
    },
  ]);
});

test('event stream reads entries of the earlier layout', () => {
  const events = toSlotEvents(
    [
      '1733350000123-0',
      [
        'type',
        'confirmed',
        'workerId',
        'w1',
        'host',
        'host-a',
        'callId',
        'call-1',
        'fence',
        '42',
        'tenantId',
        't1',
        'type',
        'undrain',
        'workerId',
        'w2',
        'host',
        'host-b',
      ],
    ],
    'p',
  );
  assert.deepEqual(
    events.map((event) => [event.id, event.type, event.workerId, event.fence, event.tenantId]),
    [
      ['1733350000123-0', 'confirmed', 'w1', 42, 't1'],
      ['1733350000123-0.1', 'undrain', 'w2', undefined, undefined],
    ],
  );
});

test('event stream rejects values that are not events', () => {
  const cases: [fields: string[], message: RegExp][] = [
    [['events', packEvents([['reserved', 'w1']])], /an event of 2 parts; expected 3 or 7/],
    [['events', packEvents([['exploded', 'w1', 'h']])], /unknown event type "exploded"/],
    [['events', ''], /an event of 1 parts/],
    [['reserved', 'w1'], /fields \["reserved"\]; expected the one field "events"/],
    [['events', packEvents([['drain', 'w1', 'h']]), 'note', 'x'], /fields \["events","note"\]/],
    [
      ['events', packEvents([['reserved', 'w1', 'h', 'c1', 'soon', '', '']])],
      /a reserved event without a worker id, call id or numeric fence/,
    ],
    [['events', packEvents([['drain', '', 'h']])], /a drain event without a worker id/],
  ];
  for (const [fields, message] of cases) {
    assert.throws(
      () => toSlotEvents(['1-0', fields], 'p'),
      (err: unknown) => {
        assert.ok(err instanceof MalformedStreamEntryError, String(err));
        assert.match(err.message, /^stream entry 1-0 is not registry events: /);
        assert.match(err.message, message);
        return true;
      },
    );
  }
});
