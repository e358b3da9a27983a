/**
 * The worker's bot engine: a call session that runs a bot flow over 8 kHz PCM, with its
 * speech detector, recorder and prompt sources. The worker's transport drives it through
 * the types in `types.ts`.
 */
export * from './types.js';
export * from './errors.js';
export { CallSession } from './call-session.js';
export { SpeechDetector, type SpeechDetectorOptions, type SpeechListener } from './vad.js';
export { NoiseFloor, type NoiseFloorOptions } from './noise-floor.js';
export { CallRecorder, type BotPlacement, type CallRecorderOptions } from './recorder.js';
export { Transcript, MAX_TRANSCRIPT_ENTRIES } from './transcript.js';
export { MARK_GRACE_MS } from './playout.js';
export { loadFlowPrompts, type LoadedPrompt } from './flow-prompts.js';
export {
  CompositePromptSource,
  EspeakPromptSource,
  FilePromptSource,
  createPromptSource,
  isInsideDir,
  toTelephonyPcm,
  type EspeakPromptSourceOptions,
  type FilePromptSourceOptions,
  type PromptSourceOptions,
} from './prompts.js';
