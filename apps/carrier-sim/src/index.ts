/**
 * The `sim` carrier: plays the telephone network and the callee for local runs and tests.
 * It places calls on request, answers them according to the contact's `SimScenario` and,
 * when answered, opens a Twilio Media Streams WebSocket to the worker.
 */
export { SimCarrier, createSimCarrier, type SimCarrierOptions } from './carrier.js';
export type { CallEndReason, CallSnapshot, CallTiming } from './call.js';
export { InboundCallRequest, type InboundCallResult } from './inbound-request.js';
export { DEFAULT_AUDIO_DIR, LINE_NOISE_DB } from './caller-audio.js';
export { CarrierSimError, type CarrierSimErrorCode } from './errors.js';
export { DEFAULT_SCENARIO, SPEAK_PHRASE } from './scenarios.js';
export type { MediaStats, StreamEndReason } from './stream.js';
