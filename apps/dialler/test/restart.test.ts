/**
 * A dialler process killed with SIGKILL while its calls ring, and a new dialler on the same
 * port: the new one adopts the live calls from the stand-in voxbridge, so the carrier's
 * late callbacks still finish every contact.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import type { PlaceCallRequest } from '@voxfleet/schema';

import { diallerFor } from './dialler-for.js';
import { BRIDGE_TOKEN, defaultScript, startStack, waitFor, type Stack } from './harness.js';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const DIALLER_MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** Starts voxdialler's `main.ts` as its own process against the stand-ins. */
function spawnDialler(stack: Stack, port: number): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', DIALLER_MAIN],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        DIALLER_HOST: '127.0.0.1',
        DIALLER_PORT: String(port),
        BRIDGE_URL: stack.bridge.url,
        BRIDGE_INTERNAL_TOKEN: BRIDGE_TOKEN,
        REGISTRY_URL: `sqlite:${join(stack.dir, 'registry.db')}`,
        CARRIER_SIM_URL: stack.carrier.url,
        DIALLER_PACING_INTERVAL_MS: '50',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // Kept for the failure message, since a dialler that cannot start shows nothing else.
  const output: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk));
  childOutput.set(child, output);
  return child;
}

const childOutput = new WeakMap<ChildProcess, Buffer[]>();

