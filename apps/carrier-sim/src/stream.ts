/**
 * One call's media stream, played from the carrier's side. The carrier connects to the
 * worker's `streamUrl`, sends `connected` and `start`, then one frame of callee audio every
 * 20 ms of media time. The call's provider protocol (Twilio, Exotel, Plivo or Telnyx, in
 * `protocols/`) frames the messages. The worker's audio goes into a playback queue drained
 * at the same pace, and its marks are acknowledged once the audio before them has played.
 */
import WebSocket from 'ws';
import type { Logger } from '@voxfleet/logger';
import { FRAME_MS, FRAME_SAMPLES, decodeMulaw, levelDb } from '@voxfleet/audio';
import type { CallerAudio } from './caller-audio.js';
import { CarrierSimError } from './errors.js';
import { FrameClock } from './frame-clock.js';
import { PlaybackQueue } from './playback-queue.js';
import {
  createStreamProtocol,
  type CarrierStreamProtocol,
  type StreamProvider,
} from './protocols/index.js';
import type { Callee } from './scenarios.js';

/** Bot audio quieter than this (dBFS) counts as silence to the callee. */
const AUDIBLE_DB = -50;
/** Twilio discards buffered outbound audio beyond 10 minutes (warning 31931). */
const MAX_BUFFERED_BYTES = 10 * 60 * 8000;
/** Frames are dropped while this much is unsent on the socket, as Twilio does (31930). */
const MAX_SOCKET_BUFFER_BYTES = 1024 * 1024;
/** How long a closing worker gets to finish the close handshake. */
const CLOSE_GRACE_MS = 2000;

export type StreamEndReason =
  'callee-hangup' | 'bot-hangup' | 'max-duration' | 'carrier-stopped' | 'stream-failed';

export interface StreamEnd {
  reason: StreamEndReason;
  /** Media time streamed: 20 ms per `media` frame sent. */
  mediaMs: number;
  /** Failure description, for `stream-failed`. */
  error?: string;
}

/** Counters shown in the call's snapshot; the stream updates them in place. */
export interface MediaStats {
  framesSent: number;
  framesDropped: number;
  framesReceived: number;
  bytesReceived: number;
  bytesDropped: number;
  marksReceived: number;
  marksEchoed: number;
  clears: number;
  digitsSent: string[];
  phrasesSpoken: string[];
  invalidMessages: number;
}

export function createMediaStats(): MediaStats {
  return {
    framesSent: 0,
    framesDropped: 0,
    framesReceived: 0,
    bytesReceived: 0,
    bytesDropped: 0,
    marksReceived: 0,
    marksEchoed: 0,
    clears: 0,
    digitsSent: [],
    phrasesSpoken: [],
    invalidMessages: 0,
  };
}

export interface MediaStreamOptions {
  /** The worker's `ws://` or `wss://` URL; it may carry a token, so it is never logged. */
  url: string;
  carrierCallId: string;
  accountSid: string;
  customParameters: Record<string, string>;
  /** Media-stream protocol to speak; twilio by default. */
  provider?: StreamProvider;
  /** Speed factor: frames go out every 20 / speed ms. */
  speed: number;
  /** Media time after which the carrier ends the call with `stop`. */
  maxCallMs: number;
  /** Wall-clock limit for the WebSocket handshake. */
  connectTimeoutMs: number;
  callee: Callee;
  audio: CallerAudio;
  stats: MediaStats;
  log: Logger;
}

export class MediaStream {
  private readonly options: MediaStreamOptions;
  private readonly protocol: CarrierStreamProtocol;
  private readonly queue = new PlaybackQueue(MAX_BUFFERED_BYTES);
  private readonly clock: FrameClock;
  private socket: WebSocket | undefined;
  private sequenceNumber = 0;
  private framesSent = 0;
  private phrase: readonly string[] = [];
  private phraseIndex = 0;
  private end: StreamEnd | undefined;
  private resolveEnded: (end: StreamEnd) => void = () => undefined;
  /** Settles once, when the stream has ended for any reason. */
  readonly ended: Promise<StreamEnd>;

