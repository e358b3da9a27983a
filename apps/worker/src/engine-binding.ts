/** Binds the worker to the bot engine in `src/engine/`: sessions and prompt sources. */
import { CallSession, createPromptSource } from './engine/index.js';
import type { CreatePromptSource, CreateSession } from './call/session.js';

export const createEngineSession: CreateSession = (options) => new CallSession(options);

/** Recorded prompts from `promptsDir`, espeak-ng (cached in `ttsCacheDir`) for the rest. */
export const createEnginePromptSource: CreatePromptSource = (context) =>
  createPromptSource(context);
