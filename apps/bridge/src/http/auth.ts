/**
 * Request authentication hooks. Public routes take an API key (`Authorization: Bearer
 * <key>` or `x-api-key`), internal routes the internal token and the admin route the admin
 * key. The hooks run on `onRequest`, before any body is read.
 */
import type { FastifyRequest, onRequestHookHandler } from 'fastify';

import { BridgeError } from '../errors.js';
import { hashApiKey, secretsEqual } from '../keys.js';
import type { BridgeStore, Tenant } from '../store/types.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The tenant of the request's API key; set on public routes only. */
    tenant: Tenant | null;
  }
}

/** Returns the bearer token of the request, or undefined when none was sent. */
function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function apiKeyOf(request: FastifyRequest): string | undefined {
  const bearer = bearerToken(request);
  if (bearer !== undefined) return bearer;
  const header = request.headers['x-api-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return value === undefined || value === '' ? undefined : value.trim();
}

/** Resolves the tenant from the API key, or raises AUTH_MISSING_API_KEY / AUTH_INVALID_API_KEY. */
export function apiKeyAuth(store: BridgeStore): onRequestHookHandler {
  return async (request) => {
    const key = apiKeyOf(request);
    if (key === undefined) {
      throw new BridgeError(
        'AUTH_MISSING_API_KEY',
        'missing API key: send "Authorization: Bearer <key>" or "x-api-key: <key>"',
      );
    }
    const found = await store.findApiKey(hashApiKey(key));
    if (found === null) {
      throw new BridgeError('AUTH_INVALID_API_KEY', 'invalid API key');
    }
    request.tenant = found.tenant;
  };
}

/** Checks `Authorization: Bearer <BRIDGE_INTERNAL_TOKEN>` in constant time. */
export function internalTokenAuth(token: string): onRequestHookHandler {
  return async (request) => {
    const presented = bearerToken(request);
    if (presented === undefined) {
      throw new BridgeError(
        'AUTH_MISSING_INTERNAL_TOKEN',
        'missing internal token: send "Authorization: Bearer <BRIDGE_INTERNAL_TOKEN>"',
      );
    }
    if (!secretsEqual(presented, token)) {
      throw new BridgeError('AUTH_INVALID_INTERNAL_TOKEN', 'invalid internal token');
    }
  };
}

/** Checks the admin key; with no BRIDGE_ADMIN_KEY configured, admin routes are off. */
export function adminKeyAuth(adminKey: string | undefined): onRequestHookHandler {
  return async (request) => {
    if (adminKey === undefined) {
      throw new BridgeError(
        'AUTH_ADMIN_DISABLED',
        'admin routes are disabled: set BRIDGE_ADMIN_KEY to enable them',
      );
    }
    const presented = apiKeyOf(request);
    if (presented === undefined) {
      throw new BridgeError(
        'AUTH_MISSING_ADMIN_KEY',
        'missing admin key: send "Authorization: Bearer <BRIDGE_ADMIN_KEY>"',
      );
    }
    if (!secretsEqual(presented, adminKey)) {
      throw new BridgeError('AUTH_INVALID_ADMIN_KEY', 'invalid admin key');
    }
  };
}

/** Returns the authenticated tenant; only valid behind `apiKeyAuth`. */
export function tenantOf(request: FastifyRequest): Tenant {
  if (request.tenant === null) {
    throw new BridgeError('INTERNAL_ERROR', 'route is missing API key authentication');
  }
  return request.tenant;
}
