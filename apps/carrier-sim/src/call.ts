/**
 * One simulated call: rings, then answers or not according to its scenario, runs the
 * media stream while answered, and reports each state change through status callbacks,
 * in order.
 */
import type { Logger } from '@voxfleet/logger';
import type {
  CarrierCallStatus,
  CarrierStatusEvent,
  PlaceCallRequest,
  SimScenario,
} from '@voxfleet/schema';
import type { CallerAudio } from './caller-audio.js';
import { createCallee, isAnsweredScenario } from './scenarios.js';
import type { StatusNotifier } from './status-callbacks.js';
import { MediaStream, createMediaStats, type MediaStats, type StreamEndReason } from './stream.js';

/** How a call ended; `null` while it is live. */
export type CallEndReason =
  | StreamEndReason
  | 'busy'
  | 'no-answer'
  | 'carrier-failed'
  | 'connect-failed'
  | 'stopped-before-answer';

/** Pre-answer delays in milliseconds of simulated time; each is divided by the speed. */
export interface CallTiming {
  /** Ringing time before the callee answers; capped at the request's `ringTimeoutMs`. */
  answerDelayMs: number;
  /** Ringing time before a `busy` callee's line reports busy. */
  busyDelayMs: number;
  /** Ringing time before a `failed` call fails. */
  failDelayMs: number;
}

/**
 * The call a `SimCall` plays: a place-call request, or an inbound call, which has no status
 * callback URL because the carrier reports nothing back for it.
 */
export type SimCallRequest = Omit<PlaceCallRequest, 'statusCallbackUrl'> & {
  statusCallbackUrl: string | null;
};

export interface SimCallOptions {
  carrierCallId: string;
  request: SimCallRequest;
  /** `inbound` when the carrier received the call and asked a webhook what to do. */
  direction?: 'outbound' | 'inbound';
  scenario: SimScenario;
  speed: number;
  timing: CallTiming;
  maxCallMs: number;
  connectTimeoutMs: number;
  accountSid: string;
  audio: CallerAudio;
  notifier: StatusNotifier;
  log: Logger;
}

/** Call state returned by `GET /v1/calls/{carrierCallId}`. */
export interface CallSnapshot {
  carrierCallId: string;
  callId: string;
  /** `inbound` for a call placed with `POST /v1/inbound-calls`. */
  direction: 'outbound' | 'inbound';
  to: string;
  from: string | null;
  scenario: SimScenario;
  /** Media-stream protocol of the call. */
  provider: 'twilio' | 'exotel' | 'plivo' | 'telnyx';
  state: CarrierCallStatus;
  /** The provider's stream id (Twilio `streamSid`, Plivo `streamId`, ...), once answered. */
  streamSid: string | null;
  createdAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  /** Media time streamed while answered; 0 when never answered. */
  durationMs: number;
  endReason: CallEndReason | null;
  error: string | null;
  media: MediaStats;
  callbacks: { delivered: CarrierCallStatus[]; failed: CarrierCallStatus[] };
}

export class SimCall {
  readonly carrierCallId: string;
  private readonly options: SimCallOptions;
  private readonly log: Logger;
  private readonly stats = createMediaStats();
  private readonly createdAt = new Date();
  private readonly aborter = new AbortController();
  private state: CarrierCallStatus = 'ringing';
  private stream: MediaStream | undefined;
  private answeredAt: Date | undefined;
  private endedAt: Date | undefined;
  private durationMs = 0;
  private endReason: CallEndReason | null = null;
  private error: string | null = null;
  private callbackChain: Promise<void> = Promise.resolve();
  private readonly delivered: CarrierCallStatus[] = [];
  private readonly failedCallbacks: CarrierCallStatus[] = [];

  constructor(options: SimCallOptions) {
    this.options = options;
    this.carrierCallId = options.carrierCallId;
    this.log = options.log.child({
      carrierCallId: options.carrierCallId,
      callId: options.request.callId,
      scenario: options.scenario,
    });
  }

  get callId(): string {
    return this.options.request.callId;
  }

  get isLive(): boolean {
    return this.endedAt === undefined;
  }

  /** Plays the call to its end, then waits for its status callbacks. Never rejects. */
  async run(): Promise<void> {
    try {
      await this.play();
    } catch (err) {
      // Only a bug gets here; the call still ends with a final status.
      this.log.error({ err }, 'call failed unexpectedly');
      if (this.isLive) this.finish('failed', 'carrier-failed', `internal error: ${String(err)}`);
    }
    await this.callbackChain;
  }

  /** Ends the call from the carrier's side: `stop` when answered, `failed` while ringing. */
  hangup(): void {
    this.aborter.abort();
    this.stream?.hangup('carrier-stopped');
  }

