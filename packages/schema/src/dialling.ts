/**
 * Messages between voxdialler, voxcore-worker and a carrier: the attach request, the
 * carrier's place-call request and its status callbacks.
 */
import { z } from 'zod';

/** A phone number in E.164 form, such as +919800000001. */
export const PhoneNumber = z
  .string()
  .regex(/^\+[1-9][0-9]{6,14}$/, 'must be an E.164 number such as +919800000001');

/**
 * Caller behaviour that the sim carrier plays for a contact. Real carriers ignore it.
 * - `speak`: answers, listens to the greeting and says a short phrase.
 * - `press-1`, `press-2`: answers and presses that digit after the greeting.
 * - `silent`: answers and never says anything.
 * - `hangup-early`: answers and hangs up in the middle of the greeting.
 * - `busy`, `no-answer`, `failed`: the call is never answered.
 */
export const SimScenario = z.enum([
  'speak',
  'press-1',
  'press-2',
  'silent',
  'hangup-early',
  'busy',
  'no-answer',
  'failed',
]);
export type SimScenario = z.infer<typeof SimScenario>;

/**
 * Route to the media of an attached call: the worker's WebSocket, which the carrier opens
 * (`websocket`, the default), or a LiveKit room in which the call is a participant.
 */
export const AttachMedia = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('websocket') }).strict(),
  z.object({ kind: z.literal('livekit'), room: z.string().min(1).max(128) }).strict(),
]);
export type AttachMedia = z.infer<typeof AttachMedia>;

/** Body of `POST /attach` on a worker, sent by the dialler after it reserved the slot. */
export const AttachRequest = z
  .object({
    reservationToken: z.string().min(1).max(256),
    callId: z.string().min(1).max(128),
    botId: z.string().min(1).max(128),
    tenantId: z.string().min(1).max(128),
    campaignId: z.string().min(1).max(128).nullable(),
    contactId: z.string().min(1).max(128).nullable(),
    to: PhoneNumber,
    /** How long the worker waits for the media stream before it gives the slot back. */
    streamTimeoutMs: z.number().int().min(1_000).max(300_000).default(60_000),
    /** When the dialler reserved the slot; feeds the reserve-to-attach setup metric. */
    reservedAt: z.iso.datetime().optional(),
    /** How to reach the call's media; absent means the carrier opens the WebSocket. */
    media: AttachMedia.optional(),
  })
  .strict();
export type AttachRequest = z.infer<typeof AttachRequest>;
export type AttachRequestInput = z.input<typeof AttachRequest>;

export const AttachResponse = z.object({
  workerId: z.string(),
  callId: z.string(),
  /** WebSocket URL the carrier must open; it carries the call id and reservation token. */
  streamUrl: z.string(),
});
export type AttachResponse = z.infer<typeof AttachResponse>;

/** Body of `POST /attach/{callId}/cancel`: the call was never answered. */
export const AttachCancelRequest = z
  .object({
    reservationToken: z.string().min(1).max(256),
    reason: z.string().min(1).max(64),
  })
  .strict();
export type AttachCancelRequest = z.infer<typeof AttachCancelRequest>;

/** Body of a carrier's place-call request (`POST /v1/calls` on the sim carrier). */
export const PlaceCallRequest = z
  .object({
    callId: z.string().min(1).max(128),
    to: PhoneNumber,
    from: PhoneNumber.optional(),
    streamUrl: z.string().url(),
    statusCallbackUrl: z.string().url(),
    /** Sent to the worker in the stream's `start` message, as Twilio does. */
    customParameters: z.record(z.string(), z.string()).default({}),
    scenario: SimScenario.optional(),
    /** Media-stream protocol the carrier speaks to the worker; the sim carrier defaults to twilio. */
    provider: z.enum(['twilio', 'exotel', 'plivo', 'telnyx']).optional(),
    /** How long the phone rings before the carrier gives up with `no-answer`. */
    ringTimeoutMs: z.number().int().min(1_000).max(120_000).default(30_000),
  })
  .strict();
export type PlaceCallRequest = z.infer<typeof PlaceCallRequest>;
export type PlaceCallRequestInput = z.input<typeof PlaceCallRequest>;

export const CarrierCallStatus = z.enum([
  'ringing',
  'answered',
  'completed',
  'busy',
  'no-answer',
  'failed',
]);
export type CarrierCallStatus = z.infer<typeof CarrierCallStatus>;

/** A carrier's status callback; one per state change, possibly repeated. */
export const CarrierStatusEvent = z
  .object({
    carrierCallId: z.string().min(1),
    callId: z.string().min(1),
    status: CarrierCallStatus,
    at: z.iso.datetime(),
    /** Talk time, on `completed`. */
    durationMs: z.number().int().min(0).optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();
export type CarrierStatusEvent = z.infer<typeof CarrierStatusEvent>;
