/**
 * The worker: one process, at most one call. It owns the HTTP + WebSocket server, the
 * registry link, the spool and the current call, and moves through these states:
 *
 *   idle -> attached (confirmed attach, waiting for the stream) -> in-call -> finishing -> idle
 *
 * `draining` (no new attaches, the current call runs on) and `stopped` come on top.
 * `stop()` closes in this order: HTTP server, current call (aborted), spool, registry.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { join } from 'node:path';
import type { Logger } from '@voxfleet/logger';
import type { CapacityRegistry } from '@voxfleet/registry';
import type { AttachRequest, AttachResponse } from '@voxfleet/schema';
import { WebSocketServer } from 'ws';
import { AgentCheckServer } from './agent-check.js';
import { BridgeClient } from './bridge-client.js';
import type { ActiveCall, CallEnd, StreamAuth } from './call/active-call.js';
import type { CreatePromptSource, CreateSession } from './call/session.js';
import type { PromptSource } from './engine/types.js';
import { WorkerError } from './errors.js';
import { checkAttachCancelRequest, checkAttachRequest } from './http/attach-body.js';
import { handleRequest } from './http/routes.js';
import type { LiveKitConfig } from './livekit/config.js';
import type { LiveKitMediaConnector } from './livekit/media.js';
import { checkTwilioSignature, rejectUpgrade } from './http/upgrade.js';
import { parseProvider } from './protocol/types.js';
import { WorkerMetrics } from './metrics.js';
import { RegistryLink } from './registry-link.js';
import { Spool } from './spool.js';

export const WORKER_STATES = [
  'created',
  'idle',
  'attached',
  'in-call',
  'finishing',
  'draining',
  'stopped',
] as const;
export type WorkerState = (typeof WORKER_STATES)[number];
type CallPhase = 'idle' | 'attached' | 'in-call' | 'finishing';

/** WebSocket messages above this size close the socket (ws `maxPayload`); see `MAX_FRAME_BYTES`. */
const HARD_MAX_PAYLOAD_BYTES = 1024 * 1024;

export interface WorkerOptions {
  workerId: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Base URL the dialler and carrier reach; defaults to `http://<host>:<port>`. */
  publicUrl?: string;
  pool: string;
  labels: Record<string, string>;
  registry: CapacityRegistry;
  ttlMs: number;
  heartbeatIntervalMs: number;
  bridgeUrl: string;
  bridgeInternalToken: string;
  /** Timeout of one voxbridge request. */
  bridgeTimeoutMs?: number;
  /** Holds the spool (`<dataDir>/spool`). */
  dataDir: string;
  promptsDir: string;
  ttsCacheDir: string;
  drainTimeoutMs: number;
  log: Logger;
  createSession: CreateSession;
  createPromptSource: CreatePromptSource;
  /** First and maximum spool retry delay. */
  spoolRetryInitialMs?: number;
  spoolRetryMaxMs?: number;
  /** Called on `POST /drain`; defaults to `drain()`. The CLI passes its shutdown path. */
  onDrainRequest?: () => void;
  /** Twilio auth token; when set, `X-Twilio-Signature` is verified on stream upgrades. */
  twilioAuthToken?: string;
  /** A started stream with no frame for this long ends the call; default 15 000. */
  streamIdleTimeoutMs?: number;
  /** LiveKit server and SIP trunk for `POST /livekit/dialout`; the route returns 503 without. */
  livekit?: LiveKitConfig;
  /** Joins LiveKit rooms for media; defaults to the `@livekit/rtc-node` connector. */
  livekitMedia?: LiveKitMediaConnector;
  /** HAProxy agent-check port (see `agent-check.ts`); 0 picks a free port, undefined turns it off. */
  agentPort?: number;
}

