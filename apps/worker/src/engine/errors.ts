/**
 * Errors raised by the bot engine. Each carries a stable `code` that the worker copies into
 * logs and call results, and a `retryable` flag for callers that could try again.
 */

export type EngineErrorCode =
  | 'PROMPT_NOT_FOUND'
  | 'PROMPT_PATH_INVALID'
  | 'PROMPT_AUDIO_INVALID'
  | 'PROMPT_AUDIO_MISSING'
  | 'PROMPT_LOAD_FAILED'
  | 'TTS_UNAVAILABLE'
  | 'TTS_FAILED'
  | 'TTS_TIMEOUT'
  | 'FLOW_INVALID';

export interface EngineErrorOptions {
  cause?: unknown;
  retryable?: boolean;
}

/** Base class of every engine error. */
export class EngineError extends Error {
  readonly code: EngineErrorCode;
  readonly retryable: boolean;

  constructor(code: EngineErrorCode, message: string, options: EngineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EngineError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** A prompt could not be loaded from its file or synthesised from its text. */
export class PromptLoadError extends EngineError {
  /** The prompt's `audio` path, or its text when it has none. */
  readonly prompt: string;

  constructor(
    code: EngineErrorCode,
    prompt: string,
    message: string,
    options: EngineErrorOptions = {},
  ) {
    super(code, message, options);
    this.name = 'PromptLoadError';
    this.prompt = prompt;
  }
}

/** The bot flow references something that does not exist or loops without waiting. */
export class FlowError extends EngineError {
  readonly nodeId: string;

  constructor(nodeId: string, message: string) {
    super('FLOW_INVALID', message);
    this.name = 'FlowError';
    this.nodeId = nodeId;
  }
}
