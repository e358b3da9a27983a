/**
 * Stand-ins for the services around the dialler, on real sockets: voxbridge's internal
 * routes over an in-memory campaign, worker attach routes that confirm and release
 * through the real SQLite registry, and a sim carrier that plays scripted status events.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { openRegistry, type CapacityRegistry } from '@voxfleet/registry';
import {
  AttachCancelRequest,
  AttachRequest,
  PlaceCallRequest,
  type CarrierCallStatus,
  type PlaceCallRequest as PlaceCallRequestType,
  type SimScenario,
} from '@voxfleet/schema';

export const BRIDGE_TOKEN = 'test-internal-token';

type Handler = (request: IncomingMessage, body: unknown) => Promise<[number, unknown]>;

async function readJson(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

async function listen(handler: Handler): Promise<{ server: Server; url: string }> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    readJson(request)
      .then((body) => handler(request, body))
      .then(([status, body]) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(body === undefined ? '' : JSON.stringify(body));
      })
      .catch((err: unknown) => {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ message: String(err) }));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}` };
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------------------------------
// voxbridge

export interface TestContact {
  contactId: string;
  to: string;
  scenario?: SimScenario;
  state: 'pending' | 'dialling' | 'done' | 'failed';
  nextAttemptAt: number;
  attempts: number;
}

export interface ReceivedReport {
  callId: string;
  receivedAt: number;
  body: {
    status: string;
    at: string;
    reason?: string;
    workerId?: string;
    carrierCallId?: string;
    contact?: { decision: string; nextAttemptAt?: string };
  };
}

export interface CampaignSettings {
  maxAttempts: number;
  retryBackoffMs: number;
  concurrency: number;
}

/** A call of `TestBridge`, with the state `GET /internal/dialler/open-calls` lists. */
export interface TestCall {
  contactId: string;
  attempt: number;
  final: boolean;
  status: string;
  carrierCallId: string | null;
  workerId: string | null;
  createdAt: number;
  updatedAt: number;
}

const LIVE_CALL_STATUSES = ['queued', 'dialling', 'ringing', 'in-progress'];
const CALL_STATUS_RANK = ['queued', 'dialling', 'ringing', 'in-progress'];

/** One running campaign with contacts. Claims, status reports and requeues act on it. */
export class TestBridge {
  readonly contacts: TestContact[] = [];
  readonly reports: ReceivedReport[] = [];
  readonly requeues: Array<{ callId: string; reason: string }> = [];
  /** When true, claims return every due contact whatever the limit, as a faulty bridge would. */
  ignoreLimit = false;
  readonly claimLimits: number[] = [];
  /** Calls by callId. */
  readonly calls = new Map<string, TestCall>();
  /** While true, every route responds with 503, which a retry loop treats like an unreachable bridge. */
  down = false;
  url = '';
  private server: Server | null = null;
  private nextCall = 1;

  constructor(
    private readonly campaign: CampaignSettings,
    contacts: Array<{ scenario?: SimScenario }>,
  ) {
    contacts.forEach((contact, index) => {
      this.contacts.push({
        contactId: `contact-${index + 1}`,
        to: `+1555000${String(index + 1).padStart(4, '0')}`,
        scenario: contact.scenario,
        state: 'pending',
        nextAttemptAt: 0,
        attempts: 0,
      });
    });
  }

  async start(): Promise<void> {
    const { server, url } = await listen((request, body) => this.handle(request, body));
    this.server = server;
    this.url = url;
  }

  async stop(): Promise<void> {
    if (this.server !== null) await close(this.server);
  }

  get finished(): boolean {
    return this.contacts.every((contact) => contact.state === 'done' || contact.state === 'failed');
  }

  /** Claims as a dialler would, for a test that plays a dialler which died before placing them. */
  claimNow(limit: number): Array<{ callId: string; contactId: string }> {
    return this.claim(limit) as Array<{ callId: string; contactId: string }>;
  }

  reportsFor(callId: string): ReceivedReport['body'][] {
    return this.reports.filter((report) => report.callId === callId).map((report) => report.body);
  }

  contact(contactId: string): TestContact {
    const found = this.contacts.find((contact) => contact.contactId === contactId);
    if (found === undefined) throw new Error(`no contact ${contactId}`);
    return found;
  }

  callsOf(contactId: string): string[] {
    return [...this.calls.entries()]
      .filter(([, call]) => call.contactId === contactId)
      .map(([callId]) => callId);
  }

