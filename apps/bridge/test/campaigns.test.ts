import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  ADMIN_KEY,
  SIMPLE_BOT,
  createCampaign,
  errorCode,
  json,
  startTestBridge,
} from './helpers.js';
import type { TestBridge } from './helpers.js';

const CSV = { 'content-type': 'text/csv' };

interface ImportBody {
  imported: number;
  rejected: Array<{ line: number; errors: string[] }>;
}

describe('campaign routes', () => {
  let t: TestBridge;
  let botId: string;

  before(async () => {
    t = await startTestBridge();
    botId = String((await json(await t.api('POST', '/v1/bots', SIMPLE_BOT))).id);
  });

  after(async () => {
    await t.close();
  });

  async function newCampaign(extra: Record<string, unknown> = {}): Promise<string> {
    const response = await t.api('POST', '/v1/campaigns', { name: 'spring', botId, ...extra });
    assert.equal(response.status, 201);
    return String((await json(response)).id);
  }

  test('create applies defaults', async () => {
    const response = await t.api('POST', '/v1/campaigns', { name: 'spring', botId });
    const body = await json(response);
    assert.equal(body.status, 'draft');
    assert.equal(body.concurrency, 1);
    assert.equal(body.maxAttempts, 3);
    assert.equal(body.callerId, null);
  });

  test('create rejects bad fields and unknown bot', async () => {
    const bad = await t.api('POST', '/v1/campaigns', {
      name: 'x',
      botId,
      concurrency: 0,
      callerId: '555',
    });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { error: { details: Array<{ path: string }> } };
    assert.deepEqual(body.error.details.map((d) => d.path).sort(), ['callerId', 'concurrency']);
    const unknown = await t.api('POST', '/v1/campaigns', { name: 'x', botId: 'bot_missing' });
    assert.equal(unknown.status, 404);
    assert.equal(await errorCode(unknown), 'BOT_NOT_FOUND');
  });

  test('csv import reports bad rows by line', async () => {
    const id = await newCampaign();
    const csv = [
      'phone,name,scenario,city',
      '+919800000001,Asha,speak,Pune',
      'not-a-phone,Ravi,,Delhi',
      '',
      '+919800000001,Dup,,Mumbai',
      '+919800000002,Meera,dance,Goa',
      '+919800000003,"Multi',
      'line",,Agra',
      '+919800000004,Short',
      '+919800000005,,,',
    ].join('\n');
    const response = await t.api('POST', `/v1/campaigns/${id}/contacts`, csv, CSV);
    assert.equal(response.status, 200);
    const body = (await response.json()) as ImportBody;
    assert.equal(body.imported, 3);
    assert.deepEqual(
      body.rejected.map((r) => r.line),
      [3, 5, 6, 9],
    );
    assert.match(body.rejected[0]?.errors[0] ?? '', /^phone: must be an E\.164 number/);
    assert.match(body.rejected[1]?.errors[0] ?? '', /repeats line 2/);
    assert.match(body.rejected[2]?.errors[0] ?? '', /^scenario: "dance" is not one of/);
    assert.match(body.rejected[3]?.errors[0] ?? '', /expected 4 fields, found 2/);

    const contacts = (await (await t.api('GET', `/v1/campaigns/${id}/contacts`)).json()) as {
      items: Array<{
        phone: string;
        name: string | null;
        scenario: string | null;
        variables: Record<string, string>;
        state: string;
      }>;
    };
    assert.equal(contacts.items.length, 3);
    assert.deepEqual(contacts.items[0], {
      ...contacts.items[0],
      phone: '+919800000001',
      name: 'Asha',
      scenario: 'speak',
      variables: { city: 'Pune' },
      state: 'pending',
    });
    assert.equal(contacts.items[1]?.name, 'Multi\nline');
  });

  test('second import rejects stored phones', async () => {
    const id = await newCampaign();
    await t.api('POST', `/v1/campaigns/${id}/contacts`, 'phone\n+919800000001\n', CSV);
    const response = await t.api(
      'POST',
      `/v1/campaigns/${id}/contacts`,
      'phone\n+919800000002\n+919800000001\n',
      CSV,
    );
    const body = (await response.json()) as ImportBody;
    assert.equal(body.imported, 1);
    assert.deepEqual(body.rejected, [
      { line: 3, errors: ['phone: +919800000001 is already in this campaign'] },
    ]);
  });

  test('empty and header-less csv are 400', async () => {
    const id = await newCampaign();
    const empty = await t.api('POST', `/v1/campaigns/${id}/contacts`, '', CSV);
    assert.equal(empty.status, 400);
    assert.equal(await errorCode(empty), 'CSV_EMPTY');
    const headerless = await t.api(
      'POST',
      `/v1/campaigns/${id}/contacts`,
      '+919800000001,Asha\n',
      CSV,
    );
    assert.equal(headerless.status, 400);
    assert.equal(await errorCode(headerless), 'CSV_HEADER_INVALID');
    const brokenHeader = await t.api(
      'POST',
      `/v1/campaigns/${id}/contacts`,
      'phone,"name\n+919800000001,Asha\n',
      CSV,
    );
    assert.equal(brokenHeader.status, 400);
    assert.equal(await errorCode(brokenHeader), 'CSV_INVALID');
    const contacts = (await (await t.api('GET', `/v1/campaigns/${id}/contacts`)).json()) as {
      items: unknown[];
    };
    assert.equal(contacts.items.length, 0);
  });

  test('a quoted field left open rejects its row only', async () => {
    const id = await newCampaign();
    const csv = [
      'phone,name',
      '+919800000001,"Asha',
      '+919800000002,Ravi',
      '',
      '+919800000003,"Kiran, K"',
      '+919800000004,"Meena',
      '+919800000005,"Multi',
      'line"',
      '+919800000006,Lata',
    ].join('\r\n');
    const response = await t.api('POST', `/v1/campaigns/${id}/contacts`, csv, CSV);
    assert.equal(response.status, 200);
    const body = (await response.json()) as ImportBody;
    assert.deepEqual(body.rejected, [
      { line: 2, errors: ['quoted field is not closed on this line'] },
      { line: 6, errors: ['quoted field is not closed on this line'] },
    ]);
    assert.equal(body.imported, 4);
    const contacts = (await (await t.api('GET', `/v1/campaigns/${id}/contacts`)).json()) as {
      items: Array<{ phone: string; name: string | null }>;
    };
    assert.deepEqual(
      contacts.items.map((c) => [c.phone, c.name]),
      [
        ['+919800000002', 'Ravi'],
        ['+919800000003', 'Kiran, K'],
        ['+919800000005', 'Multi\r\nline'],
        ['+919800000006', 'Lata'],
      ],
    );
  });

  test('a file of broken quotes is rejected whole', async () => {
    const id = await newCampaign();
    const rows = Array.from(
      { length: 30 },
      (_, i) => `+9198000001${String(i).padStart(2, '0')},"x`,
    );
    const response = await t.api(
      'POST',
      `/v1/campaigns/${id}/contacts`,
      ['phone,name', ...rows].join('\n'),
      CSV,
    );
    assert.equal(response.status, 400);
    assert.equal(await errorCode(response), 'CSV_INVALID');
  });

  test('a stray quote rejects its row only', async () => {
    const id = await newCampaign();
    const csv = ['phone,name', '+919800000001,Ra"vi', '+919800000002,Asha'].join('\n');
    const response = await t.api('POST', `/v1/campaigns/${id}/contacts`, csv, CSV);
    assert.equal(response.status, 200);
    const body = (await response.json()) as ImportBody;
    assert.equal(body.imported, 1);
    assert.equal(body.rejected.length, 1);
    assert.equal(body.rejected[0]?.line, 2);
    assert.match(body.rejected[0]?.errors[0] ?? '', /^quote inside an unquoted field/);
  });

  test('too many broken quotes names a line', async () => {
    const id = await newCampaign();
    const good = Array.from({ length: 500 }, (_, i) => `+91980001${String(i).padStart(4, '0')},x`);
    const broken = Array.from(
      { length: 21 },
      (_, i) => `+9198000200${String(i).padStart(2, '0')},"x`,
    );
    // Line 2 to 22 are broken, then 500 good rows follow.
    const csv = ['phone,name', ...broken, ...good].join('\n');
    const response = await t.api('POST', `/v1/campaigns/${id}/contacts`, csv, CSV);
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'CSV_INVALID');
    assert.match(body.error.message, /more than 20 rows have broken quotes, such as line 22:/);
  });

  test('too many invalid rows reject the file', async () => {
    const id = await newCampaign();
    const good = '+919800000001,Asha';
    const files = {
      'wrong field count': ['phone,name', good, ...Array.from({ length: 1001 }, () => 'x')],
      'invalid phones': ['phone,name', good, ...Array.from({ length: 1001 }, () => '12,x')],
    };
    for (const [label, rows] of Object.entries(files)) {
      const response = await t.api('POST', `/v1/campaigns/${id}/contacts`, rows.join('\n'), CSV);
      assert.equal(response.status, 400, label);
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'CSV_INVALID', label);
      assert.match(body.error.message, /more than 1000 rows are invalid, such as line \d+:/, label);
    }
    const contacts = (await (await t.api('GET', `/v1/campaigns/${id}/contacts`)).json()) as {
      items: unknown[];
    };
    assert.equal(contacts.items.length, 0);
  });

  test('a __proto__ column is rejected', async () => {
    const id = await newCampaign();
    const csv = ['phone,__proto__,city', '+919800000001,x,Pune'].join('\n');
    const response = await t.api('POST', `/v1/campaigns/${id}/contacts`, csv, CSV);
    assert.equal(response.status, 400);
    assert.equal(await errorCode(response), 'CSV_HEADER_INVALID');
  });

  test('xml body on csv route is 415', async () => {
    const id = await newCampaign();
    const response = await t.api('POST', `/v1/campaigns/${id}/contacts`, 'phone', {
      'content-type': 'application/xml',
    });
    assert.equal(response.status, 415);
    assert.equal(await errorCode(response), 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('start without contacts is 409', async () => {
    const id = await newCampaign();
    const response = await t.api('POST', `/v1/campaigns/${id}/start`);
    assert.equal(response.status, 409);
    assert.equal(await errorCode(response), 'CAMPAIGN_HAS_NO_CONTACTS');
    assert.equal((await json(await t.api('GET', `/v1/campaigns/${id}`))).status, 'draft');
  });

  test('start pause resume cycle', async () => {
    const id = await newCampaign();
    const draftPause = await t.api('POST', `/v1/campaigns/${id}/pause`);
    assert.equal(draftPause.status, 409);
    assert.equal(await errorCode(draftPause), 'CAMPAIGN_INVALID_STATE');
    await t.api('POST', `/v1/campaigns/${id}/contacts`, 'phone\n+919800000001\n', CSV);
    assert.equal((await json(await t.api('POST', `/v1/campaigns/${id}/start`))).status, 'running');
    assert.equal((await json(await t.api('POST', `/v1/campaigns/${id}/pause`))).status, 'paused');
    assert.equal((await json(await t.api('POST', `/v1/campaigns/${id}/start`))).status, 'running');
  });

  test('detail includes progress', async () => {
    const { campaignId } = await createCampaign(t, 'phone\n+919800000001\n+919800000002\n');
    const detail = (await (await t.api('GET', `/v1/campaigns/${campaignId}`)).json()) as {
      progress: Record<string, unknown>;
    };
    assert.deepEqual(detail.progress, {
      total: 2,
      pending: 2,
      dialling: 0,
      done: 0,
      failed: 0,
      byCallStatus: {},
      byOutcome: {},
    });
    const list = (await (await t.api('GET', '/v1/campaigns')).json()) as {
      items: Array<{ id: string }>;
    };
    assert.ok(list.items.some((c) => c.id === campaignId));
  });

  test('contacts list pages with cursor', async () => {
    const { campaignId } = await createCampaign(
      t,
      'phone\n+919800000001\n+919800000002\n+919800000003\n',
    );
    const first = (await (
      await t.api('GET', `/v1/campaigns/${campaignId}/contacts?limit=2`)
    ).json()) as {
      items: Array<{ phone: string }>;
      nextCursor: string | null;
    };
    assert.equal(first.items.length, 2);
    assert.ok(first.nextCursor);
    const second = (await (
      await t.api('GET', `/v1/campaigns/${campaignId}/contacts?limit=2&cursor=${first.nextCursor}`)
    ).json()) as { items: Array<{ phone: string }>; nextCursor: string | null };
    assert.deepEqual(
      second.items.map((c) => c.phone),
      ['+919800000003'],
    );
    assert.equal(second.nextCursor, null);
    const bad = await t.api('GET', `/v1/campaigns/${campaignId}/contacts?limit=0`);
    assert.equal(bad.status, 400);
  });

  test('other tenant sees 404 for campaign', async () => {
    const { campaignId } = await createCampaign(t, 'phone\n+919800000001\n');
    const created = await t.api(
      'POST',
      '/v1/tenants',
      { name: 'rival' },
      { authorization: `Bearer ${ADMIN_KEY}` },
    );
    const { apiKey } = (await created.json()) as { apiKey: { key: string } };
    const other = { authorization: `Bearer ${apiKey.key}` };
    for (const [method, path] of [
      ['GET', `/v1/campaigns/${campaignId}`],
      ['GET', `/v1/campaigns/${campaignId}/contacts`],
      ['POST', `/v1/campaigns/${campaignId}/start`],
      ['POST', `/v1/campaigns/${campaignId}/pause`],
    ] as const) {
      const response = await t.api(method, path, undefined, other);
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal(await errorCode(response), 'CAMPAIGN_NOT_FOUND');
    }
    const upload = await t.api(
      'POST',
      `/v1/campaigns/${campaignId}/contacts`,
      'phone\n+919800000009\n',
      {
        ...other,
        ...CSV,
      },
    );
    assert.equal(upload.status, 404);
  });
});
