/**
 * Closes the call record of a worker that died mid-call. The registry reports the worker
 * `expired` with the call it held once its TTL passes without a heartbeat; an answered
 * call still `in-progress` then ends as `failed` with reason `worker-lost`. A result the
 * worker spooled before it died is still accepted if it arrives later.
 */
import type { Logger } from '@voxfleet/logger';
import type { SlotEvent } from '@voxfleet/registry';
import type { BridgeStore } from '../store/types.js';

export function closeLostCalls(
  store: BridgeStore,
  logger: Logger,
): (events: SlotEvent[]) => Promise<void> {
  return async (events) => {
    for (const event of events) {
      if (event.type !== 'expired' || event.callId === undefined) continue;
      const call = await store.getCallById(event.callId);
      // Calls not yet answered end through the dialler, which hears from the carrier.
      if (call === null || call.status !== 'in-progress') continue;
      await store.applyCallStatus(event.callId, {
        status: 'failed',
        at: new Date(event.at).toISOString(),
        reason: 'worker-lost',
        workerId: event.workerId,
      });
      logger.warn(
        { callId: event.callId, workerId: event.workerId },
        'call closed: its worker stopped heartbeating',
      );
    }
  };
}
