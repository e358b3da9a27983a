/** Picks the sim carrier's stream protocol for a call's `provider`. */
import { createExotelProtocol } from './exotel.js';
import { createPlivoProtocol } from './plivo.js';
import { createTelnyxProtocol } from './telnyx.js';
import { createTwilioProtocol } from './twilio.js';
import type { CarrierStreamProtocol, StreamProtocolContext, StreamProvider } from './types.js';

export type { CarrierStreamProtocol, StreamProtocolContext, StreamProvider } from './types.js';

export function createStreamProtocol(
  provider: StreamProvider,
  context: StreamProtocolContext,
): CarrierStreamProtocol {
  switch (provider) {
    case 'twilio':
      return createTwilioProtocol(context);
    case 'exotel':
      return createExotelProtocol(context);
    case 'plivo':
      return createPlivoProtocol(context);
    case 'telnyx':
      return createTelnyxProtocol(context);
  }
}
