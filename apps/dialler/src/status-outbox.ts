/**
 * Delivers status reports and requeues to voxbridge in order per call. Each delivery
 * retries (inside `BridgeClient`) until voxbridge accepts it, so reports made while the
 * bridge is down arrive once it is back.
 */
import type { Logger } from '@voxfleet/logger';

export class StatusOutbox {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(private readonly log: Logger) {}

  /** Number of calls with deliveries not yet finished. */
  get pendingCalls(): number {
    return this.chains.size;
  }

  /** Queues `deliver` after the earlier deliveries for the same call. Never rejects. */
  enqueue(callId: string, description: string, deliver: () => Promise<void>): void {
    const previous = this.chains.get(callId) ?? Promise.resolve();
    const next = previous.then(async () => {
      try {
        await deliver();
      } catch (err) {
        this.log.error({ err, callId, delivery: description }, 'bridge delivery failed');
      }
    });
    this.chains.set(callId, next);
    void next.then(() => {
      if (this.chains.get(callId) === next) this.chains.delete(callId);
    });
  }

  /** Resolves once every queued delivery has finished or failed. */
  async flush(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }
}
