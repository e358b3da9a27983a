/**
 * Closes inbound calls that no worker result ended, such as a call whose carrier never
 * opened the media stream: the worker's stream timeout frees the slot but posts nothing.
 * The dialler's claims run the same sweep, but inbound lines must not depend on a dialler,
 * so voxbridge also runs it on its own timer.
 */
import type { Logger } from '@voxfleet/logger';

import type { BridgeStore } from '../store/types.js';

export interface InboundSweeperOptions {
  store: BridgeStore;
  logger: Logger;
  /** Silence after which a live inbound call is closed, on top of its bot's maximum duration. */
  staleMs: number;
  intervalMs: number;
  now: () => Date;
}

export class InboundSweeper {
  readonly #options: InboundSweeperOptions;
  #timer: NodeJS.Timeout | null = null;
  #sweeping: Promise<void> | null = null;
  #stopped = false;

  constructor(options: InboundSweeperOptions) {
    this.#options = options;
  }

  /** Starts the timer. Idempotent. */
  start(): void {
    if (this.#timer !== null || this.#stopped) return;
    this.#timer = setInterval(() => {
      this.#sweeping ??= this.sweep().finally(() => {
        this.#sweeping = null;
      });
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Stops the timer and waits for a sweep in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#sweeping;
  }

  /** Runs one sweep; a failure is logged, never raised. */
  async sweep(): Promise<void> {
    const { store, logger, staleMs, now } = this.#options;
    try {
      const closed = await store.closeAbandonedInboundCalls(now().toISOString(), staleMs);
      for (const call of closed) {
        logger.warn({ callId: call.callId, status: call.status }, 'abandoned inbound call closed');
      }
    } catch (err) {
      logger.warn({ err }, 'inbound call sweep failed');
    }
  }
}