function outputOf(child: ChildProcess): string {
  return Buffer.concat(childOutput.get(child) ?? [])
    .toString('utf8')
    .slice(-2000);
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

function placedFor(stack: Stack, contactId: string, attempt: number): PlaceCallRequest {
  const callId = stack.bridge
    .callsOf(contactId)
    .find((id) => stack.bridge.calls.get(id)?.attempt === attempt);
  const request = stack.carrier.placed.find((placed) => placed.callId === callId);
  assert.ok(request !== undefined, `no call placed for ${contactId} attempt ${attempt}`);
  return request;
}

describe('dialler restart', () => {
  it('finishes calls left ringing by a killed dialler', async () => {
    const stack = await startStack({
      campaign: { maxAttempts: 2, retryBackoffMs: 50, concurrency: 5 },
      contacts: [
        // contact-1: claimed for the killed dialler, which died before placing it.
        {},
        // contact-2 to contact-5: placed by the killed dialler and ringing when it dies.
        { scenario: 'no-answer' },
        {},
        { scenario: 'busy' },
        { scenario: 'no-answer' },
      ],
      workerIds: ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8'],
    });
    // Calls placed before the crash only ring; the test sends their later events itself.
    let crashed = false;
    stack.carrier.script = (request) =>
      crashed ? defaultScript(request.scenario) : [{ status: 'ringing', delayMs: 20 }];
    const port = await freePort();
    let child: ChildProcess | null = null;
    const dialler = diallerFor(stack, { port });

    try {
      // contact-1 becomes due only once the first dialler is dead.
      stack.bridge.contact('contact-1').nextAttemptAt = Number.MAX_SAFE_INTEGER;
      child = spawnDialler(stack, port);
      const ringing = (): number =>
        [...stack.bridge.calls.values()].filter((call) => call.status === 'ringing').length;
      const first = child;
      await waitFor(() => ringing() === 4, 'four calls ringing on the first dialler', 20_000).catch(
        (err: unknown) => {
          throw new Error(`${String(err)}; first dialler output: ${outputOf(first)}`);
        },
      );
      await kill(child);
      crashed = true;
      // The claim of contact-1 reached voxbridge, but the first dialler died before placing it.
      stack.bridge.contact('contact-1').nextAttemptAt = 0;
      const [unplaced] = stack.bridge.claimNow(1);
      assert.equal(unplaced?.contactId, 'contact-1');

      // contact-5's call ended while no dialler listened, and its callback was lost.
      stack.carrier.setState(placedFor(stack, 'contact-5', 1), 'no-answer');

      const { url } = await dialler.start();
      assert.equal(url, `http://127.0.0.1:${port}`);
      await waitFor(
        () => stack.bridge.requeues.some((requeue) => requeue.callId === unplaced.callId),
        'unplaced call requeued',
      );
      await waitFor(
        () => stack.bridge.contact('contact-5').attempts === 2,
        'contact-5 retried after the carrier lookup',
      );

      // The carrier's late callbacks reach the new dialler on the same port.
      const lateOutcomes: string[] = [];
      const send = async (
        request: PlaceCallRequest,
        status: Parameters<Stack['carrier']['send']>[1],
      ): Promise<void> => {
        const response = await stack.carrier.send(request, status);
        assert.equal(response.status, 200);
        lateOutcomes.push((response.body as { outcome: string }).outcome);
      };
      await send(placedFor(stack, 'contact-2', 1), 'no-answer');
      const answered = placedFor(stack, 'contact-3', 1);
      await send(answered, 'answered');
      await stack.workers.endCall(answered.callId);
      await send(answered, 'completed');
      await send(placedFor(stack, 'contact-4', 1), 'busy');

      await waitFor(() => stack.bridge.finished, 'every contact final', 20_000);

      assert.deepEqual(lateOutcomes, ['applied', 'applied', 'applied', 'applied']);
      assert.equal(
        stack.bridge.requeues.find((r) => r.callId === unplaced.callId)?.reason,
        'dialler-restart',
      );
      const states = Object.fromEntries(
        stack.bridge.contacts.map((contact) => [contact.contactId, contact.state]),
      );
      assert.deepEqual(states, {
        'contact-1': 'done',
        'contact-2': 'failed',
        'contact-3': 'done',
        'contact-4': 'failed',
        'contact-5': 'failed',
      });
      const firstAttempts = ['contact-2', 'contact-3', 'contact-4', 'contact-5'].map((contactId) =>
        stack.bridge.reportsFor(placedFor(stack, contactId, 1).callId),
      );
      for (const reports of firstAttempts) {
        const final = reports.find((report) => report.contact !== undefined);
        assert.ok(final !== undefined, 'first attempt has a final report with a decision');
      }
      const contact4Final = stack.bridge
        .reportsFor(placedFor(stack, 'contact-4', 1).callId)
        .find((report) => report.contact !== undefined);
      assert.equal(contact4Final?.status, 'busy');
      assert.equal(contact4Final?.contact?.decision, 'retry');
      const contact5Final = stack.bridge
        .reportsFor(placedFor(stack, 'contact-5', 1).callId)
        .find((report) => report.contact !== undefined);
      assert.equal(contact5Final?.status, 'no-answer');
      assert.ok(
        [...stack.bridge.calls.values()].every((call) => call.final),
        'no call left open',
      );
      const adopted = await dialler.metrics.adoptedAttempts.get();
      assert.equal(adopted.values[0]?.value, 4);
    } finally {
      if (child !== null) await kill(child);
      await dialler.stop();
      await stack.close();
    }
  });

  it('adopts an unknown call named by a carrier event', async () => {
    const stack = await startStack({
      campaign: { maxAttempts: 1, retryBackoffMs: 50, concurrency: 1 },
      contacts: [{ scenario: 'no-answer' }],
      workerIds: ['w1'],
    });
    const dialler = diallerFor(stack);
    try {
      // The contact is not due while the dialler starts, so only the test claims it.
      stack.bridge.contact('contact-1').nextAttemptAt = Number.MAX_SAFE_INTEGER;
      const { url } = await dialler.start();
      stack.bridge.contact('contact-1').nextAttemptAt = 0;
      const [claimed] = stack.bridge.claimNow(1);
      assert.ok(claimed !== undefined);
      const request = {
        callId: claimed.callId,
        statusCallbackUrl: `${url}/carrier/status`,
      } as PlaceCallRequest;
      stack.carrier.placed.push(request);

      stack.bridge.down = true;
      const unreachable = await stack.carrier.send(request, 'ringing');
      assert.equal(unreachable.status, 503);
      assert.equal((unreachable.body as { code: string }).code, 'CALL_LOOKUP_FAILED');

      stack.bridge.down = false;
      const outcomes: string[] = [];
      for (const status of ['ringing', 'no-answer', 'no-answer'] as const) {
        const response = await stack.carrier.send(request, status);
        assert.equal(response.status, 200);
        outcomes.push((response.body as { outcome: string }).outcome);
      }
      assert.deepEqual(outcomes, ['applied', 'applied', 'unknown-call']);
      await waitFor(() => stack.bridge.finished, 'contact final');
      assert.equal(stack.bridge.contact('contact-1').state, 'failed');
      const statuses = stack.bridge.reportsFor(claimed.callId).map((report) => report.status);
      assert.deepEqual(statuses, ['ringing', 'no-answer']);
    } finally {
      await dialler.stop();
      await stack.close();
    }
  });
});
