import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';

import { BridgeClient, type ClaimedAttempt } from '../src/bridge-client.js';
import { CallAttempt } from '../src/call-attempt.js';
import { parseEnv } from '../src/env.js';
import { DiallerError } from '../src/errors.js';
import { decideContact } from '../src/retry-policy.js';

const claim: ClaimedAttempt = {
  callId: 'call-1',
  attempt: 1,
  tenantId: 'tenant-1',
  botId: 'bot-1',
  campaignId: 'campaign-1',
  contactId: 'contact-1',
  to: '+15550000001',
  variables: {},
  campaign: { maxAttempts: 3, retryBackoffMs: 1_000 },
};

describe('CallAttempt', () => {
  function placed(): CallAttempt {
    const attempt = new CallAttempt(claim);
    attempt.advance('attaching');
    attempt.advance('placing');
    return attempt;
  }

  it('ignores events before placing', () => {
    const attempt = new CallAttempt(claim);
    assert.deepEqual(attempt.applyCarrierStatus('ringing'), { kind: 'ignore' });
    assert.deepEqual(attempt.applyCarrierStatus('busy'), { kind: 'ignore' });
    assert.equal(attempt.phase, 'reserving');
  });

  it('walks the answered path once', () => {
    const attempt = placed();
    assert.deepEqual(attempt.applyCarrierStatus('ringing'), { kind: 'report', status: 'ringing' });
    assert.deepEqual(attempt.applyCarrierStatus('ringing'), { kind: 'ignore' });
    assert.deepEqual(attempt.applyCarrierStatus('answered'), {
      kind: 'report',
      status: 'in-progress',
    });
    assert.deepEqual(attempt.applyCarrierStatus('ringing'), { kind: 'ignore' });
    assert.deepEqual(attempt.applyCarrierStatus('completed'), {
      kind: 'finish',
      status: 'completed',
      answered: true,
    });
    assert.deepEqual(attempt.applyCarrierStatus('completed'), { kind: 'ignore' });
    assert.deepEqual(attempt.applyCarrierStatus('failed'), { kind: 'ignore' });
  });

  it('finishes unanswered on busy', () => {
    const attempt = placed();
    assert.deepEqual(attempt.applyCarrierStatus('busy'), {
      kind: 'finish',
      status: 'busy',
      answered: false,
    });
    assert.equal(attempt.phase, 'final');
    assert.equal(attempt.answered, false);
  });

  it('keeps answered for a failure after answer', () => {
    const attempt = placed();
    attempt.applyCarrierStatus('answered');
    assert.deepEqual(attempt.applyCarrierStatus('failed'), {
      kind: 'finish',
      status: 'failed',
      answered: true,
    });
  });
});

describe('decideContact', () => {
  const base = { attempt: 1, maxAttempts: 3, retryBackoffMs: 1_000, now: 0 };
  const noJitter = { maxBackoffMs: 60_000, jitterRatio: 0 };

  it('marks completed contacts done', () => {
    assert.deepEqual(decideContact({ ...base, status: 'completed' }, noJitter), {
      decision: 'done',
    });
  });

  it('doubles the backoff per attempt', () => {
    for (const [attempt, delayMs] of [
      [1, 1_000],
      [2, 2_000],
    ] as const) {
      const decision = decideContact({ ...base, attempt, status: 'busy' }, noJitter);
      assert.equal(decision.decision, 'retry');
      assert.equal(decision.nextAttemptAt, new Date(delayMs).toISOString());
    }
  });

  it('fails the contact at maxAttempts', () => {
    assert.deepEqual(decideContact({ ...base, attempt: 3, status: 'no-answer' }, noJitter), {
      decision: 'failed',
    });
  });

  it('caps the backoff and bounds the jitter', () => {
    const capped = decideContact(
      { ...base, attempt: 2, maxAttempts: 10, retryBackoffMs: 50_000, status: 'failed' },
      noJitter,
    );
    assert.equal(capped.nextAttemptAt, new Date(60_000).toISOString());
    const jittered = decideContact(
      { ...base, status: 'busy' },
      { maxBackoffMs: 60_000, jitterRatio: 0.1, random: () => 0.999 },
    );
    assert.equal(jittered.nextAttemptAt, new Date(1_100).toISOString());
  });
});