export class Worker {
  readonly metrics = new WorkerMetrics();
  readonly #options: WorkerOptions;
  readonly #log: Logger;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #bridge: BridgeClient;
  readonly #spool: Spool;
  readonly #prompts: PromptSource;
  #link: RegistryLink | null = null;
  #phase: CallPhase = 'idle';
  #call: ActiveCall | null = null;
  #callEnded: Promise<void> = Promise.resolve();
  #resolveCallEnded: () => void = () => {};
  #url: string | null = null;
  #started: Promise<{ url: string }> | null = null;
  #draining: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #agent: AgentCheckServer | null = null;

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#bridge = new BridgeClient({
      baseUrl: options.bridgeUrl,
      internalToken: options.bridgeInternalToken,
      timeoutMs: options.bridgeTimeoutMs ?? 5_000,
    });
    this.#spool = new Spool({
      dir: join(options.dataDir, 'spool'),
      bridge: this.#bridge,
      log: options.log.child({ component: 'spool' }),
      retryInitialMs: options.spoolRetryInitialMs ?? 500,
      retryMaxMs: options.spoolRetryMaxMs ?? 30_000,
    });
    this.#prompts = options.createPromptSource({
      promptsDir: options.promptsDir,
      ttsCacheDir: options.ttsCacheDir,
      log: options.log.child({ component: 'prompts' }),
    });
    this.#server = createServer((req, res) => void handleRequest(this, req, res));
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: HARD_MAX_PAYLOAD_BYTES });
    this.#server.on('upgrade', (req, socket, head) => this.#onUpgrade(req, socket, head));
    this.metrics.setState('created', WORKER_STATES);
  }

  get log(): Logger {
    return this.#log;
  }

  get workerId(): string {
    return this.#options.workerId;
  }

  get state(): WorkerState {
    if (this.#stopping !== null) return 'stopped';
    if (this.#draining !== null) return 'draining';
    if (this.#url === null) return 'created';
    return this.#phase;
  }

  get currentCallId(): string | null {
    return this.#call?.callId ?? null;
  }

  /** 200 on `/ready`: idle, registered and not draining. */
  get ready(): boolean {
    return this.state === 'idle' && (this.#link?.registered ?? false);
  }

  /** The bound agent-check port, or null when the agent check is off or not started. */
  get agentPort(): number | null {
    return this.#agent?.port ?? null;
  }

  get livekitConfig(): LiveKitConfig | undefined {
    return this.#options.livekit;
  }

  get livekitMedia(): LiveKitMediaConnector | undefined {
    return this.#options.livekitMedia;
  }

  get internalToken(): string {
    return this.#options.bridgeInternalToken;
  }

  /** Listens, sends spooled results of earlier runs and registers; idempotent. */
  start(): Promise<{ url: string }> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<{ url: string }> {
    const { host, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address();
    const boundPort = typeof address === 'object' && address !== null ? address.port : port;
    const url = this.#options.publicUrl ?? `http://${formatHost(host)}:${boundPort}`;
    this.#url = url;
    this.#setPhase('idle');
    this.#log.info({ url, workerId: this.workerId }, 'worker listening');

    await this.#spool.start();
    this.#link = new RegistryLink({
      registry: this.#options.registry,
      registration: {
        workerId: this.workerId,
        url,
        host: new URL(url).hostname,
        pool: this.#options.pool,
        labels: this.#options.labels,
        ttlMs: this.#options.ttlMs,
      },
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
      log: this.#log.child({ component: 'registry' }),
    });
    await this.#link.start();
    if (this.#options.agentPort !== undefined) {
      this.#agent = new AgentCheckServer({
        host: this.#options.host,
        port: this.#options.agentPort,
        readState: () => ({ state: this.state, registered: this.#link?.registered ?? false }),
        log: this.#log.child({ component: 'agent-check' }),
      });
      await this.#agent.start();
    }
    return { url };
  }

  /**
   * Attaches a reserved call. The idle check and the claim of the slot run with no await
   * between them, so of two simultaneous attaches exactly one gets past it.
   */
  async attach(body: unknown): Promise<AttachResponse> {
    const parsed = checkAttachRequest(body);
    if (!parsed.ok) throw new WorkerError('INVALID_REQUEST', parsed.message);
    const request = parsed.value;
    // The call code (stream protocols and their zod schemas) loads with the first attach,
    // so an idle worker does not hold it in memory. This await comes before the idle check.
    const { ActiveCall } = await import('./call/active-call.js');
    if (this.#draining !== null || this.#stopping !== null) {
      throw new WorkerError('WORKER_DRAINING', 'worker is draining and takes no new calls');
    }
    if (this.#url === null || this.#link === null) {
      throw new WorkerError('WORKER_NOT_READY', 'worker has not started');
    }
    if (this.#phase !== 'idle') {
      throw new WorkerError(
        'WORKER_BUSY',
        `worker already holds call ${this.#call?.callId ?? '(finishing)'}`,
        { callId: request.callId },
      );
    }
    this.#setPhase('attached');

    let confirmation;
    try {
      confirmation = await this.#options.registry.confirm(this.workerId, request.reservationToken);
    } catch (err) {
      this.#setPhase('idle');
      this.#log.warn({ err, callId: request.callId }, 'registry confirm failed');
      throw new WorkerError('REGISTRY_UNAVAILABLE', 'registry confirm failed; try another worker', {
        cause: err,
        callId: request.callId,
        retryable: true,
      });
    }
    if (confirmation !== 'confirmed') {
      this.#setPhase('idle');
      throw new WorkerError('RESERVATION_INVALID', `reservation not confirmed: ${confirmation}`, {
        callId: request.callId,
      });
    }
    if (this.#draining !== null) {
      // A drain began while the registry confirmed: hand the slot straight back.
      this.#setPhase('idle');
      await this.#link.release(request.reservationToken, request.callId);
      throw new WorkerError('WORKER_DRAINING', 'worker is draining and takes no new calls');
    }

    void this.#link.rememberCall({
      token: request.reservationToken,
      callId: request.callId,
      tenantId: request.tenantId,
      ...(request.campaignId === null ? {} : { campaignId: request.campaignId }),
    });

    const log = this.#log.child({ callId: request.callId, botId: request.botId });
    this.#callEnded = new Promise((resolve) => {
      this.#resolveCallEnded = resolve;
    });
    this.#call = new ActiveCall({
      request,
      workerId: this.workerId,
      log,
      metrics: this.metrics,
      bridge: this.#bridge,
      createSession: this.#options.createSession,
      prompts: this.#prompts,
      ...(this.#options.streamIdleTimeoutMs === undefined
        ? {}
        : { streamIdleTimeoutMs: this.#options.streamIdleTimeoutMs }),
      onStreamStarted: () => this.#setPhase('in-call'),
      onEnd: (end) => void this.#onCallEnd(request, end),
    });
    log.info({ streamTimeoutMs: request.streamTimeoutMs }, 'call attached');

    // A path in the public URL (such as an ingress's `/w/{workerId}`) is kept before `/ws/`.
    const base = this.#url.replace(/\/+$/, '');
    const streamUrl = new URL(`${base}/ws/${encodeURIComponent(request.botId)}`);
    streamUrl.protocol = streamUrl.protocol === 'https:' ? 'wss:' : 'ws:';
    streamUrl.searchParams.set('callId', request.callId);
    streamUrl.searchParams.set('token', request.reservationToken);
    return { workerId: this.workerId, callId: request.callId, streamUrl: streamUrl.toString() };
  }

  /** Frees the slot of an attached call that was never answered. */
  async cancel(callId: string, body: unknown): Promise<{ cancelled: true }> {
    const parsed = checkAttachCancelRequest(body);
    if (!parsed.ok) throw new WorkerError('INVALID_REQUEST', parsed.message);
    const call = this.#call;
    if (call === null || call.callId !== callId) {
      throw new WorkerError('CALL_NOT_FOUND', `call ${callId} is not attached to this worker`, {
        callId,
      });
    }
    if (!call.matchesToken(parsed.value.reservationToken)) {
      throw new WorkerError('RESERVATION_INVALID', 'reservation token does not match', { callId });
    }
    if (!call.cancel(parsed.value.reason)) {
      throw new WorkerError('WORKER_BUSY', `call ${callId} is already streaming`, { callId });
    }
    await this.#callEnded;
    return { cancelled: true };
  }

  /** Handles `POST /drain`. */
  requestDrain(): void {
    if (this.#options.onDrainRequest !== undefined) this.#options.onDrainRequest();
    else void this.drain();
  }

  /**
   * Stops taking calls, lets the current call finish (aborting it after
   * `drainTimeoutMs`), flushes the spool briefly and deregisters. Idempotent.
   */
  drain(): Promise<void> {
    this.#draining ??= this.#drain();
    return this.#draining;
  }

  async #drain(): Promise<void> {
    this.metrics.setState('draining', WORKER_STATES);
    this.#log.info({ callId: this.#call?.callId }, 'worker draining');
    await this.#link?.setDraining();

    // An attached call still waiting for its stream is kept: the carrier may be placing it.
    const timedOut = await waitFor(this.#callEnded, this.#options.drainTimeoutMs);
    if (timedOut) {
      this.#log.warn({ drainTimeoutMs: this.#options.drainTimeoutMs }, 'drain timed out');
      this.abortCall('drain-timeout');
      await this.#callEnded;
    }

    const flushed = await this.#spool.flush(3_000);
    if (!flushed) this.#log.warn({ pending: this.#spool.pendingCount }, 'spool not empty');
    await this.#link?.stop();
    this.#log.info({}, 'worker drained');
  }

  /** Ends the current call now with status `aborted` (a second shutdown signal). */
  abortCall(reason: string): void {
    this.#call?.abort(reason);
  }

  /** Resolves once the current call (if any) has ended and its result is spooled. */
  whenCallEnded(): Promise<void> {
    return this.#callEnded;
  }

  /** Closes the server, aborts a call in progress, stops the spool and the registry link. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.metrics.setState('stopped', WORKER_STATES);
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.abortCall('worker-stopped');
    await waitFor(this.#callEnded, 5_000);
    for (const client of this.#wss.clients) client.terminate();
    this.#server.closeAllConnections();
    await closed;
    await this.#spool.stop();
    await this.#link?.stop();
    await this.#agent?.stop();
    this.#log.info({}, 'worker stopped');
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // The HTTP server no longer watches an upgrading socket, so its errors are handled here.
    socket.on('error', (err) => this.#log.debug({ err }, 'upgrade socket error'));
    try {
      this.#routeUpgrade(req, socket, head);
    } catch (err) {
      this.#log.error({ err, url: req.url }, 'stream upgrade failed');
      rejectUpgrade(socket, 500, 'INTERNAL', 'internal error');
    }
  }

  #routeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://worker.invalid');
    const match = /^\/ws\/([^/]+)$/.exec(url.pathname);
    const reject = (status: number, code: string, message: string): void => {
      this.metrics.attachRejections.inc({ code });
      this.#log.warn({ code, path: url.pathname }, 'stream upgrade rejected');
      rejectUpgrade(socket, status, code, message);
    };
    if (match === null) return reject(404, 'NOT_FOUND', 'no WebSocket route at this path');

    const call = this.#call;
    if (call === null || this.#phase !== 'attached' || call.streamStarted) {
      if (call !== null && this.#phase === 'in-call') {
        return reject(409, 'WORKER_BUSY', 'a call is already streaming on this worker');
      }
      return reject(404, 'CALL_NOT_FOUND', 'no call is attached to this worker');
    }
    if (decodePathSegment(match[1] ?? '') !== call.botId) {
      return reject(403, 'RESERVATION_INVALID', 'bot id does not match the attached call');
    }
    const callId = url.searchParams.get('callId');
    const token = url.searchParams.get('token');
    if (callId !== null && callId !== call.callId) {
      return reject(403, 'RESERVATION_INVALID', 'callId does not match the attached call');
    }
    if (token !== null && !call.matchesToken(token)) {
      return reject(403, 'RESERVATION_INVALID', 'token does not match the reservation');
    }
    if (call.hasSocket && !(token !== null && call.hasUnprovenSocket)) {
      return reject(409, 'WORKER_BUSY', 'the call already has a stream');
    }
    const providerParam = url.searchParams.get('provider');
    const provider = providerParam === null ? null : parseProvider(providerParam);
    if (providerParam !== null && provider === null) {
      return reject(400, 'INVALID_REQUEST', 'provider must be twilio, exotel, plivo or telnyx');
    }
    const signature = checkTwilioSignature(this.#options.twilioAuthToken, this.#url ?? '', req);
    if (signature === 'invalid') {
      return reject(403, 'TWILIO_SIGNATURE_INVALID', 'X-Twilio-Signature does not match the URL');
    }
    if (signature === 'absent' && provider === 'twilio') {
      return reject(403, 'TWILIO_SIGNATURE_INVALID', 'X-Twilio-Signature header is missing');
    }
    const auth: StreamAuth = {
      tokenProven: token !== null,
      provider,
      requireTwilioSignature: signature === 'absent',
    };

    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      // A socket that proved its token in the URL displaces one that has proven nothing.
      if (this.#call === call && auth.tokenProven) call.dropUnprovenSocket();
      if (this.#call !== call || call.hasSocket) {
        ws.close(1013, 'call no longer waiting for a stream');
        return;
      }
      call.acceptSocket(ws, auth);
    });
  }

  async #onCallEnd(request: AttachRequest, end: CallEnd): Promise<void> {
    const log = this.#log.child({ callId: request.callId });
    this.#setPhase('finishing');
    try {
      if (end.kind === 'finished') {
        this.metrics.calls.inc({ status: end.result.status });
        try {
          await this.#spool.add(end.result, end.recording);
        } catch (err) {
          log.error({ err }, 'spooling result failed');
        }
      } else {
        this.metrics.calls.inc({ status: end.kind });
        log.info({ reason: end.kind === 'cancelled' ? end.reason : end.kind }, 'attach freed');
      }
      await this.#link?.release(request.reservationToken, request.callId);
    } finally {
      this.#call = null;
      this.#setPhase('idle');
      this.#resolveCallEnded();
    }
  }

  #setPhase(phase: CallPhase): void {
    this.#phase = phase;
    if (this.#draining === null && this.#stopping === null) {
      this.metrics.setState(phase, WORKER_STATES);
    }
  }
}

/** Waits for `promise` up to `timeoutMs`; returns true when the time ran out first. */
async function waitFor(promise: Promise<void>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(true), timeoutMs);
  });
  const result = await Promise.race([promise.then(() => false), timeout]);
  clearTimeout(timer);
  return result;
}

/** Decodes one URL path segment; a malformed escape yields null rather than a throw. */
export function decodePathSegment(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
