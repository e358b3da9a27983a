/**
 * The bot flow's node semantics on the media clock: `say` plays and moves on, `ask` plays
 * and then listens for a digit or an utterance, and `hangup` plays in full and ends the call.
 * `CallSession` owns the clock, the speech detector and the end of the call, and forwards
 * each input here.
 */
import { TELEPHONY_SAMPLE_RATE } from '@voxfleet/audio';
import type { Logger } from '@voxfleet/logger';
import type { AskNode, BotConfig, FlowNode } from '@voxfleet/schema';
import { FlowError } from './errors.js';
import type { LoadedPrompt } from './flow-prompts.js';
import type { Playout } from './playout.js';
import type { Transcript } from './transcript.js';

const SAMPLES_PER_MS = TELEPHONY_SAMPLE_RATE / 1000;
/**
 * Node entries allowed without the media clock moving. Each prompt needs media time to play,
 * so only a sink that returns marks before playback can loop this fast.
 */
const MAX_NODE_ENTRIES_PER_INSTANT = 100;
/**
 * Digits kept for the next `ask` node when the caller presses them before it listens
 * (during or right after a `say` prompt), as IVR callers who know the menu do.
 */
const MAX_TYPE_AHEAD_DIGITS = 8;

/** The session's side of the flow: its clock, the caller's speech state and the call's end. */
export interface FlowHost {
  /** Returns the media samples received so far. */
  mediaSamples(): number;
  /** Returns whether the caller is in the middle of an utterance. */
  isCallerSpeaking(): boolean;
  /** Ends the call from the bot's side with a hangup node's outcome. */
  hangUp(outcome: string): void;
  emit(event: string, detail?: Record<string, string | number | boolean>): void;
}

export interface FlowRunnerOptions {
  config: BotConfig;
  prompts: Map<string, LoadedPrompt>;
  playout: Playout;
  transcript: Transcript;
  host: FlowHost;
  log: Logger;
}

type Phase = 'playing' | 'listening' | 'stopped';

export class FlowRunner {
  private readonly config: BotConfig;
  private readonly prompts: Map<string, LoadedPrompt>;
  private readonly playout: Playout;
  private readonly transcript: Transcript;
  private readonly host: FlowHost;
  private readonly log: Logger;

  private phase: Phase = 'playing';
  private nodeId = '';
  private node: FlowNode | undefined;
  /** No-input timeouts on the current ask node since the flow entered it. */
  private noInputCount = 0;
  private listenDeadlineSample = 0;
  /** Whether the utterance in progress is a reply to the current ask node. */
  private utteranceReplies = false;
  private entrySample = -1;
  private entriesAtSample = 0;
  private firstAudioSent = false;
  /** Digits pressed before the next `ask` node listened; only kept while barge-in is on. */
  private typeAhead: string[] = [];

  constructor(options: FlowRunnerOptions) {
    this.config = options.config;
    this.prompts = options.prompts;
    this.playout = options.playout;
    this.transcript = options.transcript;
    this.host = options.host;
    this.log = options.log;
  }

  /** Id of the node the flow is in, or an empty string before `start`. */
  get currentNodeId(): string {
    return this.nodeId;
  }

  /** Enters the start node. Throws FlowError when the flow is inconsistent. */
  start(): void {
    this.goTo(this.config.start);
  }

  /** Stops reacting to input, once the call has ended. */
  stop(): void {
    this.phase = 'stopped';
  }

  /** Fires the media-clock timers: a missing mark and the ask node's no-input timeout. */
  checkTimers(): void {
    if (this.phase === 'stopped') return;
    const now = this.host.mediaSamples();
    const playback = this.playout.current;
    if (playback !== null && now >= playback.deadlineSample) {
      this.log.warn({ nodeId: playback.nodeId, mark: playback.markName }, 'mark missing');
      this.host.emit('mark-missing', { nodeId: playback.nodeId });
      this.playout.complete();
      this.onPromptPlayed();
      return;
    }
    if (
      this.phase === 'listening' &&
      !this.host.isCallerSpeaking() &&
      now >= this.listenDeadlineSample
    ) {
      this.onNoInput();
    }
  }

  handleMark(name: string): void {
    if (this.phase === 'stopped') return;
    if (!this.playout.isCurrentMark(name)) {
      this.log.debug({ mark: name }, 'stale mark ignored');
      return;
    }
    this.playout.complete();
    this.onPromptPlayed();
  }

  handleSpeechStart(): void {
    if (this.phase === 'stopped') return;
    const node = this.node;
    if (this.canBargeIn()) {
      this.bargeIn('speech');
      // An utterance that cuts an ask prompt short is the reply to it.
      if (node !== undefined && node.type === 'ask' && this.node === node) {
        this.utteranceReplies = true;
      }
      return;
    }
    if (this.phase === 'listening') this.utteranceReplies = true;
  }

  handleSpeechEnd(): void {
    if (this.phase !== 'listening' || !this.utteranceReplies) return;
    this.utteranceReplies = false;
    const node = this.node;
    if (node === undefined || node.type !== 'ask') return;
    // With no speech branch, an utterance counts as no input, so the prompt repeats.
    if (node.speech !== undefined) this.goTo(node.speech);
    else this.onNoInput();
  }

