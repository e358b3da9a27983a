/** The lifecycle timeline of one call, as it goes into `CallResult.timeline`. */
import type { TimelineEvent } from '@voxfleet/schema';

/** `CallResult.timeline` contains at most 1000 events, and the last few stay free for `ended`. */
const MAX_EVENTS = 1000;
const RESERVED_FOR_END = 8;

/** Events recorded once per call even when reported again (by the engine and the transport). */
const ONCE_EVENTS = new Set([
  'attached',
  'stream-connected',
  'stream-started',
  'config-loaded',
  'first-inbound-media',
  'first-bot-audio',
  'ended',
]);

type Detail = Record<string, string | number | boolean>;

export class Timeline {
  readonly #events: TimelineEvent[] = [];
  readonly #seen = new Set<string>();
  #dropped = 0;

  /** Appends an event. Returns false for a repeated once-only event or one over the limit. */
  add(event: string, detail?: Detail, at: Date = new Date()): boolean {
    if (ONCE_EVENTS.has(event) && this.#seen.has(event)) return false;
    const limit = event === 'ended' ? MAX_EVENTS - 1 : MAX_EVENTS - RESERVED_FOR_END;
    if (this.#events.length >= limit) {
      this.#dropped++;
      return false;
    }
    this.#seen.add(event);
    const entry: TimelineEvent = { event: event.slice(0, 64), at: at.toISOString() };
    if (detail !== undefined) entry.detail = detail;
    this.#events.push(entry);
    return true;
  }

  has(event: string): boolean {
    return this.#seen.has(event);
  }

  /** Copies the events recorded so far. */
  toArray(): TimelineEvent[] {
    return [...this.#events];
  }

  get droppedCount(): number {
    return this.#dropped;
  }
}
