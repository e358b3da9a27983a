/**
 * Calls through a rendered fleet host running in containers: the HAProxy container of
 * `ingress.compose.yaml` in front of the worker containers of one `hosts/<host>.compose.yaml`,
 * with voxbridge and Redis beside them. `run.sh` renders the files, starts the containers
 * and passes their addresses in the environment; this file only checks them.
 *
 * The test plays the dialler and the carrier: it claims call attempts from voxbridge,
 * reserves worker slots in the fleet's Redis registry, attaches and opens each media stream
 * through HAProxy, and reads the stored results back from voxbridge.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openRegistry, type CapacityRegistry, type Reservation } from '@voxfleet/registry';
import {
  StreamClient,
  isRejection,
  requestJson,
  timeUpgradeResponse,
} from '../support/stream-client.js';

/** Reads a variable that run.sh sets, and throws when it is missing. */
function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw new Error(
      `${name} is not set; run this file through packages/ingress/test/containers/run.sh`,
    );
  }
  return value;
}

const INGRESS_PORT = Number(required('FLEET_INGRESS_PORT'));
const STATS_URL = required('FLEET_STATS_URL');
const DOMAIN = required('FLEET_DOMAIN');
const BACKEND = required('FLEET_BACKEND');
const POOL = required('FLEET_POOL');
const WORKERS = Number(required('FLEET_WORKERS'));
const REGISTRY_URL = required('FLEET_REGISTRY_URL');
const BRIDGE_URL = required('FLEET_BRIDGE_URL');
const API_KEY = required('FLEET_API_KEY');
const INTERNAL_TOKEN = required('FLEET_INTERNAL_TOKEN');
const INGRESS_URL = `http://127.0.0.1:${INGRESS_PORT}`;
const INGRESS_WS_URL = `ws://127.0.0.1:${INGRESS_PORT}`;

/** Keeps each call open on its menu until the test presses 1, then plays its goodbye. */
const BOT = {
  name: 'Fleet host check',
  config: {
    start: 'menu',
    nodes: {
      menu: {
        type: 'ask',
        prompt: { text: 'Press 1 to confirm.', audio: 'demo/menu.wav' },
        digits: { '1': 'confirmed' },
        noInput: 'silent',
        timeoutMs: 45_000,
        retries: 0,
      },
      confirmed: {
        type: 'hangup',
        prompt: { text: 'Goodbye.', audio: 'demo/confirmed.wav' },
        outcome: 'confirmed',
      },
      silent: { type: 'hangup', outcome: 'no-response' },
    },
  },
};

interface ClaimedAttempt {
  callId: string;
  tenantId: string;
  botId: string;
  campaignId: string;
  contactId: string;
  to: string;
}

interface PlacedCall {
  attempt: ClaimedAttempt;
  reservation: Reservation;
  stream: StreamClient;
}

interface CallDetail {
  status: string;
  result: { status: string; outcome: string; workerId: string } | null;
  recording: { bytes: number } | null;
}

let registry: CapacityRegistry | null = null;
let botId = '';
let attempts: ClaimedAttempt[] = [];

