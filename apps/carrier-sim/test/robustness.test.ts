import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import {
  CallbackReceiver,
  TestWorker,
  callRequest,
  getCall,
  placeCall,
  playGreeting,
  startCarrier,
  waitFor,
} from './helpers.js';

/** Returns a loopback URL on which nothing listens. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/carrier/status`;
}

test('refused upgrade fails the call with the reason', async (t) => {
  const receiver = await new CallbackReceiver().start();
  const worker = await new TestWorker(403).start();
  const { carrier, url } = await startCarrier();
  t.after(async () => {
    await carrier.stop();
    await worker.close();
    await receiver.close();
  });

  const carrierCallId = await placeCall(url, callRequest(worker, receiver, { scenario: 'speak' }));
  const final = await receiver.waitForFinal(carrierCallId);
  assert.equal(final.status, 'failed');
  assert.match(final.reason ?? '', /HTTP 403/);
  assert.deepEqual(receiver.statuses(carrierCallId), ['ringing', 'failed']);
  const snapshot = await getCall(url, carrierCallId);
  assert.equal(snapshot.endReason, 'connect-failed');
  assert.equal(snapshot.answeredAt, null);
});

test('worker that drops mid-call fails the call', async (t) => {
  const receiver = await new CallbackReceiver().start();
  const worker = await new TestWorker().start();
  const { carrier, url } = await startCarrier();
  t.after(async () => {
    await carrier.stop();
    await worker.close();
    await receiver.close();
  });

  const carrierCallId = await placeCall(url, callRequest(worker, receiver, { scenario: 'silent' }));
  const conn = await worker.nextConnection();
  await waitFor('media frames', () => (conn.mediaFrames >= 10 ? true : undefined));
  conn.terminate();

  const final = await receiver.waitForFinal(carrierCallId);
  assert.equal(final.status, 'failed');
  assert.match(final.reason ?? '', /1006/);
  assert.deepEqual(receiver.statuses(carrierCallId), ['ringing', 'answered', 'failed']);
  const snapshot = await getCall(url, carrierCallId);
  assert.equal(snapshot.endReason, 'stream-failed');
});

test('worker closing with an error code fails the call', async (t) => {
  const receiver = await new CallbackReceiver().start();
  const worker = await new TestWorker().start();
  const { carrier, url } = await startCarrier();
  t.after(async () => {
    await carrier.stop();
    await worker.close();
    await receiver.close();
  });

  const carrierCallId = await placeCall(url, callRequest(worker, receiver, { scenario: 'silent' }));
  const conn = await worker.nextConnection();
  await conn.waitForEvent('start');
  conn.close(1011);

  const final = await receiver.waitForFinal(carrierCallId);
  assert.equal(final.status, 'failed');
  assert.match(final.reason ?? '', /code 1011/);
});

test('callback receiver that is down never stops the call', async (t) => {
  const worker = await new TestWorker().start();
  const { carrier, url } = await startCarrier({ speed: 20 });
  t.after(async () => {
    await carrier.stop();
    await worker.close();
  });

  const statusCallbackUrl = await closedPortUrl();
  const request = callRequest(worker, new CallbackReceiver(), {
    statusCallbackUrl,
    scenario: 'press-1',
  });
  const carrierCallId = await placeCall(url, request);
  const conn = await worker.nextConnection();
  await conn.waitForEvent('start');
  playGreeting(conn, 200);
  await conn.waitForEvent('dtmf');
  conn.close();

  const final = await waitFor(
    'three failed callbacks',
    () => {
      const call = carrier.getCall(carrierCallId);
      return call !== undefined && call.callbacks.failed.length === 3 ? call : undefined;
    },
    15_000,
  );
  assert.equal(final.state, 'completed');
  assert.deepEqual(final.callbacks.failed, ['ringing', 'answered', 'completed']);
  assert.deepEqual(final.callbacks.delivered, []);

  const health = await fetch(`${url}/health`);
  assert.equal(health.status, 200);
});

test('callback is retried after 5xx answers', async (t) => {
  const receiver = await new CallbackReceiver().start();
  receiver.failFirst = 2;
  const worker = await new TestWorker().start();
  const { carrier, url } = await startCarrier({ speed: 20 });
  t.after(async () => {
    await carrier.stop();
    await worker.close();
    await receiver.close();
  });

  const carrierCallId = await placeCall(url, callRequest(worker, receiver, { scenario: 'busy' }));
  const final = await receiver.waitForFinal(carrierCallId);
  assert.equal(final.status, 'busy');
  // Two refused attempts of `ringing`, then `ringing` and `busy` delivered, in order.
  assert.equal(receiver.attempts, 4);
  assert.deepEqual(receiver.statuses(carrierCallId), ['ringing', 'busy']);
});

test('fifty concurrent calls all complete', async (t) => {
  const receiver = await new CallbackReceiver().start();
  const worker = await new TestWorker().start((conn) => {
    // Each connection is a bot: greet, wait for the digit, hang up.
    void conn
      .waitForEvent('start', 10_000)
      .then(() => {
        playGreeting(conn, 300);
        return conn.waitForEvent('dtmf', 10_000);
      })
      .then(() => conn.close())
      .catch(() => conn.terminate());
  });
  const { carrier, url } = await startCarrier({ speed: 10 });
  t.after(async () => {
    await carrier.stop();
    await worker.close();
    await receiver.close();
  });

  const ids = await Promise.all(
    Array.from({ length: 50 }, () =>
      placeCall(url, callRequest(worker, receiver, { scenario: 'press-2' })),
    ),
  );
  const finals = await Promise.all(ids.map((id) => receiver.waitForFinal(id, 30_000)));

  assert.equal(new Set(ids).size, 50);
  assert.deepEqual(
    finals.map((event) => event.status),
    ids.map(() => 'completed'),
  );
  for (const id of ids) {
    assert.deepEqual(carrier.getCall(id)?.media.digitsSent, ['2'], `call ${id}`);
  }
});

test('stop ends answered and ringing calls', async (t) => {
  const receiver = await new CallbackReceiver().start();
  const worker = await new TestWorker().start();
  const { carrier, url } = await startCarrier({ speed: 10 });
  t.after(async () => {
    await carrier.stop();
    await worker.close();
    await receiver.close();
  });

  const answeredId = await placeCall(url, callRequest(worker, receiver, { scenario: 'silent' }));
  const conn = await worker.nextConnection();
  await conn.waitForEvent('start');
  const ringingId = await placeCall(
    url,
    callRequest(worker, receiver, { scenario: 'no-answer', ringTimeoutMs: 60_000 }),
  );
  await waitFor('ringing callback', () =>
    receiver.statuses(ringingId).includes('ringing') ? true : undefined,
  );

  await carrier.stop();
  await carrier.stop();

  const stop = conn.byEvent('stop');
  assert.equal(stop.length, 1, 'the answered stream got one stop message');
  assert.deepEqual(receiver.statuses(answeredId), ['ringing', 'answered', 'completed']);
  assert.deepEqual(receiver.statuses(ringingId), ['ringing', 'failed']);
  assert.equal(carrier.getCall(answeredId)?.endReason, 'carrier-stopped');
  await assert.rejects(fetch(`${url}/health`));
});