describe('parseEnv', () => {
  const required = { BRIDGE_URL: 'http://127.0.0.1:7700', BRIDGE_INTERNAL_TOKEN: 'secret' };

  it('applies the defaults', () => {
    const env = parseEnv(required);
    assert.equal(env.DIALLER_HOST, '127.0.0.1');
    assert.equal(env.DIALLER_PORT, 7710);
    assert.equal(env.REGISTRY_URL, 'sqlite:.voxfleet/registry.db');
    assert.equal(env.DIALLER_POOL, 'default');
    assert.equal(env.CARRIER, 'sim');
    assert.equal(env.CARRIER_SIM_URL, 'http://127.0.0.1:7720');
    assert.equal(env.DIALLER_PACING_INTERVAL_MS, 500);
    assert.equal(env.DIALLER_RESERVATION_TTL_MS, 10_000);
    assert.equal(env.DIALLER_RING_TIMEOUT_MS, 30_000);
    assert.equal(env.DIALLER_MAX_IN_FLIGHT, 100);
    assert.equal(env.DIALLER_PUBLIC_URL, undefined);
  });

  it('reads an empty port as the default', () => {
    assert.equal(parseEnv({ ...required, DIALLER_PORT: '' }).DIALLER_PORT, 7710);
  });

  it('names every invalid variable', () => {
    assert.throws(
      () => parseEnv({ BRIDGE_URL: 'http://127.0.0.1:7700', DIALLER_PORT: 'abc' }),
      (err: unknown) =>
        err instanceof DiallerError &&
        err.code === 'DIALLER_INVALID_ENV' &&
        err.message.includes('BRIDGE_INTERNAL_TOKEN') &&
        err.message.includes('DIALLER_PORT'),
    );
  });
});

describe('BridgeClient', () => {
  async function serve(
    respond: (count: number) => [number, unknown],
  ): Promise<{ server: Server; url: string; count: () => number }> {
    let count = 0;
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        count += 1;
        const [status, body] = respond(count);
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { server, url: `http://127.0.0.1:${port}`, count: () => count };
  }

  it('retries a status report through 5xx', async () => {
    const bridge = await serve((count) => (count < 3 ? [503, {}] : [200, {}]));
    try {
      const client = new BridgeClient({ baseUrl: bridge.url, token: 't', retryBaseDelayMs: 10 });
      await client.reportStatus('call-1', { status: 'dialling', at: new Date().toISOString() });
      assert.equal(bridge.count(), 3);
    } finally {
      bridge.server.close();
    }
  });

  it('does not retry a 4xx report', async () => {
    const bridge = await serve(() => [404, {}]);
    try {
      const client = new BridgeClient({ baseUrl: bridge.url, token: 't', retryBaseDelayMs: 10 });
      await assert.rejects(
        client.reportStatus('call-1', { status: 'dialling', at: new Date().toISOString() }),
        /HTTP 404/,
      );
      assert.equal(bridge.count(), 1);
    } finally {
      bridge.server.close();
    }
  });

  it('rejects an invalid claim response', async () => {
    const bridge = await serve(() => [200, { claimed: [] }]);
    try {
      const client = new BridgeClient({ baseUrl: bridge.url, token: 't' });
      await assert.rejects(client.claim(1), (err: unknown) => {
        return err instanceof DiallerError && err.code === 'DIALLER_INVALID_RESPONSE';
      });
    } finally {
      bridge.server.close();
    }
  });

  it('separates invalid claimed attempts', async () => {
    const withNulls = {
      ...claim,
      scenario: null,
      campaign: { ...claim.campaign, callerId: null },
    };
    const badNumber = { ...claim, callId: 'call-2', to: '12345' };
    const bridge = await serve(() => [200, { attempts: [withNulls, badNumber, { to: 1 }] }]);
    try {
      const client = new BridgeClient({ baseUrl: bridge.url, token: 't' });
      const result = await client.claim(3);
      assert.equal(result.attempts.length, 1);
      assert.equal(result.attempts[0]?.scenario, undefined);
      assert.equal(result.attempts[0]?.campaign.callerId, undefined);
      assert.equal(result.invalid.length, 2);
      assert.equal(result.invalid[0]?.callId, 'call-2');
      assert.match(result.invalid[0]?.problems ?? '', /^to: /);
      assert.equal(result.invalid[1]?.callId, null);
    } finally {
      bridge.server.close();
    }
  });
});
