import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  ADMIN_KEY,
  INTERNAL_TOKEN,
  createCampaign,
  errorCode,
  makeResult,
  makeWav,
  startTestBridge,
} from './helpers.js';
import type { TestBridge } from './helpers.js';

const WAV = { 'content-type': 'audio/wav' };
const MAX_RECORDING_BYTES = 64 * 1024;

describe('result and recording routes', () => {
  let t: TestBridge;

  before(async () => {
    t = await startTestBridge({ maxRecordingBytes: MAX_RECORDING_BYTES });
  });

  after(async () => {
    await t.close();
  });

  /** Claims one new attempt and moves it to `in-progress`. */
  async function liveCall(): Promise<{ callId: string; botId: string }> {
    const phone = `+9198${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
    const { botId, campaignId } = await createCampaign(t, `phone\n${phone}\n`, { concurrency: 5 });
    await t.api('POST', `/v1/campaigns/${campaignId}/start`);
    const claimed = (await (
      await t.internal('POST', '/internal/dialler/claim', { limit: 1 })
    ).json()) as {
      attempts: Array<{ callId: string }>;
    };
    const callId = claimed.attempts[0]?.callId ?? '';
    await t.internal('POST', `/internal/calls/${callId}/status`, {
      status: 'in-progress',
      at: new Date().toISOString(),
    });
    return { callId, botId };
  }

  test('result is idempotent per call', async () => {
    const { callId, botId } = await liveCall();
    const result = makeResult(callId, botId);
    const first = await t.internal('POST', `/internal/calls/${callId}/result`, result);
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { accepted: true, duplicate: false });

    const before = await (await t.api('GET', `/v1/calls/${callId}`)).json();
    const second = await t.internal('POST', `/internal/calls/${callId}/result`, result);
    assert.equal(second.status, 200);
    assert.deepEqual(await second.json(), { accepted: true, duplicate: true });
    const afterRepeat = await (await t.api('GET', `/v1/calls/${callId}`)).json();
    assert.deepEqual(afterRepeat, before);

    const conflicting = await t.internal('POST', `/internal/calls/${callId}/result`, {
      ...result,
      outcome: 'other',
    });
    assert.equal(conflicting.status, 409);
    assert.equal(await errorCode(conflicting), 'CALL_RESULT_CONFLICT');
  });

  test('result turns completed into aborted', async () => {
    const { callId, botId } = await liveCall();
    await t.internal('POST', `/internal/calls/${callId}/status`, {
      status: 'completed',
      at: new Date().toISOString(),
    });
    const result = makeResult(callId, botId, {
      status: 'aborted',
      outcome: 'error',
      error: 'worker drained',
    });
    assert.equal(
      (await t.internal('POST', `/internal/calls/${callId}/result`, result)).status,
      200,
    );
    const call = (await (await t.api('GET', `/v1/calls/${callId}`)).json()) as {
      status: string;
      outcome: string;
      history: Array<{ status: string }>;
      result: { transcript: unknown[] };
    };
    assert.equal(call.status, 'aborted');
    assert.equal(call.outcome, 'error');
    assert.deepEqual(
      call.history.map((h) => h.status),
      ['queued', 'in-progress', 'completed', 'aborted'],
    );
    assert.equal(call.result.transcript.length, 2);
  });

  test('result for unknown call is 404', async () => {
    const response = await t.internal(
      'POST',
      '/internal/calls/call_missing/result',
      makeResult('call_missing', 'bot_x'),
    );
    assert.equal(response.status, 404);
    assert.equal(await errorCode(response), 'CALL_NOT_FOUND');
  });

  test('result with mismatched callId is 400', async () => {
    const { callId, botId } = await liveCall();
    const response = await t.internal(
      'POST',
      `/internal/calls/${callId}/result`,
      makeResult('call_other', botId),
    );
    assert.equal(response.status, 400);
    const invalid = await t.internal(
      'POST',
      `/internal/calls/${callId}/result`,
      makeResult(callId, botId, { hangupBy: 'nobody' }),
    );
    assert.equal(invalid.status, 400);
    const body = (await invalid.json()) as { error: { details: Array<{ path: string }> } };
    assert.equal(body.error.details[0]?.path, 'hangupBy');
    const call = (await (await t.api('GET', `/v1/calls/${callId}`)).json()) as {
      result: unknown;
      status: string;
    };
    assert.equal(call.result, null);
    assert.equal(call.status, 'in-progress');
  });

  test('recording upload and download round trip', async () => {
    const { callId, botId } = await liveCall();
    const wav = makeWav(4000);
    const upload = await t.internal('PUT', `/internal/calls/${callId}/recording`, wav, WAV);
    assert.equal(upload.status, 200);
    const stored = (await upload.json()) as { key: string; bytes: number };
    assert.equal(stored.bytes, wav.length);
    assert.ok(stored.key.endsWith(`${callId}.wav`));

    const repeat = await t.internal('PUT', `/internal/calls/${callId}/recording`, wav, WAV);
    assert.deepEqual(await repeat.json(), stored);

    const recording = {
      key: stored.key,
      contentType: 'audio/wav',
      bytes: wav.length,
      durationMs: 500,
      sampleRate: 8000,
      channels: 2,
    };
    await t.internal(
      'POST',
      `/internal/calls/${callId}/result`,
      makeResult(callId, botId, { recording }),
    );
    const detail = (await (await t.api('GET', `/v1/calls/${callId}`)).json()) as {
      recordingUrl: string;
      recording: { bytes: number; info: { durationMs: number } };
    };
    assert.equal(detail.recordingUrl, `/v1/calls/${callId}/recording`);
    assert.equal(detail.recording.bytes, wav.length);
    assert.equal(detail.recording.info.durationMs, 500);

    const download = await t.api('GET', detail.recordingUrl);
    assert.equal(download.status, 200);
    assert.equal(download.headers.get('content-type'), 'audio/wav');
    assert.equal(download.headers.get('content-length'), String(wav.length));
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), wav);
  });

  test('non-WAV upload is rejected', async () => {
    const { callId } = await liveCall();
    const text = Buffer.from('this is not audio at all, only text');
    const response = await t.internal('PUT', `/internal/calls/${callId}/recording`, text, WAV);
    assert.equal(response.status, 400);
    assert.equal(await errorCode(response), 'RECORDING_INVALID_WAV');
    const tiny = await t.internal(
      'PUT',
      `/internal/calls/${callId}/recording`,
      Buffer.from('RIFF'),
      WAV,
    );
    assert.equal(tiny.status, 400);
    const download = await t.api('GET', `/v1/calls/${callId}/recording`);
    assert.equal(download.status, 404);
    assert.equal(await errorCode(download), 'RECORDING_NOT_FOUND');
  });

  test('oversized upload is 413 and leaves no file', async () => {
    const { callId } = await liveCall();
    const response = await t.internal(
      'PUT',
      `/internal/calls/${callId}/recording`,
      makeWav(MAX_RECORDING_BYTES),
      WAV,
    );
    assert.equal(response.status, 413);
    assert.equal(await errorCode(response), 'RECORDING_TOO_LARGE');
    const tenants = await readdir(join(t.dir, 'recordings')).catch(() => []);
    for (const tenant of tenants) {
      const files = await readdir(join(t.dir, 'recordings', tenant));
      assert.ok(!files.some((f) => f.includes(callId) || f.endsWith('.tmp')), files.join(', '));
    }
  });

  test('chunked oversized upload is 413', async () => {
    const { callId } = await liveCall();
    const body = makeWav(MAX_RECORDING_BYTES);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let offset = 0; offset < body.length; offset += 8192)
          controller.enqueue(body.subarray(offset, offset + 8192));
        controller.close();
      },
    });
    const response = await fetch(`${t.url}/internal/calls/${callId}/recording`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}`, ...WAV },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 413);
    assert.equal(response.headers.get('connection'), 'close');
    assert.equal(await errorCode(response), 'RECORDING_TOO_LARGE');
    const next = await t.api('GET', `/v1/calls/${callId}`);
    assert.equal(next.status, 200);
  });

  test('wrong content type is 415', async () => {
    const { callId } = await liveCall();
    const response = await t.internal('PUT', `/internal/calls/${callId}/recording`, makeWav(10), {
      'content-type': 'application/octet-stream',
    });
    assert.equal(response.status, 415);
  });

  test('text or json body is 415, not 500', async () => {
    const { callId } = await liveCall();
    for (const contentType of ['text/plain', 'application/json']) {
      const body = contentType === 'text/plain' ? 'x' : '{}';
      const response = await t.internal('PUT', `/internal/calls/${callId}/recording`, body, {
        'content-type': contentType,
      });
      assert.equal(response.status, 415, contentType);
      assert.equal(await errorCode(response), 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  test('upload for unknown call is 404', async () => {
    const response = await t.internal(
      'PUT',
      '/internal/calls/call_missing/recording',
      makeWav(10),
      WAV,
    );
    assert.equal(response.status, 404);
    assert.equal(await errorCode(response), 'CALL_NOT_FOUND');
  });

  test('other tenant cannot read call or recording', async () => {
    const { callId } = await liveCall();
    await t.internal('PUT', `/internal/calls/${callId}/recording`, makeWav(100), WAV);
    const created = await t.api(
      'POST',
      '/v1/tenants',
      { name: 'outsider' },
      { authorization: `Bearer ${ADMIN_KEY}` },
    );
    const { apiKey } = (await created.json()) as { apiKey: { key: string } };
    const other = { authorization: `Bearer ${apiKey.key}` };
    assert.equal((await t.api('GET', `/v1/calls/${callId}`, undefined, other)).status, 404);
    const download = await t.api('GET', `/v1/calls/${callId}/recording`, undefined, other);
    assert.equal(download.status, 404);
    assert.equal(await errorCode(download), 'CALL_NOT_FOUND');
    const list = (await (await t.api('GET', '/v1/calls', undefined, other)).json()) as {
      items: unknown[];
    };
    assert.equal(list.items.length, 0);
  });

  test('calls list filters and pages', async () => {
    const a = await liveCall();
    await liveCall();
    await t.internal('POST', `/internal/calls/${a.callId}/status`, {
      status: 'completed',
      at: new Date().toISOString(),
    });

    const completed = (await (
      await t.api('GET', '/v1/calls?status=completed&limit=100')
    ).json()) as {
      items: Array<{ id: string; status: string }>;
    };
    assert.ok(completed.items.some((c) => c.id === a.callId));
    assert.ok(completed.items.every((c) => c.status === 'completed'));

    const byBot = (await (await t.api('GET', `/v1/calls?botId=${a.botId}`)).json()) as {
      items: Array<{ id: string }>;
    };
    assert.deepEqual(
      byBot.items.map((c) => c.id),
      [a.callId],
    );

    const seen = new Set<string>();
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = (await (await t.api('GET', `/v1/calls?limit=1${query}`)).json()) as {
        items: Array<{ id: string }>;
        nextCursor: string | null;
      };
      for (const item of page.items) seen.add(item.id);
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null && pages < 100);
    assert.ok(seen.size >= 2);
    assert.equal(seen.size, pages);

    const badStatus = await t.api('GET', '/v1/calls?status=lost');
    assert.equal(badStatus.status, 400);
    const badCursor = await t.api('GET', '/v1/calls?cursor=nope');
    assert.equal(badCursor.status, 400);
    assert.equal(await errorCode(badCursor), 'INVALID_CURSOR');
  });
});