async function bridgeRequest<T>(
  method: string,
  path: string,
  options: { body?: string; contentType?: string; token?: string } = {},
): Promise<T> {
  const response = await fetch(`${BRIDGE_URL}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${options.token ?? API_KEY}`,
      ...(options.body === undefined
        ? {}
        : { 'content-type': options.contentType ?? 'application/json' }),
    },
    body: options.body,
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} failed with ${response.status}: ${text}`);
  return (text === '' ? {} : JSON.parse(text)) as T;
}

/** Polls `check` every 100 ms until it returns true, and throws after `timeoutMs`. */
async function waitFor(
  check: () => Promise<boolean>,
  description: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Reads each worker's row of the backend from HAProxy's stats CSV, by server name. */
async function serverStats(): Promise<Map<string, Record<string, string>>> {
  const csv = await (await fetch(`${STATS_URL};csv`)).text();
  const [headerLine, ...rows] = csv.trim().split('\n');
  const columns = (headerLine ?? '').replace(/^# /, '').split(',');
  const servers = new Map<string, Record<string, string>>();
  for (const row of rows) {
    const values = row.split(',');
    const record = Object.fromEntries(
      columns.map((column, index) => [column, values[index] ?? '']),
    );
    const name = record['svname'] ?? '';
    if (record['pxname'] !== BACKEND || name === 'BACKEND' || name === 'FRONTEND') continue;
    servers.set(name, record);
  }
  return servers;
}

async function waitForServersUp(description: string): Promise<void> {
  await waitFor(
    async () => {
      const stats = await serverStats().catch(() => new Map<string, Record<string, string>>());
      const up = [...stats.values()].filter((row) => row['status'] === 'UP');
      return stats.size === WORKERS && up.length === WORKERS;
    },
    description,
    60_000,
  );
}

/** Turns a public worker URL (`http://DOMAIN/w/...`) into the same path on the ingress. */
function toIngress(publicUrl: string): string {
  const url = new URL(publicUrl);
  return `${INGRESS_URL}${url.pathname}${url.search}`;
}

/** Reserves a slot, attaches through HAProxy and opens the stream, as dialler and carrier do. */
async function placeCall(attempt: ClaimedAttempt): Promise<PlacedCall> {
  const reservation = await registry?.reserve({
    pool: POOL,
    callId: attempt.callId,
    tenantId: attempt.tenantId,
    campaignId: attempt.campaignId,
    reservationTtlMs: 20_000,
  });
  assert.ok(reservation, `no free slot for call ${attempt.callId}`);
  const attached = await requestJson({
    url: `${toIngress(reservation.url)}/attach`,
    host: DOMAIN,
    body: {
      reservationToken: reservation.token,
      callId: attempt.callId,
      botId: attempt.botId,
      tenantId: attempt.tenantId,
      campaignId: attempt.campaignId,
      contactId: attempt.contactId,
      to: attempt.to,
      streamTimeoutMs: 30_000,
    },
  });
  assert.equal(attached.status, 200, JSON.stringify(attached.body));
  assert.equal(attached.servedBy, reservation.workerId);

  const streamUrl = String(attached.body['streamUrl']);
  assert.match(streamUrl, new RegExp(`/w/${reservation.workerId}/ws/${attempt.botId}\\?`));
  const opened = await StreamClient.open(toIngress(streamUrl), DOMAIN);
  if (isRejection(opened)) assert.fail(`stream rejected: ${opened.status} ${opened.body}`);
  assert.equal(opened.servedBy, reservation.workerId);
  opened.begin();
  // A carrier sends a 20 ms frame every 20 ms, and the worker's media clock and recording
  // advance with them.
  const frames = setInterval(() => {
    if (opened.isOpen) opened.sendSilence();
    else clearInterval(frames);
  }, 20);
  await opened.waitForMedia(5, 20_000);
  return { attempt, reservation, stream: opened };
}

async function waitForResult(callId: string): Promise<CallDetail> {
  let detail: CallDetail | null = null;
  await waitFor(
    async () => {
      detail = await bridgeRequest<CallDetail>('GET', `/v1/calls/${callId}`);
      return detail.result !== null && detail.recording !== null;
    },
    `the result and recording of call ${callId}`,
    30_000,
  );
  assert.ok(detail);
  return detail;
}

