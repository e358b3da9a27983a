/**
 * One call on this worker, from a confirmed attach to its result. It waits for the media
 * stream, proves the stream's token, loads the bot's runtime config, runs the engine
 * session and builds the `CallResult`. It ends exactly once, whatever mix of `stop`,
 * socket close, hangup, abort or timeout arrives, and reports the end through `onEnd`.
 */
import { timingSafeEqual } from 'node:crypto';
import { FRAME_SAMPLES, TELEPHONY_SAMPLE_RATE } from '@voxfleet/audio';
import type { Logger } from '@voxfleet/logger';
import type { AttachRequest, CallResult } from '@voxfleet/schema';
import type { RawData, WebSocket } from 'ws';
import type { BridgeClient } from '../bridge-client.js';
import type { PromptSource, SessionOutcome, SessionRecording } from '../engine/types.js';
import type { WorkerMetrics } from '../metrics.js';
import { StreamDecoder } from '../protocol/stream-decoder.js';
import type { Provider, StreamEvent, StreamStart } from '../protocol/types.js';
import { buildCallResult, type FallbackOutcome } from './call-result.js';
import { FrameRejectionLog } from './frame-rejection-log.js';
import { CallMediaMetrics } from './media-metrics.js';
import { OutboundMedia } from './outbound-media.js';
import type { CallSessionLike, CreateSession } from './session.js';
import { Timeline } from './timeline.js';

/**
 * Inbound text frames larger than this are ignored. A Twilio media frame is about 350 bytes;
 * an Exotel frame of 100 ms at 24 kHz is about 6.5 KB.
 */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Inbound events kept while the config and prompts load: 30 s of 20 ms frames. */
const MAX_BUFFERED_EVENTS = 1500;
/** How long a socket without a URL token has to send a `start` frame carrying the token. */
const STREAM_PROOF_TIMEOUT_MS = 10_000;
/** How long a session may take to finish after a hangup or abort before it is cut off. */
const SESSION_END_GRACE_MS = 5_000;
/**
 * Extra wall-clock time over the bot's maximum duration. The engine ends the call at the
 * maximum on media time; this guard ends it when the media stalls and media time stops.
 */
export const WALL_CLOCK_SLACK_MS = 10_000;
/** Default for `streamIdleTimeoutMs`. */
export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 15_000;

/** Authentication result of a media WebSocket upgrade, passed to `acceptSocket`. */
export interface StreamAuth {
  /** True when the URL carried the right token; otherwise the `start` frame must carry it. */
  tokenProven: boolean;
  /** The provider pinned with `?provider=`; null detects it from the `start` frame. */
  provider: Provider | null;
  /** True when a Twilio stream must be rejected because its upgrade had no valid signature. */
  requireTwilioSignature: boolean;
}

export type CallEnd =
  | { kind: 'stream-timeout' }
  | { kind: 'cancelled'; reason: string }
  | { kind: 'finished'; result: CallResult; recording: Buffer | null };

export interface ActiveCallOptions {
  request: AttachRequest;
  workerId: string;
  log: Logger;
  metrics: WorkerMetrics;
  bridge: BridgeClient;
  createSession: CreateSession;
  prompts: PromptSource;
  /**
   * The call ends when a started stream sends no valid frame for this long, because the
   * engine's no-input and duration clocks run on inbound media time. Default 15 000.
   */
  streamIdleTimeoutMs?: number;
  /** Called once the stream's `start` frame proved the token: the call is live. */
  onStreamStarted: () => void;
  /** Called exactly once, when the call is over. */
  onEnd: (end: CallEnd) => void;
}

type BufferedEvent = { kind: 'audio'; pcm: Int16Array } | { kind: 'dtmf'; digit: string };

const NO_SOCKET_AUTH: StreamAuth = {
  tokenProven: false,
  provider: null,
  requireTwilioSignature: false,
};

export class ActiveCall {
  readonly callId: string;
  readonly botId: string;
  readonly timeline = new Timeline();
  readonly #options: ActiveCallOptions;
  readonly #log: Logger;
  readonly #attachedAt = Date.now();
  readonly #rejections: FrameRejectionLog;
  readonly #media: CallMediaMetrics;
  #socket: WebSocket | null = null;
  #auth: StreamAuth = NO_SOCKET_AUTH;
  #decoder: StreamDecoder | null = null;
  #streamId: string | null = null;
  /** Inbound samples short of a whole 20 ms frame, delivered once the next media completes it. */
  #inboundPartial = new Int16Array(0);
  #idleTimer: NodeJS.Timeout | null = null;
  #streamStartedAt: Date | null = null;
  #outbound: OutboundMedia | null = null;
  #session: CallSessionLike | null = null;
  /** Inbound audio and DTMF from before the session exists. */
  #buffered: BufferedEvent[] = [];
  #streamTimer: NodeJS.Timeout | null = null;
  #proofTimer: NodeJS.Timeout | null = null;
  #guardTimer: NodeJS.Timeout | null = null;
  #ending = false;
  #ended = false;

