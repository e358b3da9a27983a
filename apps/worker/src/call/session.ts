/**
 * The interface of a bot engine session as the worker drives it. The engine's `CallSession`
 * (`src/engine/`) implements it, and tests can pass a small session of their own.
 */
import type { Logger } from '@voxfleet/logger';
import type {
  CallSessionOptions,
  PromptSource,
  SessionOutcome,
  SessionRecording,
} from '../engine/types.js';

export interface CallSessionLike {
  start(): void | Promise<void>;
  handleInboundAudio(pcm: Int16Array): void;
  handleDtmf(digit: string): void;
  handleMark(name: string): void;
  handleCallerHangup(): void;
  abort(reason: string): void;
  readonly finished: Promise<SessionOutcome>;
  recording(): SessionRecording;
}

export type CreateSession = (options: CallSessionOptions) => CallSessionLike;

export interface PromptSourceContext {
  promptsDir: string;
  ttsCacheDir: string;
  log: Logger;
}

export type CreatePromptSource = (context: PromptSourceContext) => PromptSource;