  constructor(options: MediaStreamOptions) {
    this.options = options;
    this.protocol = createStreamProtocol(options.provider ?? 'twilio', {
      carrierCallId: options.carrierCallId,
      accountSid: options.accountSid,
      customParameters: options.customParameters,
      random: Math.random,
    });
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    this.clock = new FrameClock({
      intervalMs: FRAME_MS / options.speed,
      onFrame: (index) => this.onFrame(index),
      onLag: (lagMs) =>
        options.log.warn(
          { lagMs: Math.round(lagMs) },
          'media clock behind schedule, skipping ahead',
        ),
    });
  }

  /** The provider's stream id (Twilio `streamSid`, Plivo `streamId`, ...). */
  get streamSid(): string {
    return this.protocol.streamId;
  }

  get provider(): StreamProvider {
    return this.protocol.provider;
  }

  /** Opens the WebSocket. Rejects with `CARRIER_SIM_STREAM_CONNECT_FAILED` and the reason. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.options.url, {
        handshakeTimeout: this.options.connectTimeoutMs,
        perMessageDeflate: false,
      });
      this.socket = socket;
      let opened = false;

      const fail = (reason: string, cause?: unknown) => {
        socket.terminate();
        reject(
          new CarrierSimError(
            'CARRIER_SIM_STREAM_CONNECT_FAILED',
            `media stream connection failed: ${reason}`,
            { cause, carrierCallId: this.options.carrierCallId, retryable: true },
          ),
        );
      };

      socket.once('unexpected-response', (_req, res) => {
        res.resume();
        fail(`worker rejected the WebSocket upgrade with HTTP ${res.statusCode ?? 'unknown'}`);
      });
      socket.once('open', () => {
        opened = true;
        resolve();
      });
      socket.on('error', (err) => {
        if (!opened) fail(err.message, err);
        else this.finish({ reason: 'stream-failed', error: `media stream error: ${err.message}` });
      });
      socket.on('close', (code, reason) => this.onClose(code, reason.toString()));
      socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    });
  }

  /** Sends `connected` and `start`, then media frames until the call ends. */
  run(): Promise<StreamEnd> {
    const connected = this.protocol.connected();
    if (connected !== null) this.send(connected);
    this.send(this.protocol.start(this.nextSequence));
    this.clock.start();
    return this.ended;
  }

  /** Ends the call from the carrier's side: sends `stop` and closes the socket. */
  hangup(reason: 'carrier-stopped' | 'callee-hangup' | 'max-duration'): void {
    this.finish({ reason });
  }

  private onFrame(index: number): void {
    const mediaMs = index * FRAME_MS;
    if (mediaMs >= this.options.maxCallMs) {
      this.finish({ reason: 'max-duration' });
      return;
    }

    const played = this.queue.playFrame(FRAME_SAMPLES);
    // NOTE: marks go out when their last frame starts playing, up to 20 ms before it ends.
    for (const name of played.marks) this.echoMark(name);
    const botAudible = played.audio.length > 0 && levelDb(decodeMulaw(played.audio)) > AUDIBLE_DB;

    const action = this.options.callee.onFrame({
      mediaMs,
      botAudible,
      queueEmpty: this.queue.bufferedBytes === 0,
    });
    if (action?.type === 'hangup') {
      this.finish({ reason: 'callee-hangup' });
      return;
    }
    if (action?.type === 'dtmf') {
      this.send(this.protocol.dtmf(this.nextSequence, action.digit));
      this.options.stats.digitsSent.push(action.digit);
    }
    if (action?.type === 'say') {
      this.phrase = this.options.audio.phraseFrames(action.phrase);
      this.phraseIndex = 0;
      this.options.stats.phrasesSpoken.push(action.phrase);
    }

    this.sendMediaFrame(mediaMs);
  }

