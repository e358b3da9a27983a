/**
 * One call on this worker, from a confirmed attach to its result. It waits for the media
 * stream, proves the stream's token, loads the bot's runtime config, runs the engine
 * session and builds the `CallResult`. It ends exactly once, whatever mix of `stop`,
 * socket close, hangup, abort or timeout arrives, and reports the end through `onEnd`.
 */
import { timingSafeEqual } from 'node:crypto';
import { decodeMulaw } from '@voxfleet/audio';
import type { Logger } from '@voxfleet/logger';
import type { AttachRequest, CallResult } from '@voxfleet/schema';
import type { RawData, WebSocket } from 'ws';
import type { BridgeClient } from '../bridge-client.js';
import type { PromptSource, SessionOutcome, SessionRecording } from '../engine/types.js';
import type { WorkerMetrics } from '../metrics.js';
import { parseInboundFrame, type InboundFrame, type StartFrame } from '../protocol/twilio.js';
import { buildCallResult, type FallbackOutcome } from './call-result.js';
import { FrameRejectionLog } from './frame-rejection-log.js';
import { OutboundMedia } from './outbound-media.js';
import type { CallSessionLike, CreateSession } from './session.js';
import { Timeline } from './timeline.js';

/** Inbound text frames larger than this are ignored; a Twilio media frame is about 350 bytes. */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Inbound events kept while the config and prompts load: 30 s of 20 ms frames. */
const MAX_BUFFERED_EVENTS = 1500;
/** How long a session may take to finish after a hangup or abort before it is cut off. */
const SESSION_END_GRACE_MS = 5_000;
/** Extra wall-clock time over the bot's maximum duration, for a carrier that stalls media. */
const WALL_CLOCK_SLACK_MS = 30_000;

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
  /** Called once the stream's `start` frame proved the token: the call is live. */
  onStreamStarted: () => void;
  /** Called exactly once, when the call is over. */
  onEnd: (end: CallEnd) => void;
}

type BufferedEvent = { kind: 'audio'; pcm: Int16Array } | { kind: 'dtmf'; digit: string };

export class ActiveCall {
  readonly callId: string;
  readonly botId: string;
  readonly timeline = new Timeline();
  readonly #options: ActiveCallOptions;
  readonly #log: Logger;
  readonly #attachedAt = Date.now();
  readonly #rejections: FrameRejectionLog;
  #socket: WebSocket | null = null;
  #socketProven = false;
  #streamSid: string | null = null;
  #streamStartedAt: Date | null = null;
  #outbound: OutboundMedia | null = null;
  #session: CallSessionLike | null = null;
  /** Set once `session.start()` resolved; inbound audio and DTMF wait in `#buffered` till then. */
  #sessionStarted = false;
  #buffered: BufferedEvent[] = [];
  #streamTimer: NodeJS.Timeout | null = null;
  #guardTimer: NodeJS.Timeout | null = null;
  #ending = false;
  #ended = false;

  constructor(options: ActiveCallOptions) {
    this.#options = options;
    this.callId = options.request.callId;
    this.botId = options.request.botId;
    this.#log = options.log;
    this.#rejections = new FrameRejectionLog(options.log, options.metrics);
    this.timeline.add('attached', { workerId: options.workerId });
    this.#streamTimer = setTimeout(() => this.#onStreamTimeout(), options.request.streamTimeoutMs);
    this.#streamTimer.unref();
  }

  /** True once a stream started; cancel is then rejected and the call runs to its end. */
  get streamStarted(): boolean {
    return this.#streamSid !== null;
  }

  get hasSocket(): boolean {
    return this.#socket !== null;
  }

