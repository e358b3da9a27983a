/**
 * Body of `POST /v1/inbound-calls`: the sim carrier receives a call on one of its numbers,
 * requests instructions from `webhookUrl` as `provider` would, and plays `scenario` as the
 * caller.
 */
import { PhoneNumber, SimScenario } from '@voxfleet/schema';
import { z } from 'zod';
import { CarrierSimError } from './errors.js';

export const InboundCallRequest = z
  .object({
    /** The app's voice URL for the number, such as voxbridge's `inboundUrl`. */
    webhookUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    /** The caller's number; carriers also send values such as `anonymous`. */
    from: z.string().min(1).max(64),
    /** The number dialled: the app's number at the carrier. */
    to: PhoneNumber,
    provider: z.enum(['twilio', 'exotel', 'plivo', 'telnyx']).default('twilio'),
    /** What the caller does once connected; only scenarios that answer make sense here. */
    scenario: SimScenario.refine((value) => !['busy', 'no-answer', 'failed'].includes(value), {
      message:
        'must be a scenario in which the caller talks: speak, press-1, press-2, silent or hangup-early',
    }).default('speak'),
    /** When set, a Twilio webhook carries `X-Twilio-Signature` keyed with this auth token. */
    twilioAuthToken: z.string().min(1).max(256).optional(),
  })
  .strict();
export type InboundCallRequest = z.infer<typeof InboundCallRequest>;

/** Result of `POST /v1/inbound-calls`, returned once the webhook has responded. */
export interface InboundCallResult {
  carrierCallId: string;
  /** The app's call id from the response (custom parameter or stream URL), or the carrier call id. */
  callId: string;
  /** `stream` when the response connected the call, `hangup` when it hung up. */
  action: 'stream' | 'hangup';
}

export function parseInboundCallRequest(body: unknown): InboundCallRequest {
  const parsed = InboundCallRequest.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map(
    (issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`,
  );
  throw new CarrierSimError(
    'CARRIER_SIM_INVALID_REQUEST',
    `invalid inbound-call request: ${issues.join('; ')}`,
    { issues },
  );
}
