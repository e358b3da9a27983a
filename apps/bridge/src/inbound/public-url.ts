/** The base URL at which carriers reach voxbridge, for webhook URLs and signatures. */
import type { FastifyRequest } from 'fastify';

/**
 * Returns `configured` (BRIDGE_PUBLIC_URL) without a trailing slash, or the scheme and
 * host of the request when none is configured.
 */
export function publicBaseUrl(request: FastifyRequest, configured: string | undefined): string {
  if (configured !== undefined) return configured.replace(/\/+$/, '');
  return `${request.protocol}://${request.host}`;
}
