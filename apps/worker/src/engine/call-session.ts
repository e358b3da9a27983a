/**
 * One phone call driven through a bot flow. The transport feeds caller audio, DTMF digits,
 * playback marks and hangups in. The session sends prompts through the `MediaSink` and
 * resolves `finished` once with the outcome.
 *
 * Every timer runs on the media clock, which advances by the length of each inbound frame,
 * so the session needs no wall-clock timers and a test can run a call faster than real time.
 * All input handlers are synchronous. A mark that the sink returns from inside `sendMark`
 * is queued and handled once the current step ends, so flows never recurse.
 *
 * Events passed to `onEvent`: `prompts-loaded`, `first-bot-audio`, `barge-in`, `no-input`
 * and `mark-missing`.
 *
 * @example
 * const session = new CallSession({ callId, botId, config, prompts, sink, log });
 * void session.start();
 * socket.on('media', (pcm) => session.handleInboundAudio(pcm));
 * const outcome = await session.finished;
 */
import { TELEPHONY_SAMPLE_RATE } from '@voxfleet/audio';
import type { Logger } from '@voxfleet/logger';
import type { BotConfig } from '@voxfleet/schema';
import { EngineError } from './errors.js';
import { loadFlowPrompts } from './flow-prompts.js';
import { FlowRunner, type FlowHost } from './flow-runner.js';
import { Playout } from './playout.js';
import { CallRecorder } from './recorder.js';
import { Transcript } from './transcript.js';
import type {
  CallSessionOptions,
  HangupBy,
  MediaSink,
  SessionOutcome,
  SessionRecording,
} from './types.js';
import { SpeechDetector } from './vad.js';