  private sendMediaFrame(mediaMs: number): void {
    const payload = this.phrase[this.phraseIndex] ?? this.options.audio.noiseFrame();
    if (this.phraseIndex < this.phrase.length) this.phraseIndex++;

    // The frame counts as media time even when a congested socket drops it.
    this.framesSent++;
    const socket = this.socket;
    if (socket === undefined || socket.bufferedAmount > MAX_SOCKET_BUFFER_BYTES) {
      this.options.stats.framesDropped++;
      return;
    }
    const frame = { index: this.framesSent, mediaMs, mulawBase64: payload };
    for (const message of this.protocol.media(frame, this.nextSequence)) this.send(message);
    this.options.stats.framesSent++;
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.end !== undefined) return;
    if (isBinary) {
      this.rejectMessage('binary frame');
      return;
    }

    let json: unknown;
    try {
      json = JSON.parse(rawDataToString(data));
    } catch {
      this.rejectMessage('invalid JSON');
      return;
    }
    const parsed = this.protocol.parse(json);
    if (!parsed.ok) {
      this.rejectMessage(parsed.problem);
      return;
    }
    const command = parsed.command;

    const stats = this.options.stats;
    switch (command.kind) {
      case 'audio': {
        // Bytes are counted as 8 kHz μ-law, whatever the provider's encoding.
        stats.framesReceived++;
        stats.bytesReceived += command.mulaw.length;
        stats.bytesDropped += this.queue.pushAudio(command.mulaw);
        break;
      }
      case 'mark':
        stats.marksReceived++;
        if (this.queue.pushMark(command.name)) this.echoMark(command.name);
        break;
      case 'clear': {
        // Twilio empties its buffer and sends back every pending mark at once.
        stats.clears++;
        for (const name of this.queue.clear()) this.echoMark(name);
        const acknowledgement = this.protocol.clearAcknowledgement(this.nextSequence);
        if (acknowledgement !== null) this.send(acknowledgement);
        break;
      }
    }
  }

  private rejectMessage(problem: string): void {
    const count = ++this.options.stats.invalidMessages;
    // The first and then every hundredth, so a misbehaving worker cannot flood the log.
    if (count === 1 || count % 100 === 0) {
      this.options.log.warn(
        { problem, invalidMessages: count },
        'invalid message from worker ignored',
      );
    }
  }

  private echoMark(name: string): void {
    this.send(this.protocol.markPlayed(this.nextSequence, name));
    this.options.stats.marksEchoed++;
  }

  private onClose(code: number, reason: string): void {
    // 1000 (normal) and 1005 (no status) are a deliberate close: the bot hung up.
    if (code === 1000 || code === 1005) {
      this.finish({ reason: 'bot-hangup' });
    } else {
      const detail = reason === '' ? '' : ` (${reason})`;
      this.finish({
        reason: 'stream-failed',
        error: `media stream closed abnormally with code ${code}${detail}`,
      });
    }
  }

  /** Ends the stream once; later calls do nothing. */
  private finish(end: Omit<StreamEnd, 'mediaMs'>): void {
    if (this.end !== undefined) return;
    this.end = { ...end, mediaMs: this.framesSent * FRAME_MS };
    this.clock.stop();

    const socket = this.socket;
    const carrierEnded =
      end.reason === 'callee-hangup' ||
      end.reason === 'max-duration' ||
      end.reason === 'carrier-stopped';
    if (socket !== undefined && carrierEnded && socket.readyState === WebSocket.OPEN) {
      for (const message of this.protocol.flushMedia(this.nextSequence)) socket.send(message);
      socket.send(this.protocol.stop(this.nextSequence));
      socket.close(1000);
      setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
    } else if (socket !== undefined && end.reason !== 'bot-hangup') {
      // A failed socket, or one still connecting when the carrier stopped.
      socket.terminate();
    }
    this.resolveEnded(this.end);
  }

  private readonly nextSequence = (): number => ++this.sequenceNumber;

  private send(message: string): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(message);
  }
}

function rawDataToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