  handleDigit(digit: string): void {
    if (this.phase === 'stopped') return;
    const node = this.node;
    if (node === undefined) return;
    if (this.playout.current !== null) {
      // Without barge-in, digits pressed during a prompt are recorded but not acted on.
      if (!this.canBargeIn()) {
        if (this.config.bargeIn && node.type === 'say') this.keepTypeAhead(digit);
        return;
      }
      this.bargeIn('dtmf');
      if (node.type === 'say') {
        this.keepTypeAhead(digit);
        this.goTo(node.next);
        return;
      }
    } else if (this.phase !== 'listening') {
      // The digit came between a `say` prompt and the next prompt, so the next ask node gets it.
      if (this.config.bargeIn && node.type === 'say') this.keepTypeAhead(digit);
      return;
    }
    if (node.type === 'ask') this.selectDigitBranch(node, digit);
  }

  private keepTypeAhead(digit: string): void {
    if (this.typeAhead.length < MAX_TYPE_AHEAD_DIGITS) this.typeAhead.push(digit);
  }

  private selectDigitBranch(node: AskNode, digit: string): void {
    const target = node.digits[digit];
    if (target !== undefined) {
      this.goTo(target);
      return;
    }
    if (node.invalid !== undefined) {
      this.goTo(node.invalid);
      return;
    }
    this.playPrompt(true);
  }

  private canBargeIn(): boolean {
    const playback = this.playout.current;
    if (!this.config.bargeIn || playback === null || !playback.interruptible) return false;
    return this.playout.isPlayingAt(this.host.mediaSamples());
  }

  /** Cuts the current prompt short. An `ask` node then listens, and a `say` node moves on. */
  private bargeIn(by: 'speech' | 'dtmf'): void {
    const playback = this.playout.current;
    const playedMs = this.playout.interrupt(this.host.mediaSamples());
    if (playback === null || playedMs === null) return;

    this.log.debug({ nodeId: playback.nodeId, playedMs, by }, 'barge-in');
    this.host.emit('barge-in', { nodeId: playback.nodeId, playedMs, by });
    const node = this.node;
    if (node === undefined) return;
    if (node.type === 'ask') this.listen(node);
    else if (node.type === 'say' && by === 'speech') this.goTo(node.next);
  }

  private onPromptPlayed(): void {
    const node = this.node;
    if (node === undefined) return;
    if (node.type === 'say') this.goTo(node.next);
    else if (node.type === 'ask') this.listen(node);
    else this.host.hangUp(node.outcome);
  }

  private listen(node: AskNode): void {
    this.phase = 'listening';
    this.listenDeadlineSample = this.host.mediaSamples() + node.timeoutMs * SAMPLES_PER_MS;
  }

  private onNoInput(): void {
    const node = this.node;
    if (node === undefined || node.type !== 'ask') return;
    const atMs = Math.round(this.host.mediaSamples() / SAMPLES_PER_MS);
    this.transcript.add({ kind: 'no-input', atMs, nodeId: this.nodeId });
    this.host.emit('no-input', { nodeId: this.nodeId });
    this.noInputCount++;
    this.log.debug({ nodeId: this.nodeId, noInputCount: this.noInputCount }, 'no input');
    if (this.noInputCount > node.retries) this.goTo(node.noInput);
    else this.playPrompt(true);
  }

  private goTo(nodeId: string): void {
    if (this.phase === 'stopped') return;
    const node = this.config.nodes[nodeId];
    if (node === undefined) {
      throw new FlowError(nodeId, `node "${nodeId}" not found in the bot flow`);
    }
    this.countEntry(nodeId);

    this.log.debug({ nodeId, type: node.type }, 'node entered');
    this.nodeId = nodeId;
    this.node = node;
    this.noInputCount = 0;
    this.utteranceReplies = false;
    if (node.type === 'hangup') this.typeAhead = [];
    if (node.type === 'hangup' && node.prompt === undefined) {
      this.host.hangUp(node.outcome);
      return;
    }
    const typed = node.type === 'ask' ? this.typeAhead.shift() : undefined;
    if (node.type === 'ask' && typed !== undefined) {
      // The caller answered before the prompt: skip it, as barge-in would have cut it.
      this.log.debug({ nodeId, digit: typed }, 'type-ahead digit used');
      this.host.emit('type-ahead', { nodeId, digit: typed });
      this.phase = 'listening';
      this.selectDigitBranch(node, typed);
      return;
    }
    // A hangup node's prompt always plays in full.
    this.playPrompt(node.type !== 'hangup');
  }

  private countEntry(nodeId: string): void {
    const now = this.host.mediaSamples();
    if (this.entrySample !== now) {
      this.entrySample = now;
      this.entriesAtSample = 1;
      return;
    }
    this.entriesAtSample++;
    if (this.entriesAtSample > MAX_NODE_ENTRIES_PER_INSTANT) {
      throw new FlowError(
        nodeId,
        `flow entered ${this.entriesAtSample} nodes without media time passing; ` +
          'the transport must return marks only after playback',
      );
    }
  }

  /** Plays the current node's prompt; `interruptible` prompts allow barge-in. */
  private playPrompt(interruptible: boolean): void {
    const prompt = this.prompts.get(this.nodeId);
    if (prompt === undefined) {
      throw new FlowError(this.nodeId, `prompt of node "${this.nodeId}" was not loaded`);
    }
    this.phase = 'playing';
    this.playout.play(
      this.nodeId,
      prompt.text,
      prompt.pcm,
      this.host.mediaSamples(),
      interruptible,
    );
    if (!this.firstAudioSent) {
      this.firstAudioSent = true;
      this.host.emit('first-bot-audio', { nodeId: this.nodeId });
    }
  }
}
