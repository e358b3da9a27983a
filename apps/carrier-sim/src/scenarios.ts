/**
 * Callee behaviour per `SimScenario`. A callee receives the call one 20 ms frame at a time,
 * on the media clock, and reacts to what it hears: like a person, it waits for the bot to
 * finish speaking (playback queue empty and nothing audible for `quietMs`) before acting.
 */
import type { SimScenario } from '@voxfleet/schema';

/** Scenarios in which the callee answers and the media stream runs. */
export type AnsweredScenario = 'speak' | 'press-1' | 'press-2' | 'silent' | 'hangup-early';
/** Scenarios in which the call is never answered. */
export type UnansweredScenario = Exclude<SimScenario, AnsweredScenario>;

/** Used when a place-call request names no scenario. */
export const DEFAULT_SCENARIO: SimScenario = 'speak';

/** The phrase the `speak` callee says; `<name>.wav` must exist in the audio folder. */
export const SPEAK_PHRASE = 'hello';

export function isAnsweredScenario(scenario: SimScenario): scenario is AnsweredScenario {
  return (
    scenario === 'speak' ||
    scenario === 'press-1' ||
    scenario === 'press-2' ||
    scenario === 'silent' ||
    scenario === 'hangup-early'
  );
}

/** The callee's view of one frame. */
export interface HeardFrame {
  /** Media time at the start of this frame. */
  mediaMs: number;
  /** Whether the bot's audio in this frame was above the audibility threshold. */
  botAudible: boolean;
  /** Whether the bot's playback queue is empty after this frame. */
  queueEmpty: boolean;
}

export type CalleeAction =
  { type: 'say'; phrase: string } | { type: 'dtmf'; digit: string } | { type: 'hangup' };

export interface Callee {
  /** Returns what the callee does in this frame, if anything. */
  onFrame(frame: HeardFrame): CalleeAction | undefined;
}

export interface CalleeTiming {
  /** Quiet time after the bot's last audible frame before the callee acts. Default 400. */
  quietMs?: number;
  /** Media time into the greeting at which `hangup-early` hangs up. Default 1500. */
  hangupAfterMs?: number;
}

/** Tracks when the bot started and last spoke, on the media clock. */
class BotSpeechTracker {
  firstAudibleMs: number | undefined;
  private lastAudibleMs: number | undefined;
  private readonly quietMs: number;

  constructor(quietMs: number) {
    this.quietMs = quietMs;
  }

  update(frame: HeardFrame): void {
    if (!frame.botAudible) return;
    this.firstAudibleMs ??= frame.mediaMs;
    this.lastAudibleMs = frame.mediaMs;
  }

  /** True once the bot has spoken and then stayed quiet for `quietMs` with nothing queued. */
  hasFinishedSpeaking(frame: HeardFrame): boolean {
    if (this.lastAudibleMs === undefined || !frame.queueEmpty) return false;
    return frame.mediaMs - this.lastAudibleMs >= this.quietMs;
  }
}

/** Creates the callee for a scenario in which the call is answered. */
export function createCallee(scenario: AnsweredScenario, timing: CalleeTiming = {}): Callee {
  const tracker = new BotSpeechTracker(timing.quietMs ?? 400);
  const hangupAfterMs = timing.hangupAfterMs ?? 1500;
  let acted = false;

  // Each callee acts at most once, then listens until the call ends.
  const actOnceAfterGreeting = (action: CalleeAction): Callee => ({
    onFrame(frame) {
      tracker.update(frame);
      if (acted || !tracker.hasFinishedSpeaking(frame)) return undefined;
      acted = true;
      return action;
    },
  });

  switch (scenario) {
    case 'speak':
      return actOnceAfterGreeting({ type: 'say', phrase: SPEAK_PHRASE });
    case 'press-1':
      return actOnceAfterGreeting({ type: 'dtmf', digit: '1' });
    case 'press-2':
      return actOnceAfterGreeting({ type: 'dtmf', digit: '2' });
    case 'silent':
      return { onFrame: () => undefined };
    case 'hangup-early':
      return {
        onFrame(frame) {
          tracker.update(frame);
          const startedMs = tracker.firstAudibleMs;
          if (acted || startedMs === undefined) return undefined;
          if (frame.mediaMs - startedMs < hangupAfterMs) return undefined;
          acted = true;
          return { type: 'hangup' };
        },
      };
  }
}
