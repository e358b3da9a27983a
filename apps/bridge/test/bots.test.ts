import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { INTERNAL_TOKEN, SIMPLE_BOT, errorCode, json, startTestBridge } from './helpers.js';
import type { TestBridge } from './helpers.js';

interface ErrorBody {
  error: { code: string; message: string; details?: Array<{ path?: string; message: string }> };
}

describe('bot routes', () => {
  let t: TestBridge;

  before(async () => {
    t = await startTestBridge();
  });

  after(async () => {
    await t.close();
  });

  test('create applies config defaults', async () => {
    const response = await t.api('POST', '/v1/bots', SIMPLE_BOT);
    assert.equal(response.status, 201);
    const bot = (await response.json()) as {
      id: string;
      revision: number;
      config: { voice: string; bargeIn: boolean };
    };
    assert.equal(bot.revision, 1);
    assert.equal(bot.config.voice, 'en-us');
    assert.equal(bot.config.bargeIn, true);
  });

  test('unknown node target names field', async () => {
    const config = {
      start: 'greet',
      nodes: { greet: { type: 'say', prompt: { text: 'Hi' }, next: 'x' } },
    };
    const response = await t.api('POST', '/v1/bots', { name: 'broken', config });
    assert.equal(response.status, 400);
    const body = (await response.json()) as ErrorBody;
    assert.equal(body.error.code, 'VALIDATION_FAILED');
    assert.equal(body.error.message, 'config.nodes.greet.next: unknown node "x"');
    assert.deepEqual(body.error.details, [
      { path: 'config.nodes.greet.next', message: 'unknown node "x"' },
    ]);
  });

  test('several config errors are all listed', async () => {
    const config = {
      start: 'nowhere',
      nodes: {
        ask: { type: 'ask', prompt: { text: 'Press 1' }, digits: { '1': 'gone' }, noInput: 'ask' },
      },
    };
    const response = await t.api('POST', '/v1/bots', { name: 'broken', config });
    const body = (await response.json()) as ErrorBody;
    const paths = body.error.details?.map((d) => d.path).sort();
    assert.deepEqual(paths, ['config.nodes.ask.digits.1', 'config.start']);
  });

  test('wrong node type and missing fields', async () => {
    const response = await t.api('POST', '/v1/bots', {
      name: '',
      config: { start: 'a', nodes: { a: { type: 'jump' } } },
    });
    assert.equal(response.status, 400);
    const body = (await response.json()) as ErrorBody;
    const paths = body.error.details?.map((d) => d.path) ?? [];
    assert.ok(paths.includes('name'), `paths: ${paths.join(', ')}`);
    assert.ok(paths.includes('config.nodes.a.type'), `paths: ${paths.join(', ')}`);
  });

  test('malformed JSON is 400', async () => {
    const response = await t.api('POST', '/v1/bots', '{"name":', {
      'content-type': 'application/json',
    });
    assert.equal(response.status, 400);
    assert.equal(await errorCode(response), 'VALIDATION_FAILED');
  });

  test('update bumps revision and list shows it', async () => {
    const bot = await json(await t.api('POST', '/v1/bots', SIMPLE_BOT));
    const id = String(bot.id);
    const updated = await t.api('PUT', `/v1/bots/${id}`, { ...SIMPLE_BOT, name: 'renamed' });
    assert.equal(updated.status, 200);
    const body = await json(updated);
    assert.equal(body.revision, 2);
    assert.equal(body.name, 'renamed');

    const list = (await (await t.api('GET', '/v1/bots')).json()) as {
      items: Array<{ id: string; revision: number }>;
    };
    assert.equal(list.items.find((b) => b.id === id)?.revision, 2);
  });

  test('invalid update keeps stored bot', async () => {
    const bot = await json(await t.api('POST', '/v1/bots', SIMPLE_BOT));
    const id = String(bot.id);
    const bad = await t.api('PUT', `/v1/bots/${id}`, {
      name: 'x',
      config: { start: 'missing', nodes: {} },
    });
    assert.equal(bad.status, 400);
    const read = await json(await t.api('GET', `/v1/bots/${id}`));
    assert.equal(read.revision, 1);
    assert.equal(read.name, SIMPLE_BOT.name);
  });

  test('unknown bot is 404', async () => {
    const response = await t.api('GET', '/v1/bots/bot_missing');
    assert.equal(response.status, 404);
    assert.equal(await errorCode(response), 'BOT_NOT_FOUND');
  });

  test('runtime config for worker', async () => {
    const bot = await json(await t.api('POST', '/v1/bots', SIMPLE_BOT));
    const response = await t.internal('GET', `/internal/bots/${String(bot.id)}/runtime-config`);
    assert.equal(response.status, 200);
    const config = (await response.json()) as {
      botId: string;
      revision: number;
      tenantId: string;
      config: { start: string };
    };
    assert.equal(config.botId, bot.id);
    assert.equal(config.revision, 1);
    assert.equal(config.config.start, 'greet');
    assert.ok(config.tenantId.startsWith('ten_'));

    const missing = await fetch(`${t.url}/internal/bots/bot_missing/runtime-config`, {
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
    });
    assert.equal(missing.status, 404);
    assert.equal(await errorCode(missing), 'BOT_NOT_FOUND');
  });
});
