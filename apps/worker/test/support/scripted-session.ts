/**
 * A small test-only session in place of the engine's `CallSession`. It plays the start
 * node's prompt followed by a `greeting` mark and then waits for a DTMF digit. After the
 * digit it plays a short goodbye with a `goodbye` mark and hangs up once that mark returns.
 * It records both channels.
 */
import { encodeWav } from '@voxfleet/audio';
import type { TranscriptEntry } from '@voxfleet/schema';
import type { CallSessionLike, CreateSession } from '../../src/call/session.js';
import type {
  CallSessionOptions,
  SessionOutcome,
  SessionRecording,
} from '../../src/engine/types.js';

/** Milliseconds of media per inbound frame. */
const FRAME_MS = 20;

export class ScriptedSession implements CallSessionLike {
  readonly finished: Promise<SessionOutcome>;
  readonly #options: CallSessionOptions;
  readonly #transcript: TranscriptEntry[] = [];
  readonly #callerAudio: Int16Array[] = [];
  readonly #botAudio: Int16Array[] = [];
  #resolve: (outcome: SessionOutcome) => void = () => {};
  #mediaMs = 0;
  #digit: string | null = null;
  #done = false;
  #stage: 'greeting' | 'listening' | 'goodbye' = 'greeting';

  constructor(options: CallSessionOptions) {
    this.#options = options;
    this.finished = new Promise((resolve) => {
      this.#resolve = resolve;
    });
  }

  async start(): Promise<void> {
    const { config, prompts, sink } = this.#options;
    const node = config.nodes[config.start];
    if (node === undefined || node.type === 'hangup') throw new Error('start node must prompt');
    const pcm = await prompts.load(node.prompt, config.voice);
    this.#botAudio.push(pcm);
    sink.sendAudio(pcm);
    sink.sendMark('greeting');
    this.#transcript.push({
      kind: 'prompt',
      atMs: this.#mediaMs,
      nodeId: config.start,
      text: node.prompt.text,
      playedMs: Math.round(pcm.length / 8),
      interrupted: false,
    });
  }

  handleInboundAudio(pcm: Int16Array): void {
    this.#callerAudio.push(pcm);
    this.#mediaMs += FRAME_MS;
  }

  handleDtmf(digit: string): void {
    if (this.#done) return;
    this.#transcript.push({ kind: 'dtmf', atMs: this.#mediaMs, digit });
    this.#options.onEvent?.('dtmf-received', { digit });
    if (this.#stage !== 'listening' || this.#digit !== null) return;
    this.#digit = digit;
    this.#stage = 'goodbye';
    const goodbye = new Int16Array(800).fill(1000);
    this.#botAudio.push(goodbye);
    this.#options.sink.sendAudio(goodbye);
    this.#options.sink.sendMark('goodbye');
  }

  handleMark(name: string): void {
    if (name === 'greeting' && this.#stage === 'greeting') this.#stage = 'listening';
    if (name === 'goodbye' && this.#stage === 'goodbye') {
      this.#options.sink.hangup();
      this.#end({ status: 'completed', outcome: `pressed-${this.#digit ?? ''}`, hangupBy: 'bot' });
    }
  }

  handleCallerHangup(): void {
    this.#end({ status: 'completed', outcome: 'caller-hangup', hangupBy: 'caller' });
  }

  abort(reason: string): void {
    this.#end({ status: 'aborted', outcome: 'error', hangupBy: 'system', error: reason });
  }

  recording(): SessionRecording {
    const caller = concat(this.#callerAudio);
    const bot = concat(this.#botAudio);
    const frames = Math.max(caller.length, bot.length);
    const samples = new Int16Array(frames * 2);
    for (let i = 0; i < frames; i++) {
      samples[i * 2] = caller[i] ?? 0;
      samples[i * 2 + 1] = bot[i] ?? 0;
    }
    return {
      wav: encodeWav({ sampleRate: 8000, channels: 2, samples }),
      durationMs: Math.round(frames / 8),
    };
  }

  #end(
    outcome: Pick<SessionOutcome, 'status' | 'outcome' | 'hangupBy'> & { error?: string },
  ): void {
    if (this.#done) return;
    this.#done = true;
    this.#resolve({
      ...outcome,
      transcript: this.#transcript,
      mediaDurationMs: this.#mediaMs,
      error: outcome.error ?? null,
    });
  }
}

export const createScriptedSession: CreateSession = (options) => new ScriptedSession(options);

function concat(chunks: Int16Array[]): Int16Array {
  const out = new Int16Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
