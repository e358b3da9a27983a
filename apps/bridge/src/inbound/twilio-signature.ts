/**
 * Twilio webhook signatures. `X-Twilio-Signature` is the base64 HMAC-SHA1, keyed with the
 * account's auth token, of the full URL Twilio requested followed by every POST parameter
 * as name then value, sorted by name. Source: twilio.com/docs/usage/webhooks/webhooks-security.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function computeTwilioSignature(
  authToken: string,
  url: string,
  params: Record<string, string>,
): string {
  const hmac = createHmac('sha1', authToken).update(url, 'utf8');
  for (const name of Object.keys(params).sort()) {
    hmac.update(name, 'utf8').update(params[name] ?? '', 'utf8');
  }
  return hmac.digest('base64');
}

/** True when `signature` matches any of `urls` with `params`; compares in constant time. */
export function isValidTwilioSignature(
  authToken: string,
  signature: string,
  urls: readonly string[],
  params: Record<string, string>,
): boolean {
  const received = Buffer.from(signature, 'utf8');
  let valid = false;
  for (const url of urls) {
    const expected = Buffer.from(computeTwilioSignature(authToken, url, params), 'utf8');
    if (received.length === expected.length && timingSafeEqual(received, expected)) valid = true;
  }
  return valid;
}
