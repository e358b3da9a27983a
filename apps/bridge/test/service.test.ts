import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { loadEnv } from '../src/env.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { API_KEY, INTERNAL_TOKEN, createCampaign, makeWav, startTestBridge } from './helpers.js';
import type { TestBridge } from './helpers.js';

/** Every route of the voxbridge routes table in docs/architecture.md, in OpenAPI form. */
const DOCUMENTED_ROUTES = [
  'get /health',
  'get /ready',
  'get /metrics',
  'post /v1/tenants',
  'post /v1/bots',
  'get /v1/bots',
  'get /v1/bots/{id}',
  'put /v1/bots/{id}',
  'post /v1/campaigns',
  'get /v1/campaigns',
  'get /v1/campaigns/{id}',
  'post /v1/campaigns/{id}/contacts',
  'get /v1/campaigns/{id}/contacts',
  'post /v1/campaigns/{id}/start',
  'post /v1/campaigns/{id}/pause',
  'get /v1/calls',
  'get /v1/calls/{id}',
  'get /v1/calls/{id}/recording',
  'get /internal/bots/{botId}/runtime-config',
  'post /internal/dialler/claim',
  'post /internal/calls/{callId}/status',
  'post /internal/calls/{callId}/requeue',
  'put /internal/calls/{callId}/recording',
  'post /internal/calls/{callId}/result',
];

describe('service routes', () => {
  let t: TestBridge;

  before(async () => {
    t = await startTestBridge();
  });

  after(async () => {
    await t.close();
  });

  test('openapi lists every route', async () => {
    const response = await fetch(`${t.url}/openapi.json`);
    assert.equal(response.status, 200);
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    assert.match(doc.openapi, /^3\./);
    const listed = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method} ${path}`),
    );
    for (const route of DOCUMENTED_ROUTES) assert.ok(listed.includes(route), `missing ${route}`);
    const contacts = doc.paths['/v1/campaigns/{id}/contacts']?.post as {
      requestBody?: { content?: object };
    };
    assert.ok(Object.keys(contacts.requestBody?.content ?? {}).includes('text/csv'));
  });

  test('docs page is served', async () => {
    const response = await fetch(`${t.url}/docs`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
  });

  test('health and ready are 200', async () => {
    assert.deepEqual(await (await fetch(`${t.url}/health`)).json(), { status: 'ok' });
    assert.deepEqual(await (await fetch(`${t.url}/ready`)).json(), { status: 'ready' });
  });

  test('metrics count requests by route', async () => {
    await t.api('GET', '/v1/bots/bot_missing');
    const text = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(
      text,
      /voxbridge_http_requests_total\{method="GET",route="\/v1\/bots\/:id",status_code="404"\} 1/,
    );
    assert.match(text, /voxbridge_http_request_duration_seconds_bucket/);
    assert.match(text, /voxbridge_call_results_accepted_total/);
  });

  test('unknown route is JSON 404', async () => {
    const response = await fetch(`${t.url}/v2/nothing`);
    assert.equal(response.status, 404);
    assert.deepEqual(await response.json(), {
      error: { code: 'ROUTE_NOT_FOUND', message: 'route GET /v2/nothing not found' },
    });
  });
});

test('ready is 503 when store closed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'voxbridge-ready-'));
  const store = new SqliteStore({ path: join(dir, 'bridge.db') });
  const bridge = await startTestBridge({ store });
  t.after(async () => {
    await bridge.close();
    await rm(dir, { recursive: true, force: true });
  });
  assert.equal((await fetch(`${bridge.url}/ready`)).status, 200);
  await store.close();
  const response = await fetch(`${bridge.url}/ready`);
  assert.equal(response.status, 503);
  assert.equal((await fetch(`${bridge.url}/health`)).status, 200);
});

test('stop drains in-flight upload', async (t) => {
  const bridge = await startTestBridge();
  t.after(() => bridge.close());
  const { campaignId } = await createCampaign(bridge, 'phone\n+919800000001\n');
  await bridge.api('POST', `/v1/campaigns/${campaignId}/start`);
  const claimed = (await (
    await bridge.internal('POST', '/internal/dialler/claim', { limit: 1 })
  ).json()) as {
    attempts: Array<{ callId: string }>;
  };
  const callId = claimed.attempts[0]?.callId ?? '';

  const wav = makeWav(1000);
  let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      c.enqueue(wav.subarray(0, 100));
    },
  });
  const upload = fetch(`${bridge.url}/internal/calls/${callId}/recording`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${INTERNAL_TOKEN}`, 'content-type': 'audio/wav' },
    body,
    duplex: 'half',
  } as RequestInit);
  await new Promise((resolve) => setTimeout(resolve, 200));

  let stopped = false;
  const stopping = bridge.bridge.stop().then(() => {
    stopped = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(stopped, false);
  controller?.enqueue(wav.subarray(100));
  controller?.close();
  const response = await upload;
  assert.equal(response.status, 200);
  assert.deepEqual(((await response.json()) as { bytes: number }).bytes, wav.length);
  await stopping;
  assert.equal(stopped, true);
});

test('env defaults and required token', () => {
  const env = loadEnv({ BRIDGE_INTERNAL_TOKEN: 'a-long-internal-token' });
  assert.equal(env.host, '127.0.0.1');
  assert.equal(env.port, 7700);
  assert.equal(env.sqlitePath, join('.voxfleet/bridge', 'bridge.db'));
  assert.equal(env.recordingsDir, join('.voxfleet/bridge', 'recordings'));
  assert.equal(env.maxRecordingBytes, 50 * 1024 * 1024);
  assert.equal(env.adminKey, undefined);
  assert.throws(() => loadEnv({}), /BRIDGE_INTERNAL_TOKEN: is required/);
  assert.throws(() => loadEnv({ BRIDGE_INTERNAL_TOKEN: 'short' }), /at least 16 characters/);
  assert.throws(
    () => loadEnv({ BRIDGE_INTERNAL_TOKEN: 'a-long-internal-token', BRIDGE_PORT: 'x' }),
    /BRIDGE_PORT/,
  );
});

describe('main process', () => {
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voxbridge-main-'));
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  async function startMain(): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', join(import.meta.dirname, '../src/main.ts')],
      {
        env: {
          ...process.env,
          BRIDGE_PORT: '0',
          BRIDGE_DATA_DIR: dir,
          BRIDGE_INTERNAL_TOKEN: 'internal-token-for-tests',
          BRIDGE_BOOTSTRAP_API_KEY: API_KEY,
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`voxbridge did not start: ${output}`)),
        20_000,
      );
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`voxbridge exited with ${code}: ${output}`)));
    });
    return { child, url };
  }

  test('bootstrap key survives restart', async () => {
    for (let run = 0; run < 2; run++) {
      const { child, url } = await startMain();
      const response = await fetch(`${url}/v1/bots`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      assert.equal(response.status, 200, `run ${run}`);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, `run ${run} exit code`);
    }
  });

  test('missing token exits with message', async () => {
    const child = spawn(
      process.execPath,
      ['--conditions=development', '--import', 'tsx', join(import.meta.dirname, '../src/main.ts')],
      { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 1);
    assert.match(stderr, /BRIDGE_INTERNAL_TOKEN: is required/);
  });
});
