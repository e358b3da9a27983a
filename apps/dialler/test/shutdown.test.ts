import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { withDialler } from './dialler-for.js';
import { BRIDGE_TOKEN, startStack, waitFor, type Stack } from './harness.js';

const mainPath = new URL('../src/main.ts', import.meta.url).pathname;

interface RunningMain {
  child: ChildProcess;
  output: () => string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

function runMain(stack: Stack, extraEnv: Record<string, string> = {}): RunningMain {
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', mainPath], {
    env: {
      PATH: process.env.PATH,
      BRIDGE_URL: stack.bridge.url,
      BRIDGE_INTERNAL_TOKEN: BRIDGE_TOKEN,
      REGISTRY_URL: `sqlite:${join(stack.dir, 'registry.db')}`,
      CARRIER_SIM_URL: stack.carrier.url,
      DIALLER_PORT: '0',
      DIALLER_PACING_INTERVAL_MS: '50',
      DIALLER_DRAIN_TIMEOUT_MS: '5000',
      LOG_LEVEL: 'info',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, output: () => output, exited };
}

async function stopMain(run: RunningMain): Promise<void> {
  if (run.child.exitCode === null && run.child.signalCode === null) {
    run.child.kill('SIGKILL');
    await run.exited;
  }
}

const campaign = { maxAttempts: 1, retryBackoffMs: 1_000, concurrency: 5 };

describe('main process', () => {
  it('drains the call in flight on SIGTERM', async () => {
    const stack = await startStack({
      campaign,
      contacts: [{ scenario: 'speak' }, { scenario: 'speak' }, { scenario: 'speak' }],
      workerIds: ['w1'],
    });
    stack.carrier.script = () => [
      { status: 'answered', delayMs: 20 },
      { status: 'completed', delayMs: 1_000 },
    ];
    const run = runMain(stack);
    try {
      await waitFor(
        () => stack.bridge.reports.some((r) => r.body.status === 'in-progress'),
        'an answered call',
        20_000,
      );
      const signalledAt = Date.now();
      run.child.kill('SIGTERM');
      const [code] = await run.exited;
      const tookMs = Date.now() - signalledAt;

      assert.equal(code, 0, run.output());
      assert.ok(tookMs >= 500, `exited ${tookMs} ms after SIGTERM, before the call ended`);
      assert.equal(stack.carrier.placed.length, 1);
      const statuses = stack.bridge.reports.map((r) => r.body.status);
      assert.deepEqual(statuses, ['dialling', 'in-progress', 'completed']);
      assert.equal(stack.bridge.contact('contact-1').state, 'done');
      assert.equal(stack.bridge.contact('contact-2').state, 'pending');
      assert.match(run.output(), /"msg":"drained"/);
    } finally {
      await stopMain(run);
      await stack.close();
    }
  });

  it('exits at once on a second signal', async () => {
    const stack = await startStack({
      campaign,
      contacts: [{ scenario: 'speak' }],
      workerIds: ['w1'],
    });
    stack.carrier.script = () => [
      { status: 'answered', delayMs: 20 },
      { status: 'completed', delayMs: 1_500 },
    ];
    const run = runMain(stack);
    try {
      await waitFor(
        () => stack.bridge.reports.some((r) => r.body.status === 'in-progress'),
        'an answered call',
        20_000,
      );
      run.child.kill('SIGTERM');
      await waitFor(() => run.output().includes('"msg":"draining"'), 'draining log', 5_000);
      run.child.kill('SIGTERM');
      const [code] = await run.exited;
      assert.equal(code, 1);
      assert.ok(!stack.bridge.reports.some((r) => r.body.status === 'completed'));
    } finally {
      await stopMain(run);
      await stack.close();
    }
  });

  it('fails fast on an invalid environment', async () => {
    const stack = await startStack({ campaign, contacts: [], workerIds: [] });
    const run = runMain(stack, { BRIDGE_URL: 'not a url', DIALLER_MAX_IN_FLIGHT: '0' });
    try {
      const [code] = await run.exited;
      assert.equal(code, 2);
      assert.match(run.output(), /BRIDGE_URL/);
      assert.match(run.output(), /DIALLER_MAX_IN_FLIGHT/);
    } finally {
      await stopMain(run);
      await stack.close();
    }
  });
});

describe('stop after the drain timeout', () => {
  it('reports attempts still live', async () => {
    await withDialler(
      {
        campaign: { maxAttempts: 2, retryBackoffMs: 1_000, concurrency: 5 },
        contacts: [{ scenario: 'speak' }, { scenario: 'no-answer' }],
        workerIds: ['w1', 'w2'],
      },
      { drainTimeoutMs: 300 },
      async (stack, dialler) => {
        await waitFor(() => stack.carrier.placed.length === 2, 'two calls placed');
        const answered = stack.carrier.placed.find((request) => request.scenario === 'speak');
        const ringing = stack.carrier.placed.find((request) => request.scenario === 'no-answer');
        assert.ok(answered !== undefined);
        assert.ok(ringing !== undefined);
        await stack.carrier.send(answered, 'answered');
        await stack.carrier.send(ringing, 'ringing');
        await waitFor(() => stack.bridge.reports.length === 4, 'live reports');

        await dialler.stop();

        const finalOf = (callId: string) =>
          stack.bridge.reportsFor(callId).find((report) => report.contact !== undefined);
        assert.equal(finalOf(answered.callId)?.status, 'completed');
        assert.equal(finalOf(answered.callId)?.reason, 'dialler-shutdown');
        assert.equal(finalOf(ringing.callId)?.status, 'failed');
        assert.equal(finalOf(ringing.callId)?.reason, 'dialler-shutdown');
        assert.equal(finalOf(ringing.callId)?.contact?.decision, 'retry');
        assert.deepEqual(
          stack.workers.cancels.map((cancel) => cancel.callId),
          [ringing.callId],
        );
      },
      (stack) => {
        stack.carrier.script = () => [];
      },
    );
  });
});
