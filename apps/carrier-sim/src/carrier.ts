/**
 * The sim carrier service: the HTTP API, the calls in memory and their lifecycle.
 *
 * @example
 * const carrier = createSimCarrier({ port: 0, speed: 10, audioDir: '/usr/share/asterisk/sounds/en' });
 * const { url } = await carrier.start();
 * // POST `${url}/v1/calls` with a PlaceCallRequest ...
 * await carrier.stop();
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '@voxfleet/logger';
import { PlaceCallRequest, type SimScenario } from '@voxfleet/schema';
import { SimCall, type CallSnapshot, type CallTiming, type SimCallRequest } from './call.js';
import { DEFAULT_AUDIO_DIR, loadCallerAudio, type CallerAudio } from './caller-audio.js';
import { CarrierSimError } from './errors.js';
import { createRequestListener } from './http-api.js';
import { parseInboundCallRequest, type InboundCallResult } from './inbound-request.js';
import {
  buildWebhookRequest,
  newCarrierCallId,
  sendWebhook,
  webhookFields,
  type WebhookAction,
} from './inbound-webhook.js';
import { DEFAULT_SCENARIO, SPEAK_PHRASE } from './scenarios.js';
import { StatusNotifier } from './status-callbacks.js';

export interface SimCarrierOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 7720; 0 picks a free port. */
  port?: number;
  /** Divides every wait: 1 is real time (default), 10 is ten times faster. */
  speed?: number;
  /** Folder of the callee's WAV phrases; default the repository's `assets/caller`. */
  audioDir?: string;
  /** Media time after which any call is ended with `stop`. Default 600000 (10 minutes). */
  maxCallMs?: number;
  /** Sent as `x-carrier-secret` on status callbacks when set. */
  callbackSecret?: string | undefined;
  /** Pre-answer delays; see `CallTiming`. Default 1000, 500 and 200 ms. */
  timing?: Partial<CallTiming>;
  /** Wall-clock limit for the WebSocket handshake with the worker. Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Callback delivery attempts per event, the first included. Default 4. */
  callbackAttempts?: number;
  /** Ended calls kept for `GET /v1/calls/{id}`; the oldest are evicted first. Default 10000. */
  maxEndedCalls?: number;
  /** Wall-clock time `stop()` waits for calls to end and callbacks to arrive. Default 5000. */
  stopTimeoutMs?: number;
  /** Wall-clock limit for an inbound call's webhook request. Default 10000 ms. */
  webhookTimeoutMs?: number;
  /** Default: a silent logger. */
  log?: Logger;
}

/** Account SID shown in `start` and `stop` messages; Twilio SIDs are a prefix and 32 hex digits. */
const SIM_ACCOUNT_SID = `AC${'0'.repeat(32)}`;

