/**
 * The responses to recent carrier webhooks, by carrier call id. A carrier may retry a webhook
 * whose response it did not receive, and anyone who captured a request can send it again:
 * both must get the first response back, not a second worker slot and call record.
 */
import type { InboundResponse } from './markup.js';

export interface RepeatedWebhooksOptions {
  /** How long a response is kept for repeats of its webhook. */
  windowMs: number;
  /** Maximum number of responses kept. The oldest is dropped first. */
  maxEntries: number;
  now: () => number;
}

interface Entry {
  expiresAt: number;
  response: Promise<InboundResponse>;
}

export class RepeatedWebhooks {
  readonly #options: RepeatedWebhooksOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(options: RepeatedWebhooksOptions) {
    this.#options = options;
  }

  /**
   * Returns the response of the first webhook for `key` while it is kept, or runs `answer`
   * and keeps its response. Webhooks that arrive while `answer` runs wait for it. A failed
   * `answer` is not kept, so the carrier's retry runs again.
   */
  async respond(
    key: string,
    answer: () => Promise<InboundResponse>,
  ): Promise<{ response: InboundResponse; repeated: boolean }> {
    const now = this.#options.now();
    this.#dropExpired(now);
    const kept = this.#entries.get(key);
    if (kept !== undefined) return { response: await kept.response, repeated: true };

    const response = answer();
    const entry = { expiresAt: now + this.#options.windowMs, response };
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#options.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    try {
      return { response: await response, repeated: false };
    } catch (err) {
      if (this.#entries.get(key) === entry) this.#entries.delete(key);
      throw err;
    }
  }

  /** Entries are kept in insertion order with one window, so the expired ones lead. */
  #dropExpired(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now) return;
      this.#entries.delete(key);
    }
  }
}
