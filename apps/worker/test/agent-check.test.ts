import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { agentStateOf, formatAgentReply } from '../src/agent-check.js';
import { loadEnv } from '../src/env.js';
import type { WorkerHandle } from '../src/index.js';
import { Harness, attachBody, postJson, waitUntil } from './support/harness.js';

const harness = new Harness();

before(async () => {
  await harness.open();
});

after(async () => {
  await harness.close();
});

/** Connects like HAProxy does (sending an `agent-send` line) and reads until the close. */
function readAgent(port: number, send = 'fleet-a/w1\n'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(send));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

function agentPortOf(worker: WorkerHandle): number {
  const port = worker.agentPort;
  if (port === null) throw new Error('agent check is not listening');
  return port;
}

test('agentStateOf maps every worker state', () => {
  const cases = [
    { state: 'idle', registered: true, expected: 'ready' },
    { state: 'idle', registered: false, expected: 'drain' },
    { state: 'created', registered: false, expected: 'drain' },
    { state: 'attached', registered: true, expected: 'drain' },
    { state: 'in-call', registered: true, expected: 'drain' },
    { state: 'finishing', registered: true, expected: 'drain' },
    { state: 'draining', registered: true, expected: 'drain' },
    { state: 'stopped', registered: false, expected: 'maint' },
  ] as const;
  for (const { state, registered, expected } of cases) {
    assert.equal(
      agentStateOf({ state, registered }),
      expected,
      `${state} registered=${registered}`,
    );
  }
});

test('formatAgentReply ends each reply with a newline', () => {
  assert.equal(formatAgentReply('ready'), 'ready up 100%\n');
  assert.equal(formatAgentReply('drain'), 'drain\n');
  assert.equal(formatAgentReply('maint'), 'maint\n');
});

test('WORKER_AGENT_PORT sets the agent port', () => {
  const base = { BRIDGE_INTERNAL_TOKEN: 'token' };
  assert.equal(loadEnv(base).agentPort, undefined);
  assert.equal(loadEnv({ ...base, WORKER_AGENT_PORT: '0' }).agentPort, undefined);
  assert.equal(loadEnv({ ...base, WORKER_AGENT_PORT: '9100' }).agentPort, 9100);
  assert.throws(() => loadEnv({ ...base, WORKER_AGENT_PORT: '70000' }), /WORKER_AGENT_PORT/);
});

test('agent check is off without agentPort', async () => {
  const { worker } = await harness.startWorker({ workerId: 'no-agent' });
  assert.equal(worker.agentPort, null);
  await worker.stop();
});

test('agent check follows attach, call end and drain', async () => {
  const { worker, url } = await harness.startWorker({ workerId: 'agent-1', agentPort: 0 });
  const port = agentPortOf(worker);

  await waitUntil(async () => (await readAgent(port)) === 'ready up 100%\n', 'agent ready');
  assert.equal((await fetch(`${url}/ready`)).status, 200);

  const reservation = await harness.reserve();
  const attached = await postJson(`${url}/attach`, attachBody(reservation));
  assert.equal(attached.status, 200);
  assert.equal(await readAgent(port), 'drain\n');
  assert.equal(
    await readAgent(port, ''),
    'drain\n',
    'a check without agent-send gets the line too',
  );

  const cancelled = await postJson(`${url}/attach/${reservation.callId}/cancel`, {
    reservationToken: reservation.token,
    reason: 'no-answer',
  });
  assert.equal(cancelled.status, 200);
  await waitUntil(async () => (await readAgent(port)) === 'ready up 100%\n', 'agent ready again');

  const drained = worker.drain();
  assert.equal(await readAgent(port), 'drain\n');
  await drained;
  assert.equal(await readAgent(port), 'drain\n', 'a drained worker stays out of rotation');
});

test('agent check closes with the worker', async () => {
  const { worker, url } = await harness.startWorker({ workerId: 'agent-2', agentPort: 0 });
  const port = agentPortOf(worker);
  await waitUntil(async () => (await readAgent(port)) === 'ready up 100%\n', 'agent ready');

  const reservation = await harness.reserve();
  assert.equal((await postJson(`${url}/attach`, attachBody(reservation))).status, 200);

  // stop() aborts the attached call; the `maint` window it passes through is covered above.
  await worker.stop();
  assert.equal(worker.state, 'stopped');
  await assert.rejects(readAgent(port), { code: 'ECONNREFUSED' });
});