  snapshot(): CallSnapshot {
    const request = this.options.request;
    return {
      carrierCallId: this.carrierCallId,
      callId: request.callId,
      direction: this.options.direction ?? 'outbound',
      to: request.to,
      from: request.from ?? null,
      scenario: this.options.scenario,
      provider: request.provider ?? 'twilio',
      state: this.state,
      streamSid: this.stream?.streamSid ?? null,
      createdAt: this.createdAt.toISOString(),
      answeredAt: this.answeredAt?.toISOString() ?? null,
      endedAt: this.endedAt?.toISOString() ?? null,
      durationMs: this.durationMs,
      endReason: this.endReason,
      error: this.error,
      media: {
        ...this.stats,
        digitsSent: [...this.stats.digitsSent],
        phrasesSpoken: [...this.stats.phrasesSpoken],
      },
      callbacks: { delivered: [...this.delivered], failed: [...this.failedCallbacks] },
    };
  }

  private async play(): Promise<void> {
    const { scenario, request, timing } = this.options;
    this.log.info({}, 'call ringing');
    this.notify('ringing');

    if (scenario === 'busy') {
      if (await this.ring(timing.busyDelayMs)) this.finish('busy', 'busy', null);
      return;
    }
    if (scenario === 'no-answer') {
      if (await this.ring(request.ringTimeoutMs)) this.finish('no-answer', 'no-answer', null);
      return;
    }
    if (scenario === 'failed' || !isAnsweredScenario(scenario)) {
      if (await this.ring(timing.failDelayMs)) {
        this.finish(
          'failed',
          'carrier-failed',
          'the scenario "failed" simulates a carrier failure',
        );
      }
      return;
    }

    if (!(await this.ring(Math.min(timing.answerDelayMs, request.ringTimeoutMs)))) return;
    await this.answer(scenario);
  }

  private async answer(scenario: Parameters<typeof createCallee>[0]): Promise<void> {
    const { request } = this.options;
    const stream = new MediaStream({
      url: request.streamUrl,
      carrierCallId: this.carrierCallId,
      accountSid: this.options.accountSid,
      customParameters: { ...request.customParameters, callId: request.callId },
      provider: request.provider ?? 'twilio',
      speed: this.options.speed,
      maxCallMs: this.options.maxCallMs,
      connectTimeoutMs: this.options.connectTimeoutMs,
      callee: createCallee(scenario),
      audio: this.options.audio,
      stats: this.stats,
      log: this.log,
    });
    this.stream = stream;

    try {
      await stream.connect();
    } catch (err) {
      const stopped = this.aborter.signal.aborted;
      const message = err instanceof Error ? err.message : String(err);
      this.log.warn({ err }, 'media stream connection failed');
      this.finish('failed', stopped ? 'stopped-before-answer' : 'connect-failed', message);
      return;
    }
    if (this.aborter.signal.aborted) {
      stream.hangup('carrier-stopped');
      this.finish(
        'failed',
        'stopped-before-answer',
        'the carrier stopped before the call was answered',
      );
      return;
    }

    this.state = 'answered';
    this.answeredAt = new Date();
    this.log.info({ streamSid: stream.streamSid, provider: stream.provider }, 'call answered');
    this.notify('answered');

    const end = await stream.run();
    this.durationMs = end.mediaMs;
    if (end.reason === 'stream-failed') {
      this.finish('failed', end.reason, end.error ?? 'media stream failed');
    } else {
      this.finish('completed', end.reason, null);
    }
  }

  /** Waits `ms` of simulated time; returns false when the carrier stopped meanwhile. */
  private async ring(ms: number): Promise<boolean> {
    const signal = this.aborter.signal;
    const completed = await new Promise<boolean>((resolve) => {
      if (signal.aborted) {
        resolve(false);
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms / this.options.speed);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    if (!completed) {
      this.finish(
        'failed',
        'stopped-before-answer',
        'the carrier stopped before the call was answered',
      );
    }
    return completed;
  }

  private finish(state: CarrierCallStatus, reason: CallEndReason, error: string | null): void {
    if (!this.isLive) return;
    this.state = state;
    this.endReason = reason;
    this.error = error;
    this.endedAt = new Date();
    this.log.info({ state, endReason: reason, durationMs: this.durationMs, error }, 'call ended');
    this.notify(state, error ?? undefined);
  }

  /** Queues a status callback behind the earlier ones of this call, so they arrive in order. */
  private notify(status: CarrierCallStatus, reason?: string): void {
    const { request, notifier } = this.options;
    const callbackUrl = request.statusCallbackUrl;
    if (callbackUrl === null) return;
    const event: CarrierStatusEvent = {
      carrierCallId: this.carrierCallId,
      callId: request.callId,
      status,
      at: new Date().toISOString(),
      ...(status === 'completed' ? { durationMs: this.durationMs } : {}),
      ...(reason === undefined ? {} : { reason: reason.slice(0, 500) }),
    };
    this.callbackChain = this.callbackChain.then(async () => {
      const ok = await notifier.deliver(callbackUrl, event);
      (ok ? this.delivered : this.failedCallbacks).push(status);
    });
  }
}
