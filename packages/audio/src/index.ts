/**
 * Telephony audio primitives shared by the worker and the sim carrier: G.711 codecs,
 * WAV files, resampling, levels and 20 ms framing.
 */
export * from './g711.js';
export * from './wav.js';
export * from './pcm.js';

/** Telephony sample rate used inside voxfleet. */
export const TELEPHONY_SAMPLE_RATE = 8000;
/** Length of one media frame. */
export const FRAME_MS = 20;
/** Samples in one 20 ms frame at 8 kHz. */
export const FRAME_SAMPLES = 160;
