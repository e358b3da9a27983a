import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { sendHttpRequest } from '../src/http-client.js';

let server: Server;
let base = '';
const received: Array<{ method: string; body: string; headers: Record<string, unknown> }> = [];

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
        headers: req.headers,
      });
      if (req.url === '/slow') return; // never answers
      res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json' });
      res.end(req.url === '/missing' ? 'not here' : '{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('sendHttpRequest returns status and body', async () => {
  const ok = await sendHttpRequest(`${base}/config`, {
    method: 'GET',
    headers: {},
    timeoutMs: 2000,
  });
  assert.equal(ok.status, 200);
  assert.equal(ok.text, '{"ok":true}');

  const missing = await sendHttpRequest(`${base}/missing`, {
    method: 'GET',
    headers: {},
    timeoutMs: 2000,
  });
  assert.equal(missing.status, 404);
  assert.equal(missing.text, 'not here');
});

test('sendHttpRequest sends the body and headers', async () => {
  const body = JSON.stringify({ callId: 'c1', note: 'ü' });
  await sendHttpRequest(`${base}/result`, {
    method: 'POST',
    headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
    body,
    timeoutMs: 2000,
  });
  const last = received.at(-1);
  assert.equal(last?.method, 'POST');
  assert.equal(last?.body, body);
  assert.equal(last?.headers['authorization'], 'Bearer t');
  assert.equal(last?.headers['content-length'], String(Buffer.byteLength(body)));
});

test('sendHttpRequest rejects after its timeout', async () => {
  const startedAt = Date.now();
  await assert.rejects(
    sendHttpRequest(`${base}/slow`, { method: 'GET', headers: {}, timeoutMs: 200 }),
  );
  assert.ok(Date.now() - startedAt < 2000);
});

test('sendHttpRequest rejects a refused connection', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const address = closed.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise((resolve) => closed.close(resolve));
  await assert.rejects(
    sendHttpRequest(`http://127.0.0.1:${port}/`, { method: 'GET', headers: {}, timeoutMs: 2000 }),
    /ECONNREFUSED/,
  );
});