before(async () => {
  registry = await openRegistry(REGISTRY_URL);
  await waitForServersUp('every worker UP in HAProxy');
  await waitFor(
    async () => (await registry?.list(POOL))?.length === WORKERS,
    `${WORKERS} workers registered in pool ${POOL}`,
    30_000,
  );

  const bot = await bridgeRequest<{ id: string }>('POST', '/v1/bots', {
    body: JSON.stringify(BOT),
  });
  botId = bot.id;
  const campaign = await bridgeRequest<{ id: string }>('POST', '/v1/campaigns', {
    body: JSON.stringify({ name: 'Fleet host check', botId, concurrency: WORKERS }),
  });
  const rows = Array.from({ length: WORKERS }, (_, i) => `+9198000000${10 + i},Caller ${i + 1}`);
  await bridgeRequest('POST', `/v1/campaigns/${campaign.id}/contacts`, {
    body: ['phone,name', ...rows].join('\n'),
    contentType: 'text/csv',
  });
  await bridgeRequest('POST', `/v1/campaigns/${campaign.id}/start`);
  const claimed = await bridgeRequest<{ attempts: ClaimedAttempt[] }>(
    'POST',
    '/internal/dialler/claim',
    { body: JSON.stringify({ limit: WORKERS }), token: INTERNAL_TOKEN },
  );
  attempts = claimed.attempts;
  assert.equal(attempts.length, WORKERS, 'voxbridge claimed too few attempts');
});

after(async () => {
  await registry?.close();
});

test('public stream route reaches idle worker containers', async () => {
  const servedBy = new Set<string>();
  for (let i = 0; i < 2 * WORKERS; i++) {
    const opened = await StreamClient.open(`${INGRESS_WS_URL}/ws/${botId}`, DOMAIN);
    // An idle worker has no attached call, so the worker itself rejects the stream (404).
    assert.ok(isRejection(opened), 'a stream without an attached call was accepted');
    assert.equal(opened.status, 404);
    assert.match(opened.body, /CALL_NOT_FOUND/);
    assert.ok(opened.servedBy !== undefined, 'no x-voxfleet-served-by header');
    servedBy.add(opened.servedBy);
  }
  assert.ok(servedBy.size >= 2, `every stream went to ${[...servedBy].join(', ')}`);
});

test('N calls through HAProxy, the next gets a fast 503', async () => {
  const calls = await Promise.all(attempts.map((attempt) => placeCall(attempt)));
  const workerIds = new Set(calls.map((call) => call.reservation.workerId));
  assert.equal(workerIds.size, WORKERS, 'a worker got two calls');

  const stats = await serverStats();
  for (const call of calls) {
    assert.equal(
      stats.get(call.reservation.workerId)?.['scur'],
      '1',
      `${call.reservation.workerId} sessions`,
    );
  }

  // The next inbound call takes the public stream route and must be turned away at once.
  const rejected = await StreamClient.open(`${INGRESS_WS_URL}/ws/${botId}`, DOMAIN);
  assert.ok(isRejection(rejected), 'a full fleet accepted another stream');
  assert.equal(rejected.status, 503);
  const timings: number[] = [];
  for (let i = 0; i < 5; i++) {
    const timed = await timeUpgradeResponse(INGRESS_PORT, `/ws/${botId}`, DOMAIN);
    assert.equal(timed.status, 503);
    timings.push(timed.elapsedMs);
  }
  timings.sort((a, b) => a - b);
  const median = timings[2] ?? Infinity;
  console.log(`rejections of a full fleet: ${timings.map((ms) => ms.toFixed(2)).join(', ')} ms`);
  assert.ok(median < 10, `median rejection took ${median.toFixed(2)} ms`);

  for (const call of calls)
    assert.ok(call.stream.isOpen, `${call.reservation.workerId} stream closed`);

  // Pressing 1 plays the goodbye and hangs up. Each worker then posts its result.
  for (const call of calls) call.stream.sendDtmf('1');
  await Promise.all(calls.map((call) => call.stream.waitForClose(20_000)));
  for (const call of calls) {
    const detail = await waitForResult(call.attempt.callId);
    assert.equal(detail.status, 'completed');
    assert.equal(detail.result?.outcome, 'confirmed');
    assert.equal(detail.result?.workerId, call.reservation.workerId);
    assert.ok(
      (detail.recording?.bytes ?? 0) > 44,
      `call ${call.attempt.callId} has an empty recording`,
    );
  }
  await waitForServersUp('every worker back in rotation');
});
