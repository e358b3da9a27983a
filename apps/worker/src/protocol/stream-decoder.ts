/**
 * Decodes the text frames of one media WebSocket into `StreamEvent`s. Until `start` arrives
 * only `connected` is accepted; the `start` frame picks the provider by its shape (or the
 * provider pinned with `?provider=`), and later frames go to that provider's stream.
 */
import { exotelAdapter } from './exotel.js';
import { plivoAdapter } from './plivo.js';
import { telnyxAdapter } from './telnyx.js';
import { twilioAdapter } from './twilio.js';
export { parseProvider } from './types.js';
import {
  PROVIDERS,
  type DecodeResult,
  type Provider,
  type ProtocolAdapter,
  type ProtocolStream,
} from './types.js';

const ADAPTERS: Record<Provider, ProtocolAdapter> = {
  twilio: twilioAdapter,
  exotel: exotelAdapter,
  plivo: plivoAdapter,
  telnyx: telnyxAdapter,
};

/** Picks the provider whose identifying fields the `start` frame has; null when none match. */
export function detectProvider(frame: Record<string, unknown>): Provider | null {
  const keys = new Set(Object.keys(frame));
  const start = frame['start'];
  if (isRecord(start)) for (const key of Object.keys(start)) keys.add(key);
  for (const provider of PROVIDERS) {
    if (ADAPTERS[provider].matchesStart(keys)) return provider;
  }
  return null;
}

export class StreamDecoder {
  readonly #pinned: Provider | null;
  #stream: ProtocolStream | null = null;

  /** @param pinned the provider from `?provider=`; null detects it from the `start` frame. */
  constructor(pinned: Provider | null) {
    this.#pinned = pinned;
  }

  /** The started stream, or null before a valid `start`. */
  get stream(): ProtocolStream | null {
    return this.#stream;
  }

  /** Decodes one text frame; never throws. */
  decode(text: string): DecodeResult {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { ok: false, reason: 'invalid-json', message: (err as Error).message };
    }
    if (this.#stream !== null) return this.#stream.decode(value);

    if (!isRecord(value)) {
      return { ok: false, reason: 'invalid-frame', message: 'frame is not a JSON object' };
    }
    if (value['event'] === 'connected') return { ok: true, events: [] };
    if (value['event'] !== 'start') {
      return { ok: false, reason: 'before-start', message: 'frame arrived before start' };
    }

    const provider = this.#pinned ?? detectProvider(value);
    if (provider === null) {
      return {
        ok: false,
        reason: 'invalid-frame',
        message: 'start frame matches no provider: expected Twilio, Exotel, Plivo or Telnyx fields',
      };
    }
    const opened = ADAPTERS[provider].openStream(value);
    if (!opened.ok) return opened;
    this.#stream = opened.stream;
    return { ok: true, events: [{ type: 'start', start: opened.stream.start }] };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
