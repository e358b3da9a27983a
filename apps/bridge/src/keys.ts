/**
 * API keys and shared secrets. The store keeps only a key's SHA-256 hash and a short
 * display prefix; secrets are compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

import type { NewApiKey } from './store/types.js';

const KEY_PREFIX = 'vfk_';
/** Characters of a key kept for display, such as `vfk_3Fq9`. */
const DISPLAY_PREFIX_LENGTH = 8;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Returns the hash and display prefix of a key, the only parts the store keeps. */
export function describeApiKey(key: string): NewApiKey {
  return { hash: hashApiKey(key), prefix: key.slice(0, DISPLAY_PREFIX_LENGTH) };
}

/** Generates a new API key: `vfk_` and 32 random bytes in base64url. */
export function generateApiKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/**
 * Compares two secrets in constant time. Hashing both first gives equal lengths, so the
 * comparison leaks neither the content nor the length of the expected secret.
 */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
