import type { SlotState, SlotView } from './types.js';

/** Backend-neutral form of a stored worker, the input of `toSlotView`. */
export interface StoredWorker {
  workerId: string;
  url: string;
  host: string;
  pool: string;
  labels: Record<string, string>;
  expiresAt: number;
  draining: boolean;
  reservation: {
    token: string;
    fence: number;
    callId: string;
    tenantId: string | null;
    campaignId: string | null;
    deadline: number;
    confirmed: boolean;
  } | null;
}

/** True while the reservation holds the slot: confirmed, or unconfirmed before its deadline. */
export function isHolding(reservation: StoredWorker['reservation'], now: number): boolean {
  if (reservation === null) return false;
  return reservation.confirmed || reservation.deadline > now;
}

export function toSlotView(worker: StoredWorker, now: number): SlotView {
  const holding = isHolding(worker.reservation, now) ? worker.reservation : null;
  let state: SlotState = 'idle';
  if (holding !== null) state = holding.confirmed ? 'busy' : 'reserved';
  else if (worker.draining) state = 'draining';

  return {
    workerId: worker.workerId,
    url: worker.url,
    host: worker.host,
    pool: worker.pool,
    labels: worker.labels,
    state,
    draining: worker.draining,
    reservation:
      holding === null
        ? null
        : {
            callId: holding.callId,
            fence: holding.fence,
            deadline: holding.deadline,
            confirmed: holding.confirmed,
            ...(holding.tenantId === null ? {} : { tenantId: holding.tenantId }),
            ...(holding.campaignId === null ? {} : { campaignId: holding.campaignId }),
          },
    expiresAt: worker.expiresAt,
  };
}
