/**
 * Twilio request signatures: `X-Twilio-Signature` is the base64 HMAC-SHA1 of the full URL
 * Twilio requested (with its query string; a WebSocket upgrade has no POST parameters to
 * append), keyed with the account's auth token. Source:
 * twilio.com/docs/usage/security#validating-requests.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function computeTwilioSignature(authToken: string, url: string): string {
  return createHmac('sha1', authToken).update(url, 'utf8').digest('base64');
}

/** True when `signature` matches `url` under `authToken`; compares in constant time. */
export function isValidTwilioSignature(authToken: string, signature: string, url: string): boolean {
  const expected = Buffer.from(computeTwilioSignature(authToken, url), 'utf8');
  const received = Buffer.from(signature, 'utf8');
  return received.length === expected.length && timingSafeEqual(received, expected);
}