const SAMPLES_PER_MS = TELEPHONY_SAMPLE_RATE / 1000;
const DTMF_DIGIT = /^[0-9*#A-D]$/;
/** Default recording limit: one hour, a 115 MB stereo WAV file. */
const DEFAULT_MAX_RECORDING_MS = 3_600_000;

export class CallSession {
  readonly callId: string;
  readonly botId: string;
  /** Resolves once, when the call ends for any reason; never rejects. */
  readonly finished: Promise<SessionOutcome>;

  private readonly config: BotConfig;
  private readonly options: CallSessionOptions;
  private readonly sink: MediaSink;
  private readonly log: Logger;
  private readonly recorder: CallRecorder;
  private readonly transcript = new Transcript();
  private readonly playout: Playout;
  private readonly detector: SpeechDetector;
  private readonly host: FlowHost;
  private readonly maxCallSamples: number;
  private resolveFinished: (outcome: SessionOutcome) => void = () => {};

  private startPromise: Promise<void> | undefined;
  private flow: FlowRunner | undefined;
  private samples = 0;
  private isEnded = false;
  /** Nesting depth of input handlers; marks that arrive inside one wait in `deferredMarks`. */
  private handlerDepth = 0;
  private readonly deferredMarks: string[] = [];
  private recordingFull = false;

  constructor(options: CallSessionOptions) {
    this.options = options;
    this.callId = options.callId;
    this.botId = options.botId;
    this.config = options.config;
    this.sink = options.sink;
    this.log = options.log.child({ callId: options.callId, botId: options.botId });
    this.maxCallSamples = this.config.maxCallDurationMs * SAMPLES_PER_MS;
    this.recorder = new CallRecorder({
      maxDurationMs:
        options.maxRecordingMs ?? Math.min(this.config.maxCallDurationMs, DEFAULT_MAX_RECORDING_MS),
    });
    this.playout = new Playout(this.sink, this.recorder, this.transcript);
    this.detector = new SpeechDetector(this.config.vad, {
      onSpeechStart: (startMs) => this.onSpeechStart(startMs),
      onSpeechEnd: (startMs, durationMs) => this.onSpeechEnd(startMs, durationMs),
    });
    this.host = {
      mediaSamples: () => this.samples,
      isCallerSpeaking: () => this.detector.inSpeech,
      hangUp: (outcome) => this.end('completed', outcome, 'bot', null, true),
      emit: (event, detail) => this.emit(event, detail),
    };
    this.finished = new Promise<SessionOutcome>((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  /** Media time so far in milliseconds: the length of all caller audio received. */
  get mediaTimeMs(): number {
    return this.samples / SAMPLES_PER_MS;
  }

  /** Whether the session has ended; `finished` has resolved or is about to. */
  get ended(): boolean {
    return this.isEnded;
  }

  /**
   * Loads every prompt of the flow, then plays the start node. Resolves once the flow runs
   * or the session has ended, because a prompt that fails to load ends the session as
   * `failed`. It never rejects, and calling it again returns the first call's promise.
   */
  start(): Promise<void> {
    this.startPromise ??= this.loadAndRun();
    return this.startPromise;
  }

  /** Feeds 8 kHz mono caller audio, usually one 20 ms frame, and advances the media clock. */
  handleInboundAudio(pcm: Int16Array): void {
    if (this.isEnded || pcm.length === 0) return;
    this.handlerDepth++;
    try {
      if (!this.recorder.writeCaller(pcm) && !this.recordingFull) {
        this.recordingFull = true;
        this.log.warn({ mediaTimeMs: this.mediaTimeMs }, 'recording full, dropping caller audio');
      }
      this.samples += pcm.length;
      this.detector.process(pcm);
      if (this.samples >= this.maxCallSamples) {
        this.log.info({ maxCallDurationMs: this.config.maxCallDurationMs }, 'max call duration');
        this.end('completed', 'max-duration', 'system', null, true);
      } else {
        this.flow?.checkTimers();
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.leaveHandler();
    }
  }

  /** Handles a DTMF digit (0-9, *, #, A-D) from the caller; other strings are ignored. */
  handleDtmf(digit: string): void {
    if (this.isEnded) return;
    if (!DTMF_DIGIT.test(digit)) {
      this.log.warn({ digit: digit.slice(0, 8) }, 'invalid dtmf digit ignored');
      return;
    }
    this.handlerDepth++;
    try {
      this.transcript.add({ kind: 'dtmf', atMs: this.nowMs(), digit });
      this.flow?.handleDigit(digit);
    } catch (err) {
      this.fail(err);
    } finally {
      this.leaveHandler();
    }
  }

  /** Handles a playback mark returned by the transport. */
  handleMark(name: string): void {
    if (this.isEnded) return;
    if (this.handlerDepth > 0) {
      this.deferredMarks.push(name);
      return;
    }
    this.handlerDepth++;
    try {
      this.flow?.handleMark(name);
    } catch (err) {
      this.fail(err);
    } finally {
      this.leaveHandler();
    }
  }

  /** Ends the session because the caller hung up; ignored once the session has ended. */
  handleCallerHangup(): void {
    this.end('completed', 'caller-hangup', 'caller', null, false);
  }

  /**
   * Ends the session at once with status `aborted`, as when the worker is forced to stop. The
   * sink's `hangup()` is not called, because the transport that aborts also closes the call.
   */
  abort(reason: string): void {
    this.end('aborted', 'aborted', 'system', reason, false);
  }

  /** Renders the two-channel recording of the call so far; call it once `finished` resolves. */
  recording(): SessionRecording {
    return this.recorder.render(this.samples);
  }

  private async loadAndRun(): Promise<void> {
    if (this.isEnded) return;
    const startedAt = performance.now();
    this.log.info({ nodes: Object.keys(this.config.nodes).length }, 'session starting');
    let flow: FlowRunner;
    try {
      const prompts = await loadFlowPrompts(this.config, this.options.prompts);
      flow = new FlowRunner({
        config: this.config,
        prompts,
        playout: this.playout,
        transcript: this.transcript,
        host: this.host,
        log: this.log,
      });
      const loadMs = Math.round(performance.now() - startedAt);
      this.log.info({ prompts: prompts.size, loadMs }, 'prompts loaded');
      this.emit('prompts-loaded', { prompts: prompts.size, loadMs });
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.isEnded) return;

    this.flow = flow;
    this.handlerDepth++;
    try {
      flow.start();
    } catch (err) {
      this.fail(err);
    } finally {
      this.leaveHandler();
    }
  }

  /** Leaves an input handler; the outermost one then handles the deferred marks in order. */
  private leaveHandler(): void {
    if (this.handlerDepth > 1) {
      this.handlerDepth--;
      return;
    }
    try {
      while (this.deferredMarks.length > 0 && !this.isEnded) {
        const name = this.deferredMarks.shift();
        if (name !== undefined) this.flow?.handleMark(name);
      }
    } catch (err) {
      this.fail(err);
    } finally {
      this.deferredMarks.length = 0;
      this.handlerDepth = 0;
    }
  }

  private nowMs(): number {
    return Math.round(this.samples / SAMPLES_PER_MS);
  }

  private onSpeechStart(startMs: number): void {
    this.log.debug({ startMs }, 'speech started');
    if (!this.isEnded) this.flow?.handleSpeechStart();
  }

  private onSpeechEnd(startMs: number, durationMs: number): void {
    this.log.debug({ startMs, durationMs }, 'speech ended');
    this.transcript.add({ kind: 'speech', atMs: startMs, durationMs, text: null });
    if (!this.isEnded) this.flow?.handleSpeechEnd();
  }

  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const error = err instanceof EngineError ? `${err.code}: ${message}` : message;
    this.log.error({ err, nodeId: this.flow?.currentNodeId }, 'session failed');
    this.end('failed', 'error', 'system', error, true);
  }

  private end(
    status: SessionOutcome['status'],
    outcome: string,
    hangupBy: HangupBy,
    error: string | null,
    hangUpSink: boolean,
  ): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.flow?.stop();
    this.playout.stop(this.samples);
    // An utterance still in progress becomes a transcript entry.
    this.detector.flush();
    if (hangUpSink) this.hangUpSink();

    if (this.transcript.dropped > 0) {
      this.log.warn({ dropped: this.transcript.dropped }, 'transcript full, entries dropped');
    }
    const result: SessionOutcome = {
      status,
      outcome,
      hangupBy,
      transcript: this.transcript.toArray(),
      mediaDurationMs: this.nowMs(),
      error,
    };
    this.log.info(
      { status, outcome, hangupBy, mediaDurationMs: result.mediaDurationMs },
      'session ended',
    );
    this.resolveFinished(result);
  }

  private hangUpSink(): void {
    try {
      this.sink.hangup();
    } catch (err) {
      this.log.warn({ err }, 'sink hangup failed');
    }
  }

  private emit(event: string, detail?: Record<string, string | number | boolean>): void {
    if (this.options.onEvent === undefined) return;
    try {
      this.options.onEvent(event, detail);
    } catch (err) {
      this.log.warn({ err, event }, 'event listener failed');
    }
  }
}
