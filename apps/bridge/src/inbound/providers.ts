/**
 * The carriers that can ring a bot's number, and the webhook fields each one sends when a
 * call arrives. Every carrier here posts (or, for Exotel, gets) form fields; the names are
 * taken from these pages:
 * - Twilio: twilio.com/docs/usage/webhooks/voice-webhooks (`CallSid`, `From`, `To`).
 * - Telnyx TeXML: developers.telnyx.com/api-reference/callbacks/texml-call-initiated
 *   (`CallSid`, `From`, `To`, form-encoded, Twilio-compatible names).
 * - Plivo: `CallUUID`, `From`, `To` on the answer URL request; Plivo sends numbers without
 *   the leading `+`.
 * - Exotel: support.exotel.com "Working with Connect Applet (Dynamic URL)" lists the GET
 *   query parameters `CallSid`, `CallFrom` and `CallTo`.
 */
import { PhoneNumber } from '@voxfleet/schema';

import { BridgeError } from '../errors.js';

export const INBOUND_PROVIDERS = ['twilio', 'plivo', 'telnyx', 'exotel'] as const;
export type InboundProvider = (typeof INBOUND_PROVIDERS)[number];

/** A carrier's webhook reduced to what voxbridge needs. */
export interface InboundCallRequest {
  carrierCallId: string;
  /** The caller; any text the carrier sent, such as `anonymous` or a SIP URI. */
  from: string;
  /** The number dialled, in E.164 form. */
  to: string;
}

interface FieldNames {
  callId: string;
  from: string;
  to: string;
}

const FIELD_NAMES: Record<InboundProvider, FieldNames> = {
  twilio: { callId: 'CallSid', from: 'From', to: 'To' },
  telnyx: { callId: 'CallSid', from: 'From', to: 'To' },
  // NOTE: Plivo's names come from its answer URL documentation as remembered, not from a
  // page opened while writing this; check them against a real Plivo request.
  plivo: { callId: 'CallUUID', from: 'From', to: 'To' },
  exotel: { callId: 'CallSid', from: 'CallFrom', to: 'CallTo' },
};

const MAX_FIELD_LENGTH = 256;

/**
 * Reads the carrier call id, caller and dialled number from the webhook's fields. Raises
 * INBOUND_INVALID_REQUEST naming every missing or invalid field.
 */
export function parseInboundFields(
  provider: InboundProvider,
  fields: Record<string, string>,
): InboundCallRequest {
  const names = FIELD_NAMES[provider];
  const problems: Array<{ path: string; message: string }> = [];
  const read = (name: string): string => {
    const value = fields[name]?.trim() ?? '';
    if (value === '') problems.push({ path: name, message: 'is required' });
    else if (value.length > MAX_FIELD_LENGTH) {
      problems.push({ path: name, message: `must be at most ${MAX_FIELD_LENGTH} characters` });
    }
    return value;
  };

  const carrierCallId = read(names.callId);
  const from = normaliseNumber(read(names.from));
  const rawTo = read(names.to);
  const to = normaliseNumber(rawTo);
  if (rawTo !== '' && !PhoneNumber.safeParse(to).success) {
    problems.push({
      path: names.to,
      message: `must be the dialled number in E.164 form such as +14155550100, not "${rawTo.slice(0, 64)}"`,
    });
  }
  if (problems.length > 0) {
    const summary = problems.map((problem) => `${problem.path} ${problem.message}`).join('; ');
    throw new BridgeError('INBOUND_INVALID_REQUEST', `invalid ${provider} webhook: ${summary}`, {
      details: problems,
    });
  }
  return { carrierCallId, from, to };
}

/**
 * Adds the `+` that Plivo leaves off, to a number of 7 to 15 digits with no trunk prefix.
 * Anything else, such as `anonymous`, a SIP URI or a national number, is returned as sent.
 */
export function normaliseNumber(value: string): string {
  const compact = value.replace(/[\s()-]/g, '');
  if (/^[1-9][0-9]{6,14}$/.test(compact)) return `+${compact}`;
  if (/^\+[1-9][0-9]{6,14}$/.test(compact)) return compact;
  return value;
}
