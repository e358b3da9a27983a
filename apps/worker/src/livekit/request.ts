/** Body and response of `POST /livekit/dialout`. */
import { PhoneNumber } from '@voxfleet/schema';
import { z } from 'zod';

export const LiveKitDialoutRequest = z
  .object({
    reservationToken: z.string().min(1).max(256),
    callId: z.string().min(1).max(128),
    botId: z.string().min(1).max(128),
    tenantId: z.string().min(1).max(128),
    campaignId: z.string().min(1).max(128).nullable(),
    contactId: z.string().min(1).max(128).nullable(),
    /** The contact's number, dialled on the outbound trunk. */
    to: PhoneNumber,
    /** Caller id; the trunk's number when absent. */
    from: PhoneNumber.optional(),
    /** How long the worker waits for the room's media before it gives the slot back. */
    streamTimeoutMs: z.number().int().min(1_000).max(300_000).default(60_000),
    reservedAt: z.iso.datetime().optional(),
    /** Maximum ringing time before LiveKit gives up on the call. */
    ringingTimeoutMs: z.number().int().min(1_000).max(120_000).default(30_000),
  })
  .strict();
export type LiveKitDialoutRequest = z.infer<typeof LiveKitDialoutRequest>;

export interface LiveKitDialoutResponse {
  workerId: string;
  callId: string;
  room: string;
  sipParticipantIdentity: string;
  /** LiveKit's id of the SIP call (`SCL_...`). */
  sipCallId: string;
}

/** LiveKit room of a call: one room per call, named after the call id. */
export function roomNameForCall(callId: string): string {
  return `voxfleet-${callId}`;
}

/** Identity of the SIP participant that dials the contact. */
export function sipIdentityForCall(callId: string): string {
  return `sip-${callId}`;
}