  constructor(options: ActiveCallOptions) {
    this.#options = options;
    this.callId = options.request.callId;
    this.botId = options.request.botId;
    this.#log = options.log;
    this.#rejections = new FrameRejectionLog(options.log, options.metrics);
    this.#media = new CallMediaMetrics(
      options.metrics,
      this.#attachedAt,
      options.request.reservedAt,
    );
    this.timeline.add('attached', { workerId: options.workerId });
    this.#streamTimer = setTimeout(() => this.#onStreamTimeout(), options.request.streamTimeoutMs);
    this.#streamTimer.unref();
  }

  /** True once a stream started; cancel is then rejected and the call runs to its end. */
  get streamStarted(): boolean {
    return this.#streamId !== null;
  }

  get hasSocket(): boolean {
    return this.#socket !== null;
  }

  /**
   * True while the socket has proven nothing: no token in its URL and no `start` frame yet.
   * Anyone with the bot id can open such a socket, so it must not lock the call.
   */
  get hasUnprovenSocket(): boolean {
    return this.#socket !== null && !this.#auth.tokenProven && this.#streamId === null;
  }

  /** Closes an unproven socket so a stream that proved its token can take the call. */
  dropUnprovenSocket(): void {
    const socket = this.#socket;
    if (socket === null || !this.hasUnprovenSocket) return;
    this.#log.warn({}, 'unproven stream replaced by one with a valid token');
    this.#socket = null;
    this.#clearProofTimer();
    socket.close(1008, 'replaced by an authenticated stream');
  }

  /** Checks a token from the stream URL or the `start` frame against the reservation. */
  matchesToken(token: string): boolean {
    const expected = Buffer.from(this.#options.request.reservationToken, 'utf8');
    const candidate = Buffer.from(token, 'utf8');
    return candidate.length === expected.length && timingSafeEqual(candidate, expected);
  }

  /**
   * Takes the media WebSocket. When `auth.tokenProven` is false every frame but `connected`
   * is dropped until the `start` frame carries the right token.
   */
  acceptSocket(socket: WebSocket, auth: StreamAuth): void {
    this.#socket = socket;
    this.#auth = auth;
    this.#decoder = new StreamDecoder(auth.provider);
    this.timeline.add('stream-connected', { tokenInUrl: auth.tokenProven });
    this.#log.info({ tokenInUrl: auth.tokenProven, provider: auth.provider }, 'stream connected');

    if (!auth.tokenProven) {
      // A socket without a URL token must prove itself with its `start` frame in time.
      this.#proofTimer = setTimeout(() => {
        if (this.#socket !== socket || this.#streamId !== null) return;
        this.#log.warn({}, 'stream sent no start frame in time');
        this.#socket = null;
        socket.close(1008, 'no start frame with a valid token in time');
      }, STREAM_PROOF_TIMEOUT_MS);
      this.#proofTimer.unref();
    }
    socket.on('message', (data, isBinary) => this.#onMessage(socket, data, isBinary));
    socket.on('close', (code) => this.#onSocketClose(socket, code));
    socket.on('error', (err) => this.#log.warn({ err }, 'stream socket error'));
  }

  /** Frees a call that never started streaming; returns false once the stream started. */
  cancel(reason: string): boolean {
    if (this.streamStarted || this.#ended) return false;
    this.#closeSocket(1000, 'call cancelled');
    this.#complete({ kind: 'cancelled', reason });
    return true;
  }

  /** Ends the call now with status `aborted` (a second shutdown signal). */
  abort(reason: string): void {
    if (this.#ended) return;
    if (!this.streamStarted) {
      this.#closeSocket(1001, 'worker stopping');
      this.#complete({ kind: 'cancelled', reason });
      return;
    }
    this.timeline.add('aborted', { reason });
    if (this.#session !== null) {
      this.#session.abort(reason);
      this.#armEndGuard('aborted', reason);
      return;
    }
    this.#finish(null, {
      status: 'aborted',
      outcome: 'error',
      hangupBy: 'system',
      error: reason,
    });
  }

  #onStreamTimeout(): void {
    this.#streamTimer = null;
    if (this.streamStarted || this.#ended) return;
    this.#log.warn({ streamTimeoutMs: this.#options.request.streamTimeoutMs }, 'stream timed out');
    this.#closeSocket(1000, 'stream timed out');
    this.#complete({ kind: 'stream-timeout' });
  }

  #onMessage(socket: WebSocket, data: RawData, isBinary: boolean): void {
    const startedAt = performance.now();
    this.#handleMessage(socket, data, isBinary);
    this.#options.metrics.frameProcessing.observe((performance.now() - startedAt) / 1000);
  }

  #handleMessage(socket: WebSocket, data: RawData, isBinary: boolean): void {
    if (socket !== this.#socket || this.#ending) return;
    if (isBinary) return this.#rejections.record('binary');

    const text = rawDataToBuffer(data);
    if (text.byteLength > MAX_FRAME_BYTES) return this.#rejections.record('too-large');

    const decoded = this.#decoder?.decode(text.toString('utf8'));
    if (decoded === undefined) return;
    if (!decoded.ok) {
      if (decoded.reason === 'duplicate-media' || decoded.reason === 'stale-media') {
        this.#media.lateFrame();
      }
      return this.#rejections.record(decoded.reason, decoded.message);
    }
    if (this.#streamId !== null) this.#armIdleTimer();
    for (const event of decoded.events) {
      if (socket !== this.#socket || this.#ending) return;
      this.#handleEvent(event);
    }
  }

  #handleEvent(event: StreamEvent): void {
    if (event.type === 'start') return this.#onStart(event.start);
    switch (event.type) {
      case 'media':
        this.#media.inboundFrame({
          chunk: event.chunk,
          timestampMs: event.timestampMs,
          durationMs: (event.pcm.length * 1000) / TELEPHONY_SAMPLE_RATE,
        });
        this.timeline.add('first-inbound-media');
        this.#deliverAudio(event.pcm);
        return;
      case 'dtmf':
        this.timeline.add('dtmf', { digit: event.digit });
        this.#deliver({ kind: 'dtmf', digit: event.digit });
        return;
      case 'mark':
        this.#session?.handleMark(event.name);
        return;
      case 'stop':
        this.timeline.add('stream-stopped');
        this.#onCallerHangup('stop');
        return;
      case 'notice':
        if (event.event === 'error') {
          this.#log.warn({ detail: event.detail?.slice(0, 200) }, 'carrier stream error');
        }
        return;
    }
  }

  /** Hands caller audio to the engine in 20 ms frames, whatever size the provider sends. */
  #deliverAudio(pcm: Int16Array): void {
    let samples = pcm;
    if (this.#inboundPartial.length > 0) {
      samples = new Int16Array(this.#inboundPartial.length + pcm.length);
      samples.set(this.#inboundPartial);
      samples.set(pcm, this.#inboundPartial.length);
    }
    const whole = samples.length - (samples.length % FRAME_SAMPLES);
    for (let start = 0; start < whole; start += FRAME_SAMPLES) {
      this.#deliver({ kind: 'audio', pcm: samples.slice(start, start + FRAME_SAMPLES) });
    }
    this.#inboundPartial = samples.slice(whole);
  }

  #onStart(start: StreamStart): void {
    const socket = this.#socket;
    if (socket === null) return;

    const reject = (reason: string, closeReason: string): void => {
      this.#options.metrics.attachRejections.inc({ code: 'RESERVATION_INVALID' });
      this.#log.warn({ provider: start.provider, reason }, 'stream start rejected');
      this.#socket = null;
      socket.close(1008, closeReason);
    };
    if (start.provider === 'twilio' && this.#auth.requireTwilioSignature) {
      return reject('missing-twilio-signature', 'missing X-Twilio-Signature');
    }
    if (!this.#auth.tokenProven) {
      const params = start.customParameters;
      const token = params['token'];
      const callIdMatches = params['callId'] === undefined || params['callId'] === this.callId;
      if (token === undefined || !callIdMatches || !this.matchesToken(token)) {
        return reject(
          token === undefined ? 'token-missing' : 'token-invalid',
          'invalid stream token',
        );
      }
    }

    if (this.#streamTimer !== null) clearTimeout(this.#streamTimer);
    this.#streamTimer = null;
    this.#clearProofTimer();
    this.#streamId = start.streamId;
    this.#streamStartedAt = new Date();
    this.#armIdleTimer();
    this.timeline.add('stream-started', {
      provider: start.provider,
      callSid: start.carrierCallId,
      encoding: start.mediaFormat.encoding,
      sampleRate: start.mediaFormat.sampleRate,
    });
    this.#media.streamStarted();
    const stream = this.#decoder?.stream;
    if (stream === null || stream === undefined) return;
    this.#outbound = new OutboundMedia({ socket, stream, onFrameSent: () => this.#onFrameSent() });
    this.#log.info({ provider: start.provider, streamId: start.streamId }, 'stream started');
    this.#options.onStreamStarted();
    void this.#startSession();
  }

  async #startSession(): Promise<void> {
    const { bridge, request, metrics } = this.#options;
    let config;
    try {
      config = await bridge.fetchRuntimeConfig(request.botId, request.callId);
    } catch (err) {
      if (this.#ending) return;
      this.#log.error({ err, botId: request.botId }, 'runtime config failed');
      this.timeline.add('config-failed');
      this.#finish(null, {
        status: 'failed',
        outcome: 'error',
        hangupBy: 'system',
        error: `runtime config failed: ${(err as Error).message}`,
      });
      return;
    }
    if (this.#ending) return;

    this.timeline.add('config-loaded', { revision: config.revision });
    metrics.callSetup.observe(
      { phase: 'stream-to-config' },
      (Date.now() - (this.#streamStartedAt?.getTime() ?? Date.now())) / 1000,
    );

    let session: CallSessionLike;
    try {
      session = this.#options.createSession({
        callId: request.callId,
        botId: request.botId,
        config: config.config,
        prompts: this.#options.prompts,
        log: this.#log,
        sink: {
          sendAudio: (pcm) => this.#outbound?.sendAudio(pcm),
          sendMark: (name) => this.#outbound?.sendMark(name),
          clearAudio: () => this.#outbound?.clear(),
          hangup: () => this.#onBotHangup(),
        },
        onEvent: (event, detail) => this.timeline.add(event, detail),
      });
    } catch (err) {
      this.#log.error({ err }, 'session creation failed');
      this.#finish(null, {
        status: 'failed',
        outcome: 'error',
        hangupBy: 'system',
        error: `session creation failed: ${(err as Error).message}`,
      });
      return;
    }

    this.#session = session;
    session.finished.then(
      (outcome) => this.#finish(outcome, null),
      (err: unknown) => {
        this.#log.error({ err }, 'session failed');
        this.#finish(null, {
          status: 'failed',
          outcome: 'error',
          hangupBy: 'system',
          error: `session failed: ${(err as Error).message}`,
        });
      },
    );

    // Caller audio that arrived while the config loaded came before the bot's first prompt,
    // so it goes in before the flow starts. Delivered after it, it would move the media
    // clock past prompts the caller has not heard yet.
    const buffered = this.#buffered;
    this.#buffered = [];
    for (const event of buffered) this.#deliver(event);

    this.#guardTimer = setTimeout(() => {
      this.#log.warn(
        { maxCallDurationMs: config.config.maxCallDurationMs },
        'call over wall-clock limit',
      );
      this.abort('max-duration');
    }, config.config.maxCallDurationMs + WALL_CLOCK_SLACK_MS);
    this.#guardTimer.unref();

    try {
      await session.start();
    } catch (err) {
      this.#log.error({ err }, 'session start failed');
      session.abort('start-failed');
      this.#armEndGuard('failed', 'start-failed');
      return;
    }
  }

  #deliver(event: BufferedEvent): void {
    const session = this.#session;
    if (session === null) {
      if (this.#buffered.length < MAX_BUFFERED_EVENTS) this.#buffered.push(event);
      else this.#rejections.record('buffer-full');
      return;
    }
    if (event.kind === 'audio') session.handleInboundAudio(event.pcm);
    else session.handleDtmf(event.digit);
  }

  #onFrameSent(): void {
    this.#media.outboundFrame(this.#outbound?.queuedCount ?? 0);
    this.timeline.add('first-bot-audio');
  }

  #clearProofTimer(): void {
    if (this.#proofTimer !== null) clearTimeout(this.#proofTimer);
    this.#proofTimer = null;
  }

  #onSocketClose(socket: WebSocket, code: number): void {
    if (socket !== this.#socket) return;
    this.#socket = null;
    this.#clearProofTimer();
    this.#clearIdleTimer();
    this.#outbound?.close();
    if (this.#streamId === null) {
      // A socket that closes before `start` never began the call: keep waiting for a stream.
      this.#log.info({ code }, 'stream closed before start');
      return;
    }
    this.timeline.add('stream-closed', { code });
    this.#onCallerHangup('socket-closed');
  }

  #onCallerHangup(reason: string): void {
    if (this.#ending) return;
    const session = this.#session;
    if (session !== null) {
      session.handleCallerHangup();
      this.#armEndGuard('completed', reason);
      return;
    }
    // Before the config loaded there is no session: the caller hung up during setup.
    if (this.#streamId !== null && this.timeline.has('config-loaded') === false) {
      this.#log.info({ reason }, 'caller hung up during setup');
      this.#finish(null, {
        status: 'completed',
        outcome: 'caller-hangup',
        hangupBy: 'caller',
        error: null,
      });
    }
  }

  /** Restarts the idle clock; called on `start` and on every valid frame after it. */
  #armIdleTimer(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    const timeoutMs = this.#options.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_TIMEOUT_MS;
    this.#idleTimer = setTimeout(() => this.#onStreamIdle(timeoutMs), timeoutMs);
    this.#idleTimer.unref();
  }

  #clearIdleTimer(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  /** A started stream went quiet: the carrier stalled, so the call is aborted. */
  #onStreamIdle(timeoutMs: number): void {
    this.#idleTimer = null;
    if (this.#ending) return;
    this.#log.warn({ streamIdleTimeoutMs: timeoutMs }, 'stream idle, ending call');
    this.timeline.add('stream-idle', { timeoutMs });
    this.#closeSocket(1011, 'stream idle');
    const session = this.#session;
    if (session !== null) {
      session.abort('stream-idle');
      this.#armEndGuard('failed', 'stream-idle');
      return;
    }
    this.#finish(null, {
      status: 'failed',
      outcome: 'error',
      hangupBy: 'system',
      error: `no frame from the carrier for ${timeoutMs} ms`,
    });
  }

  #onBotHangup(): void {
    this.timeline.add('bot-hangup');
    this.#outbound?.flush();
    this.#closeSocket(1000, 'call ended');
    this.#armEndGuard('completed', 'bot-hangup');
  }

  /** Cuts a session off if it does not resolve `finished` soon after a hangup or abort. */
  #armEndGuard(status: 'completed' | 'failed' | 'aborted', reason: string): void {
    setTimeout(() => {
      if (this.#ending) return;
      this.#log.warn({ reason }, 'session did not finish in time');
      this.#finish(null, {
        status: status === 'completed' ? 'failed' : status,
        outcome: 'error',
        hangupBy: 'system',
        error: `session did not finish within ${SESSION_END_GRACE_MS} ms after ${reason}`,
      });
    }, SESSION_END_GRACE_MS).unref();
  }

  #finish(outcome: SessionOutcome | null, fallback: FallbackOutcome | null): void {
    if (this.#ending) return;
    this.#ending = true;
    if (this.#guardTimer !== null) clearTimeout(this.#guardTimer);
    this.#outbound?.flush();
    this.#closeSocket(1000, 'call ended');

    let recording: SessionRecording | null = null;
    if (this.#session !== null) {
      try {
        recording = this.#session.recording();
      } catch (err) {
        this.#log.error({ err }, 'recording failed');
      }
    }

    const status = outcome?.status ?? fallback?.status ?? 'failed';
    const dropped = this.timeline.droppedCount;
    this.timeline.add('ended', dropped > 0 ? { status, droppedEvents: dropped } : { status });
    const endedAt = new Date();
    const result = buildCallResult({
      callId: this.callId,
      botId: this.botId,
      workerId: this.#options.workerId,
      outcome,
      fallback,
      startedAt: this.#streamStartedAt ?? endedAt,
      endedAt,
      timeline: this.timeline.toArray(),
      recording,
    });
    this.#log.info(
      { status: result.status, outcome: result.outcome, hangupBy: result.hangupBy },
      'call ended',
    );
    this.#complete({ kind: 'finished', result, recording: recording?.wav ?? null });
  }

  #complete(end: CallEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#ending = true;
    if (this.#streamTimer !== null) clearTimeout(this.#streamTimer);
    if (this.#guardTimer !== null) clearTimeout(this.#guardTimer);
    this.#clearIdleTimer();
    this.#rejections.flush();
    this.#media.ended();
    this.#options.onEnd(end);
  }

  #closeSocket(code: number, reason: string): void {
    this.#clearIdleTimer();
    const socket = this.#socket;
    this.#socket = null;
    this.#outbound?.close();
    if (socket !== null && socket.readyState === socket.OPEN) socket.close(code, reason);
  }
}

function rawDataToBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