  /** Checks a token from the stream URL or the `start` frame against the reservation. */
  matchesToken(token: string): boolean {
    const expected = Buffer.from(this.#options.request.reservationToken, 'utf8');
    const candidate = Buffer.from(token, 'utf8');
    return candidate.length === expected.length && timingSafeEqual(candidate, expected);
  }

  /**
   * Takes the media WebSocket. `tokenProven` is false when the URL carried no token; then
   * every frame but `connected` is dropped until the `start` frame carries the right one.
   */
  acceptSocket(socket: WebSocket, tokenProven: boolean): void {
    this.#socket = socket;
    this.#socketProven = tokenProven;
    this.timeline.add('stream-connected', { tokenInUrl: tokenProven });
    this.#log.info({ tokenInUrl: tokenProven }, 'stream connected');

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
    if (socket !== this.#socket || this.#ending) return;
    if (isBinary) return this.#rejections.record('binary');

    const text = rawDataToBuffer(data);
    if (text.byteLength > MAX_FRAME_BYTES) return this.#rejections.record('too-large');

    const parsed = parseInboundFrame(text.toString('utf8'));
    if (!parsed.ok) return this.#rejections.record(parsed.reason, parsed.message);
    this.#handleFrame(parsed.frame);
  }

  #handleFrame(frame: InboundFrame): void {
    if (frame.event === 'connected') return;
    if (frame.event === 'start') return this.#onStart(frame);
    if (this.#streamSid === null) return this.#rejections.record('before-start');
    if (frame.streamSid !== this.#streamSid) return this.#rejections.record('wrong-stream-sid');

    switch (frame.event) {
      case 'media': {
        const pcm = decodeMulaw(Buffer.from(frame.media.payload, 'base64'));
        this.#options.metrics.frames.inc({ direction: 'inbound' });
        this.timeline.add('first-inbound-media');
        this.#deliver({ kind: 'audio', pcm });
        return;
      }
      case 'dtmf':
        this.timeline.add('dtmf', { digit: frame.dtmf.digit });
        this.#deliver({ kind: 'dtmf', digit: frame.dtmf.digit });
        return;
      case 'mark':
        this.#session?.handleMark(frame.mark.name);
        return;
      case 'stop':
        this.timeline.add('stream-stopped');
        this.#onCallerHangup('stop');
        return;
    }
  }

  #onStart(frame: StartFrame): void {
    if (this.#streamSid !== null) return this.#rejections.record('duplicate-start');
    const socket = this.#socket;
    if (socket === null) return;

    if (!this.#socketProven) {
      const params = frame.start.customParameters;
      const token = params['token'];
      const callIdMatches = params['callId'] === undefined || params['callId'] === this.callId;
      if (token === undefined || !callIdMatches || !this.matchesToken(token)) {
        this.#options.metrics.attachRejections.inc({ code: 'RESERVATION_INVALID' });
        this.#log.warn({ tokenPresent: token !== undefined }, 'stream start token rejected');
        this.#socket = null;
        socket.close(1008, 'invalid stream token');
        return;
      }
      this.#socketProven = true;
    }

    if (this.#streamTimer !== null) clearTimeout(this.#streamTimer);
    this.#streamTimer = null;
    this.#streamSid = frame.streamSid;
    this.#streamStartedAt = new Date();
    this.timeline.add('stream-started', { callSid: frame.start.callSid ?? '' });
    this.#options.metrics.callSetup.observe(
      { phase: 'attach-to-stream' },
      (Date.now() - this.#attachedAt) / 1000,
    );
    this.#outbound = new OutboundMedia({
      socket,
      streamSid: frame.streamSid,
      onFrameSent: () => this.#onFrameSent(),
    });
    this.#log.info({ streamSid: frame.streamSid }, 'stream started');
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

    this.#sessionStarted = true;
    const buffered = this.#buffered;
    this.#buffered = [];
    for (const event of buffered) this.#deliver(event);
  }

  #deliver(event: BufferedEvent): void {
    const session = this.#session;
    if (session === null || !this.#sessionStarted) {
      if (this.#buffered.length < MAX_BUFFERED_EVENTS) this.#buffered.push(event);
      else this.#rejections.record('buffer-full');
      return;
    }
    if (event.kind === 'audio') session.handleInboundAudio(event.pcm);
    else session.handleDtmf(event.digit);
  }

  #onFrameSent(): void {
    this.#options.metrics.frames.inc({ direction: 'outbound' });
    if (this.timeline.add('first-bot-audio') && this.#streamStartedAt !== null) {
      this.#options.metrics.callSetup.observe(
        { phase: 'stream-to-first-audio' },
        (Date.now() - this.#streamStartedAt.getTime()) / 1000,
      );
    }
  }

  #onSocketClose(socket: WebSocket, code: number): void {
    if (socket !== this.#socket) return;
    this.#socket = null;
    this.#outbound?.close();
    if (this.#streamSid === null) {
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
    if (this.#streamSid !== null && this.timeline.has('config-loaded') === false) {
      this.#log.info({ reason }, 'caller hung up during setup');
      this.#finish(null, {
        status: 'completed',
        outcome: 'caller-hangup',
        hangupBy: 'caller',
        error: null,
      });
    }
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
    this.#rejections.flush();
    this.#options.onEnd(end);
  }

  #closeSocket(code: number, reason: string): void {
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