export class SimCarrier {
  private readonly options: SimCarrierOptions;
  private readonly log: Logger;
  private readonly speed: number;
  private readonly notifier: StatusNotifier;
  private readonly calls = new Map<string, SimCall>();
  private readonly running = new Set<Promise<void>>();
  private server: Server | undefined;
  private audio: CallerAudio | undefined;
  private starting: Promise<{ url: string }> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: SimCarrierOptions = {}) {
    this.options = options;
    this.log = options.log ?? createLogger({ service: 'carrier-sim', level: 'silent' });
    this.speed = options.speed ?? 1;
    if (!(this.speed > 0) || !Number.isFinite(this.speed)) {
      throw new CarrierSimError(
        'CARRIER_SIM_INVALID_OPTIONS',
        `speed must be a finite number above 0, got ${this.speed}`,
      );
    }
    const maxCallMs = options.maxCallMs ?? 600_000;
    if (!(maxCallMs > 0)) {
      throw new CarrierSimError(
        'CARRIER_SIM_INVALID_OPTIONS',
        `maxCallMs must be above 0, got ${maxCallMs}`,
      );
    }
    this.notifier = new StatusNotifier({
      secret: options.callbackSecret,
      speed: this.speed,
      maxAttempts: options.callbackAttempts ?? 4,
      log: this.log,
    });
  }

  /** Loads the caller audio and listens. Calling it again returns the same URL. */
  start(): Promise<{ url: string }> {
    if (this.stopping !== undefined) {
      return Promise.reject(new CarrierSimError('CARRIER_SIM_STOPPED', 'the carrier was stopped'));
    }
    this.starting ??= this.listen();
    return this.starting;
  }

  /**
   * Stops taking calls, ends every live call (`stop` on answered streams, `failed` while
   * ringing), waits up to `stopTimeoutMs` for their status callbacks, then closes the
   * server. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Validates the request and starts the call; throws `CarrierSimError`. */
  placeCall(body: unknown): { carrierCallId: string } {
    this.assertTakingCalls();
    const request = parsePlaceCallRequest(body);
    for (const call of this.calls.values()) {
      if (call.isLive && call.callId === request.callId) {
        throw new CarrierSimError(
          'CARRIER_SIM_CALL_ACTIVE',
          `call ${request.callId} is already in progress as ${call.carrierCallId}`,
          { callId: request.callId, carrierCallId: call.carrierCallId },
        );
      }
    }

    const carrierCallId = `CA${randomBytes(16).toString('hex')}`;
    this.startCall(carrierCallId, request, request.scenario ?? DEFAULT_SCENARIO, 'outbound');
    return { carrierCallId };
  }

  private assertTakingCalls(): void {
    if (this.stopping !== undefined || this.audio === undefined) {
      throw new CarrierSimError(
        'CARRIER_SIM_STOPPING',
        'the carrier is not taking calls: it has not started or is stopping',
        { retryable: true },
      );
    }
  }

  /** Creates the call and runs it in the background. */
  private startCall(
    carrierCallId: string,
    request: SimCallRequest,
    scenario: SimScenario,
    direction: 'outbound' | 'inbound',
  ): void {
    const audio = this.audio;
    if (audio === undefined) throw new CarrierSimError('CARRIER_SIM_STOPPING', 'not started');
    // An inbound call has been ringing at the carrier since before the webhook request, so
    // it connects at once.
    const inbound = direction === 'inbound';
    const call = new SimCall({
      carrierCallId,
      request,
      direction,
      scenario,
      speed: this.speed,
      timing: {
        answerDelayMs: inbound ? 0 : (this.options.timing?.answerDelayMs ?? 1000),
        busyDelayMs: inbound ? 0 : (this.options.timing?.busyDelayMs ?? 500),
        failDelayMs: this.options.timing?.failDelayMs ?? 200,
      },
      maxCallMs: this.options.maxCallMs ?? 600_000,
      connectTimeoutMs: this.options.connectTimeoutMs ?? 10_000,
      accountSid: SIM_ACCOUNT_SID,
      audio,
      notifier: this.notifier,
      log: this.log,
    });
    this.calls.set(carrierCallId, call);
    this.evictEndedCalls();

    const run = call.run();
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
  }

  /**
   * Receives a call on one of the carrier's numbers. It sends the provider's webhook to
   * `webhookUrl` and reads the markup of the response. When that names a stream, it opens
   * the stream and plays the scenario as the caller. Resolves once the webhook responded,
   * and the call then runs on its own. Throws `CarrierSimError` for an invalid body, a
   * failed webhook, or a response that names neither a stream nor a hang-up.
   */
  async placeInboundCall(body: unknown): Promise<InboundCallResult> {
    this.assertTakingCalls();
    const request = parseInboundCallRequest(body);
    const carrierCallId = newCarrierCallId(request.provider);
    const webhook = buildWebhookRequest(
      request.provider,
      request.webhookUrl,
      webhookFields(request.provider, { carrierCallId, from: request.from, to: request.to }),
      request.twilioAuthToken,
    );

    let action: WebhookAction;
    try {
      action = await sendWebhook(webhook, this.options.webhookTimeoutMs ?? 10_000);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new CarrierSimError('CARRIER_SIM_WEBHOOK_FAILED', `webhook request failed: ${reason}`, {
        cause: err,
        carrierCallId,
        retryable: true,
      });
    }
    if (action.kind === 'invalid') {
      throw new CarrierSimError(
        'CARRIER_SIM_WEBHOOK_FAILED',
        `webhook response cannot be used: ${action.problem}`,
        { carrierCallId },
      );
    }
    // The carrier may have started stopping while the webhook request was in flight.
    this.assertTakingCalls();

    const stream = action.kind === 'stream' ? action : null;
    const callId =
      stream === null
        ? carrierCallId
        : (stream.customParameters.callId ??
          new URL(stream.streamUrl).searchParams.get('callId') ??
          carrierCallId);
    const scenario = stream === null ? 'busy' : request.scenario;
    this.log.info(
      { carrierCallId, callId, provider: request.provider, action: action.kind },
      'inbound call routed by webhook',
    );
    this.startCall(
      carrierCallId,
      {
        callId,
        to: request.to,
        from: request.from,
        // A hang-up response never opens a stream, so its URL is a placeholder never dialled.
        streamUrl: stream?.streamUrl ?? 'ws://hangup.invalid',
        statusCallbackUrl: null,
        customParameters: stream?.customParameters ?? {},
        scenario,
        provider: request.provider,
        ringTimeoutMs: 30_000,
      },
      scenario,
      'inbound',
    );
    return { carrierCallId, callId, action: stream === null ? 'hangup' : 'stream' };
  }

  getCall(carrierCallId: string): CallSnapshot | undefined {
    return this.calls.get(carrierCallId)?.snapshot();
  }

  health(): { status: 'ok' | 'stopping'; activeCalls: number } {
    return {
      status: this.stopping === undefined ? 'ok' : 'stopping',
      activeCalls: this.running.size,
    };
  }

  private async listen(): Promise<{ url: string }> {
    const audioDir = this.options.audioDir ?? DEFAULT_AUDIO_DIR;
    this.audio = await loadCallerAudio({ dir: audioDir, phrases: [SPEAK_PHRASE] });

    const server = createServer(createRequestListener(this, this.log, this.options.callbackSecret));
    this.server = server;
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 7720, host, () => {
        server.off('error', reject);
        resolve();
      });
    });

    const { port } = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.log.info({ url, speed: this.speed, audioDir }, 'carrier listening');
    return { url };
  }

  private async shutdown(): Promise<void> {
    // A start in progress finishes first, so its server is closed too.
    await this.starting?.catch(() => undefined);
    const activeCalls = this.running.size;
    this.log.info({ activeCalls }, 'carrier stopping');
    for (const call of this.calls.values()) call.hangup();

    const timeoutMs = this.options.stopTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([Promise.allSettled([...this.running]), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.log.warn(
        { pendingCalls: this.running.size, timeoutMs },
        'stop timed out, abandoning status callbacks',
      );
    }
    this.notifier.abort();

    const server = this.server;
    if (server !== undefined) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    this.log.info({}, 'carrier stopped');
  }

  private evictEndedCalls(): void {
    const maxEnded = this.options.maxEndedCalls ?? 10_000;
    let ended = 0;
    for (const call of this.calls.values()) if (!call.isLive) ended++;
    // Map iteration follows insertion order, so the oldest calls go first.
    for (const [id, call] of this.calls) {
      if (ended <= maxEnded) break;
      if (call.isLive) continue;
      this.calls.delete(id);
      ended--;
    }
  }
}

/** Creates a sim carrier; call `start()` to listen. */
export function createSimCarrier(options: SimCarrierOptions = {}): SimCarrier {
  return new SimCarrier(options);
}

function parsePlaceCallRequest(body: unknown): PlaceCallRequest {
  const parsed = PlaceCallRequest.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`,
    );
    throw new CarrierSimError(
      'CARRIER_SIM_INVALID_REQUEST',
      `invalid place-call request: ${issues.join('; ')}`,
      {
        issues,
      },
    );
  }

  const request = parsed.data;
  const problems: string[] = [];
  if (!/^wss?:$/.test(new URL(request.streamUrl).protocol)) {
    problems.push('streamUrl: must be a ws:// or wss:// URL');
  }
  if (!/^https?:$/.test(new URL(request.statusCallbackUrl).protocol)) {
    problems.push('statusCallbackUrl: must be an http:// or https:// URL');
  }
  if (problems.length > 0) {
    throw new CarrierSimError(
      'CARRIER_SIM_INVALID_REQUEST',
      `invalid place-call request: ${problems.join('; ')}`,
      {
        issues: problems,
      },
    );
  }
  return request;
}
