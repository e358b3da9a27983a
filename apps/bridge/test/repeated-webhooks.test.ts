import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { InboundResponse } from '../src/inbound/markup.js';
import { RepeatedWebhooks } from '../src/inbound/repeated-webhooks.js';

function markup(body: string): InboundResponse {
  return { status: 200, contentType: 'text/xml', body };
}

test('repeated webhooks expire after window', async () => {
  let now = 0;
  const cache = new RepeatedWebhooks({ windowMs: 1_000, maxEntries: 10, now: () => now });
  let answers = 0;
  const answer = async () => markup(`answer ${++answers}`);

  const first = await cache.respond('CA1', answer);
  now = 999;
  const repeat = await cache.respond('CA1', answer);
  now = 1_000;
  const late = await cache.respond('CA1', answer);

  assert.deepEqual(first, { response: markup('answer 1'), repeated: false });
  assert.deepEqual(repeat, { response: markup('answer 1'), repeated: true });
  assert.deepEqual(late, { response: markup('answer 2'), repeated: false });
});

test('repeated webhooks forget a failed answer', async () => {
  const cache = new RepeatedWebhooks({ windowMs: 1_000, maxEntries: 10, now: () => 0 });
  await assert.rejects(
    cache.respond('CA1', () => Promise.reject(new Error('store down'))),
    /store down/,
  );
  const retry = await cache.respond('CA1', async () => markup('placed'));
  assert.deepEqual(retry, { response: markup('placed'), repeated: false });
});

test('repeated webhooks drop the oldest entry', async () => {
  const cache = new RepeatedWebhooks({ windowMs: 1_000, maxEntries: 2, now: () => 0 });
  for (const key of ['CA1', 'CA2', 'CA3']) await cache.respond(key, async () => markup(key));

  const oldest = await cache.respond('CA1', async () => markup('again'));
  const newest = await cache.respond('CA3', async () => markup('again'));
  assert.equal(oldest.repeated, false);
  assert.equal(newest.repeated, true);
  assert.equal(newest.response.body, 'CA3');
});