  private async handle(request: IncomingMessage, body: unknown): Promise<[number, unknown]> {
    if (this.down) return [503, { message: 'down for the test' }];
    const path = request.url ?? '';
    if (request.method === 'GET' && path === '/health') return [200, { status: 'ok' }];
    if (request.headers.authorization !== `Bearer ${BRIDGE_TOKEN}`) return [401, {}];

    if (request.method === 'POST' && path === '/internal/dialler/claim') {
      const { limit } = body as { limit: number };
      this.claimLimits.push(limit);
      return [200, { attempts: this.claim(this.ignoreLimit ? Number.MAX_SAFE_INTEGER : limit) }];
    }
    if (request.method === 'GET' && path.startsWith('/internal/dialler/open-calls')) {
      const callId = new URL(path, 'http://bridge').searchParams.get('callId');
      return [200, { calls: this.openCalls(callId) }];
    }
    const match = /^\/internal\/calls\/([^/]+)\/(status|requeue)$/.exec(path);
    if (request.method === 'POST' && match !== null) {
      const callId = decodeURIComponent(match[1] ?? '');
      const call = this.calls.get(callId);
      if (call === undefined) return [404, { message: `unknown call ${callId}` }];
      if (match[2] === 'requeue') {
        return this.requeue(callId, call, (body as { reason: string }).reason);
      }
      return this.status(callId, call, body as ReceivedReport['body']);
    }
    return [404, {}];
  }

  private openCalls(callId: string | null): unknown[] {
    return [...this.calls.entries()]
      .filter(([id]) => callId === null || id === callId)
      .filter(([, call]) => !call.final && LIVE_CALL_STATUSES.includes(call.status))
      .map(([id, call]) => {
        const contact = this.contact(call.contactId);
        return {
          ...this.claimView(id, call.attempt, contact),
          status: call.status,
          carrierCallId: call.carrierCallId,
          workerId: call.workerId,
          createdAt: new Date(call.createdAt).toISOString(),
          updatedAt: new Date(call.updatedAt).toISOString(),
        };
      });
  }

  private claimView(
    callId: string,
    attempt: number,
    contact: TestContact,
  ): Record<string, unknown> {
    return {
      callId,
      attempt,
      tenantId: 'tenant-1',
      botId: 'bot-1',
      campaignId: 'campaign-1',
      contactId: contact.contactId,
      to: contact.to,
      scenario: contact.scenario ?? null,
      variables: { name: 'Test' },
      campaign: {
        maxAttempts: this.campaign.maxAttempts,
        retryBackoffMs: this.campaign.retryBackoffMs,
        callerId: '+15550009999',
      },
    };
  }

  private claim(limit: number): unknown[] {
    const now = Date.now();
    const live = this.contacts.filter((contact) => contact.state === 'dialling').length;
    const room = Math.min(limit, this.campaign.concurrency - live);
    const due = this.contacts
      .filter((contact) => contact.state === 'pending' && contact.nextAttemptAt <= now)
      .slice(0, Math.max(0, room));
    return due.map((contact) => {
      contact.state = 'dialling';
      contact.attempts += 1;
      const callId = `call-${this.nextCall++}`;
      this.calls.set(callId, {
        contactId: contact.contactId,
        attempt: contact.attempts,
        final: false,
        status: 'queued',
        carrierCallId: null,
        workerId: null,
        createdAt: now,
        updatedAt: now,
      });
      return this.claimView(callId, contact.attempts, contact);
    });
  }

  private requeue(callId: string, call: TestCall, reason: string): [number, unknown] {
    this.requeues.push({ callId, reason });
    const contact = this.contact(call.contactId);
    if (!call.final && contact.state === 'dialling') {
      call.final = true;
      contact.state = 'pending';
      contact.attempts -= 1;
    }
    return [200, {}];
  }

  private status(callId: string, call: TestCall, body: ReceivedReport['body']): [number, unknown] {
    this.reports.push({ callId, receivedAt: Date.now(), body });
    call.carrierCallId ??= body.carrierCallId ?? null;
    call.workerId ??= body.workerId ?? null;
    const rank = CALL_STATUS_RANK.indexOf(body.status);
    if (!call.final && (rank === -1 || rank > CALL_STATUS_RANK.indexOf(call.status))) {
      call.status = body.status;
      call.updatedAt = Date.now();
    }
    if (call.final || body.contact === undefined) return [200, {}];
    call.final = true;
    const contact = this.contact(call.contactId);
    if (body.contact.decision === 'retry') {
      contact.state = 'pending';
      contact.nextAttemptAt = Date.parse(body.contact.nextAttemptAt ?? '');
    } else {
      contact.state = body.contact.decision === 'done' ? 'done' : 'failed';
    }
    return [200, {}];
  }
}

// ---------------------------------------------------------------------------------------
// workers

export interface AttachRecord {
  workerId: string;
  callId: string;
  token: string;
}

