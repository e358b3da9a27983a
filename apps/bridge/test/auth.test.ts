import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ADMIN_KEY, API_KEY, SIMPLE_BOT, errorCode, json, startTestBridge } from './helpers.js';
import type { TestBridge } from './helpers.js';

describe('auth', () => {
  let t: TestBridge;

  before(async () => {
    t = await startTestBridge();
  });

  after(async () => {
    await t.close();
  });

  test('public route without key is 401', async () => {
    const response = await fetch(`${t.url}/v1/bots`);
    assert.equal(response.status, 401);
    assert.equal(await errorCode(response), 'AUTH_MISSING_API_KEY');
  });

  test('public route with wrong key is 401', async () => {
    const response = await t.api('GET', '/v1/bots', undefined, {
      authorization: 'Bearer vfk_wrong',
    });
    assert.equal(response.status, 401);
    assert.equal(await errorCode(response), 'AUTH_INVALID_API_KEY');
  });

  test('x-api-key header is accepted', async () => {
    const response = await fetch(`${t.url}/v1/bots`, { headers: { 'x-api-key': API_KEY } });
    assert.equal(response.status, 200);
  });

  test('internal route rejects API key', async () => {
    const response = await t.api('POST', '/internal/dialler/claim', { limit: 1 });
    assert.equal(response.status, 401);
    assert.equal(await errorCode(response), 'AUTH_INVALID_INTERNAL_TOKEN');
  });

  test('internal route without token is 401', async () => {
    const response = await fetch(`${t.url}/internal/bots/bot_x/runtime-config`);
    assert.equal(response.status, 401);
    assert.equal(await errorCode(response), 'AUTH_MISSING_INTERNAL_TOKEN');
  });

  test('admin creates tenant with working key', async () => {
    const created = await t.api(
      'POST',
      '/v1/tenants',
      { name: 'globex' },
      { authorization: `Bearer ${ADMIN_KEY}` },
    );
    assert.equal(created.status, 201);
    const body = (await created.json()) as {
      tenant: { name: string };
      apiKey: { key: string; prefix: string };
    };
    assert.equal(body.tenant.name, 'globex');
    assert.ok(body.apiKey.key.startsWith(body.apiKey.prefix));

    const list = await t.api('GET', '/v1/bots', undefined, {
      authorization: `Bearer ${body.apiKey.key}`,
    });
    assert.equal(list.status, 200);
    assert.deepEqual(await list.json(), { items: [] });

    const again = await t.api(
      'POST',
      '/v1/tenants',
      { name: 'globex' },
      { authorization: `Bearer ${ADMIN_KEY}` },
    );
    assert.equal(again.status, 409);
    assert.equal(await errorCode(again), 'TENANT_ALREADY_EXISTS');
  });

  test('tenant route rejects API key', async () => {
    const response = await t.api('POST', '/v1/tenants', { name: 'initech' });
    assert.equal(response.status, 401);
    assert.equal(await errorCode(response), 'AUTH_INVALID_ADMIN_KEY');
  });

  test('tenant name is validated', async () => {
    const response = await t.api(
      'POST',
      '/v1/tenants',
      { name: 'Bad Name' },
      { authorization: `Bearer ${ADMIN_KEY}` },
    );
    assert.equal(response.status, 400);
    const body = (await response.json()) as {
      error: { code: string; details: Array<{ path: string }> };
    };
    assert.equal(body.error.code, 'VALIDATION_FAILED');
    assert.equal(body.error.details[0]?.path, 'name');
  });

  test('other tenant sees 404 for bot', async () => {
    const bot = await json(await t.api('POST', '/v1/bots', SIMPLE_BOT));
    const created = await t.api(
      'POST',
      '/v1/tenants',
      { name: 'umbrella' },
      { authorization: `Bearer ${ADMIN_KEY}` },
    );
    const { apiKey } = (await created.json()) as { apiKey: { key: string } };
    const other = { authorization: `Bearer ${apiKey.key}` };

    const read = await t.api('GET', `/v1/bots/${String(bot.id)}`, undefined, other);
    assert.equal(read.status, 404);
    assert.equal(await errorCode(read), 'BOT_NOT_FOUND');
    const write = await t.api('PUT', `/v1/bots/${String(bot.id)}`, SIMPLE_BOT, other);
    assert.equal(write.status, 404);
    const mine = await t.api('GET', `/v1/bots/${String(bot.id)}`);
    assert.equal(mine.status, 200);
  });
});

test('admin route off without admin key', async (t) => {
  const bridge = await startTestBridge({ adminKey: undefined });
  t.after(() => bridge.close());
  const response = await bridge.api('POST', '/v1/tenants', { name: 'x' });
  assert.equal(response.status, 403);
  assert.equal(await errorCode(response), 'AUTH_ADMIN_DISABLED');
});
