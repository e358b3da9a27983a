/**
 * Prompt playback on the media clock. A prompt starts playing when it is sent, or when the
 * audio queued before it ends, and has finished once the transport returns its mark. Some
 * carriers drop marks, so a prompt whose mark has not come back `MARK_GRACE_MS` after its
 * computed end counts as played. All times are media samples at 8 kHz.
 */
import { TELEPHONY_SAMPLE_RATE } from '@voxfleet/audio';
import type { BotPlacement, CallRecorder } from './recorder.js';
import type { PromptEntry, Transcript } from './transcript.js';
import type { MediaSink } from './types.js';

/** Wait after a prompt's computed end before a missing mark counts as played. */
export const MARK_GRACE_MS = 2000;

const SAMPLES_PER_MS = TELEPHONY_SAMPLE_RATE / 1000;

/** One prompt sent to the transport. */
export interface PromptPlayback {
  readonly nodeId: string;
  /** Mark name sent after the audio: `<nodeId>:<n>`, where n counts prompts in the call. */
  readonly markName: string;
  readonly startSample: number;
  readonly endSample: number;
  /** Media sample after which a missing mark counts as played. */
  readonly deadlineSample: number;
  /** Whether caller speech or a digit may cut it short when barge-in is on. */
  readonly interruptible: boolean;
  readonly entry: PromptEntry | undefined;
  readonly placement: BotPlacement;
}

export class Playout {
  private readonly sink: MediaSink;
  private readonly recorder: CallRecorder;
  private readonly transcript: Transcript;
  private playback: PromptPlayback | null = null;
  /** Media sample where everything sent so far has played. */
  private queueEndSample = 0;
  private sentPrompts = 0;

  constructor(sink: MediaSink, recorder: CallRecorder, transcript: Transcript) {
    this.sink = sink;
    this.recorder = recorder;
    this.transcript = transcript;
  }

  /** The prompt playing or queued, if any. */
  get current(): PromptPlayback | null {
    return this.playback;
  }

  /** Prompts sent in this call. */
  get sentCount(): number {
    return this.sentPrompts;
  }

  /** Sends a prompt and its mark to the sink and records its placement and transcript entry. */
  play(
    nodeId: string,
    text: string,
    pcm: Int16Array,
    nowSample: number,
    interruptible: boolean,
  ): PromptPlayback {
    const startSample = Math.max(nowSample, this.queueEndSample);
    const endSample = startSample + pcm.length;
    this.queueEndSample = endSample;
    this.sentPrompts++;

    const entry = this.transcript.add<PromptEntry>({
      kind: 'prompt',
      atMs: Math.round(startSample / SAMPLES_PER_MS),
      nodeId,
      text,
      playedMs: Math.round(pcm.length / SAMPLES_PER_MS),
      interrupted: false,
    });
    const playback: PromptPlayback = {
      nodeId,
      markName: `${nodeId}:${this.sentPrompts}`,
      startSample,
      endSample,
      deadlineSample: endSample + MARK_GRACE_MS * SAMPLES_PER_MS,
      interruptible,
      entry,
      placement: this.recorder.placeBot(pcm, startSample),
    };
    this.playback = playback;

    if (pcm.length > 0) this.sink.sendAudio(pcm);
    this.sink.sendMark(playback.markName);
    return playback;
  }

  /** Returns whether `name` is the current prompt's mark, as opposed to a stale or foreign one. */
  isCurrentMark(name: string): boolean {
    return this.playback !== null && this.playback.markName === name;
  }

  /** Returns whether the current prompt has started playing by `nowSample`. */
  isPlayingAt(nowSample: number): boolean {
    return this.playback !== null && nowSample >= this.playback.startSample;
  }

  /** Marks the current prompt as fully played and returns it. */
  complete(): PromptPlayback | null {
    const playback = this.playback;
    this.playback = null;
    return playback;
  }

  /**
   * Stops the current prompt at `nowSample` for a barge-in: records what was played, cuts the
   * bot channel and drops the queued audio through `clearAudio`. Returns the milliseconds
   * played, or null when no prompt was playing.
   */
  interrupt(nowSample: number): number | null {
    const playedMs = this.cut(nowSample);
    if (playedMs === null) return null;
    this.queueEndSample = nowSample;
    this.sink.clearAudio();
    return playedMs;
  }

  /** Records how much of the current prompt played before the call ended at `nowSample`. */
  stop(nowSample: number): void {
    this.cut(nowSample);
  }

  private cut(nowSample: number): number | null {
    const playback = this.playback;
    if (playback === null) return null;
    this.playback = null;

    const playedSamples = Math.min(
      Math.max(0, nowSample - playback.startSample),
      playback.endSample - playback.startSample,
    );
    this.recorder.cutBot(playback.placement, playback.startSample + playedSamples);
    const playedMs = Math.round(playedSamples / SAMPLES_PER_MS);
    if (playback.entry !== undefined && playback.startSample + playedSamples < playback.endSample) {
      playback.entry.playedMs = playedMs;
      playback.entry.interrupted = true;
    }
    return playedMs;
  }
}