/** Several workers behind one server, each at `{url}/w/{workerId}`. */
export class TestWorkers {
  readonly attaches: AttachRecord[] = [];
  readonly cancels: Array<AttachRecord & { reason: string }> = [];
  /** workerId to the HTTP status its `/attach` responds with instead of accepting. */
  readonly rejectWith = new Map<string, number>();
  /** Statuses the next attach requests get, whichever worker receives them. */
  readonly rejectNext: number[] = [];
  readonly rejected: Array<{ workerId: string; status: number }> = [];
  url = '';
  private server: Server | null = null;
  private readonly active = new Map<string, AttachRecord>();

  constructor(
    private readonly registry: CapacityRegistry,
    readonly workerIds: string[],
  ) {}

  async start(): Promise<void> {
    const { server, url } = await listen((request, body) => this.handle(request, body));
    this.server = server;
    this.url = url;
    for (const workerId of this.workerIds) {
      await this.registry.register({
        workerId,
        url: `${url}/w/${workerId}`,
        host: '127.0.0.1',
        pool: 'default',
        labels: {},
        ttlMs: 120_000,
      });
    }
  }

  async stop(): Promise<void> {
    if (this.server !== null) await close(this.server);
  }

  /** Ends an answered call the way a worker does: releases its own slot. */
  async endCall(callId: string): Promise<void> {
    const record = this.active.get(callId);
    if (record === undefined) return;
    this.active.delete(callId);
    await this.registry.release(record.workerId, record.token);
  }

  private async handle(request: IncomingMessage, body: unknown): Promise<[number, unknown]> {
    const path = request.url ?? '';
    const attach = /^\/w\/([^/]+)\/attach$/.exec(path);
    if (request.method === 'POST' && attach !== null) {
      const workerId = attach[1] ?? '';
      const rejection = this.rejectWith.get(workerId);
      const status = rejection ?? this.rejectNext.shift();
      if (status !== undefined) {
        this.rejected.push({ workerId, status });
        return [status, { code: 'REJECTED_BY_TEST' }];
      }
      const parsed = AttachRequest.parse(body);
      const confirmed = await this.registry.confirm(workerId, parsed.reservationToken);
      if (confirmed !== 'confirmed') return [403, { code: 'RESERVATION_INVALID', confirmed }];
      const record = { workerId, callId: parsed.callId, token: parsed.reservationToken };
      this.attaches.push(record);
      this.active.set(parsed.callId, record);
      return [
        200,
        {
          workerId,
          callId: parsed.callId,
          streamUrl: `ws://127.0.0.1/ws/bot-1?callId=${parsed.callId}`,
        },
      ];
    }
    const cancel = /^\/w\/([^/]+)\/attach\/([^/]+)\/cancel$/.exec(path);
    if (request.method === 'POST' && cancel !== null) {
      const workerId = cancel[1] ?? '';
      const callId = decodeURIComponent(cancel[2] ?? '');
      const parsed = AttachCancelRequest.parse(body);
      this.cancels.push({
        workerId,
        callId,
        token: parsed.reservationToken,
        reason: parsed.reason,
      });
      this.active.delete(callId);
      await this.registry.release(workerId, parsed.reservationToken);
      return [200, {}];
    }
    return [404, {}];
  }
}

// ---------------------------------------------------------------------------------------
// sim carrier

export interface ScriptedEvent {
  status: CarrierCallStatus;
  /** Delay after the previous event (or after the place-call request). */
  delayMs: number;
}

/** Status events per scenario; `speak` and the press scenarios answer and complete. */
export function defaultScript(scenario: SimScenario | undefined): ScriptedEvent[] {
  switch (scenario) {
    case 'busy':
      return [{ status: 'busy', delayMs: 20 }];
    case 'no-answer':
      return [
        { status: 'ringing', delayMs: 20 },
        { status: 'no-answer', delayMs: 40 },
      ];
    case 'failed':
      return [{ status: 'failed', delayMs: 20 }];
    default:
      return [
        { status: 'ringing', delayMs: 20 },
        { status: 'answered', delayMs: 30 },
        { status: 'completed', delayMs: 60 },
      ];
  }
}

export class TestCarrier {
  readonly placed: PlaceCallRequestType[] = [];
  /** callIds between place-call and the last scripted event, for the in-flight checks. */
  readonly live = new Set<string>();
  maxLive = 0;
  /** Status of the place-call response instead of accepting, when set. */
  failWith: number | null = null;
  /** The state `GET /v1/calls/{carrierCallId}` returns, by carrierCallId. */
  readonly states = new Map<
    string,
    { callId: string; state: CarrierCallStatus; endedAt: string | null }
  >();
  script: (request: PlaceCallRequestType) => ScriptedEvent[] = (request) =>
    defaultScript(request.scenario);
  secret: string | undefined;
  url = '';
  private server: Server | null = null;
  private readonly pending = new Set<Promise<void>>();
  private nextId = 1;

  constructor(private readonly workers: TestWorkers) {}

  async start(): Promise<void> {
    const { server, url } = await listen((request, body) => this.handle(request, body));
    this.server = server;
    this.url = url;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    if (this.server !== null) await close(this.server);
  }

  carrierCallIdOf(callId: string): string {
    const index = this.placed.findIndex((request) => request.callId === callId);
    return `sim-${index + 1}`;
  }

  /** Posts one status event to the dialler and returns the response status and body. */
  async send(
    request: PlaceCallRequestType,
    status: CarrierCallStatus,
    extra: Record<string, unknown> = {},
  ): Promise<{ status: number; body: unknown }> {
    this.setState(request, status);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.secret !== undefined) headers['x-carrier-secret'] = this.secret;
    const response = await fetch(request.statusCallbackUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        carrierCallId: this.carrierCallIdOf(request.callId),
        callId: request.callId,
        status,
        at: new Date().toISOString(),
        ...extra,
      }),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Records `status` as the call's carrier-side state without sending a callback. */
  setState(request: PlaceCallRequestType, status: CarrierCallStatus): void {
    const final = status !== 'ringing' && status !== 'answered';
    this.states.set(this.carrierCallIdOf(request.callId), {
      callId: request.callId,
      state: status,
      endedAt: final ? new Date().toISOString() : null,
    });
  }

  private async handle(request: IncomingMessage, body: unknown): Promise<[number, unknown]> {
    const lookup = /^\/v1\/calls\/([^/]+)$/.exec(request.url ?? '');
    if (request.method === 'GET' && lookup !== null) {
      const carrierCallId = decodeURIComponent(lookup[1] ?? '');
      const state = this.states.get(carrierCallId);
      if (state === undefined) return [404, { code: 'CARRIER_SIM_CALL_NOT_FOUND' }];
      return [200, { carrierCallId, ...state }];
    }
    if (request.method !== 'POST' || request.url !== '/v1/calls') return [404, {}];
    if (this.failWith !== null) return [this.failWith, { message: 'failed by the test' }];
    const parsed = PlaceCallRequest.parse(body);
    this.placed.push(parsed);
    const carrierCallId = `sim-${this.nextId++}`;
    this.states.set(carrierCallId, { callId: parsed.callId, state: 'ringing', endedAt: null });
    const events = this.script(parsed);
    if (events.length > 0) {
      this.live.add(parsed.callId);
      this.maxLive = Math.max(this.maxLive, this.live.size);
      const task = this.play(parsed, events).catch(() => undefined);
      this.pending.add(task);
      void task.finally(() => this.pending.delete(task));
    }
    return [200, { carrierCallId }];
  }

  private async play(request: PlaceCallRequestType, events: ScriptedEvent[]): Promise<void> {
    try {
      for (const event of events) {
        await sleep(event.delayMs);
        if (event.status === 'completed') await this.workers.endCall(request.callId);
        await this.send(request, event.status);
      }
    } finally {
      this.live.delete(request.callId);
    }
  }
}

// ---------------------------------------------------------------------------------------

export interface Stack {
  dir: string;
  registry: CapacityRegistry;
  bridge: TestBridge;
  workers: TestWorkers;
  carrier: TestCarrier;
  close(): Promise<void>;
}

/** Starts the stand-ins over a fresh SQLite registry in a temp dir. */
export async function startStack(options: {
  campaign: CampaignSettings;
  contacts: Array<{ scenario?: SimScenario }>;
  workerIds: string[];
}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'voxdialler-test-'));
  const registry = await openRegistry(`sqlite:${join(dir, 'registry.db')}`);
  const bridge = new TestBridge(options.campaign, options.contacts);
  const workers = new TestWorkers(registry, options.workerIds);
  const carrier = new TestCarrier(workers);
  const closers: Array<() => Promise<void>> = [];
  try {
    await bridge.start();
    closers.push(() => bridge.stop());
    await workers.start();
    closers.push(() => workers.stop());
    await carrier.start();
    closers.push(() => carrier.stop());
  } catch (err) {
    for (const closer of closers.reverse()) await closer();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    registry,
    bridge,
    workers,
    carrier,
    async close() {
      for (const closer of closers.reverse()) await closer().catch(() => undefined);
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `condition` every 20 ms until it holds, and fails naming `description` after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  description: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}`);
    await sleep(20);
  }
}
