/** `POST /v1/tenants`: creates a tenant and its first API key; needs the admin key. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

import { adminKeyAuth } from '../http/auth.js';
import {
  ADMIN_SECURITY,
  CreateTenantBody,
  CreateTenantResponse,
  ErrorResponse,
} from '../http/schemas.js';
import { describeApiKey, generateApiKey } from '../keys.js';
import type { RouteDeps } from './deps.js';

export const tenantRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, deps) => {
  app.addHook('onRequest', adminKeyAuth(deps.adminKey));

  app.post(
    '/v1/tenants',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a tenant and its first API key (the key is returned once)',
        security: ADMIN_SECURITY,
        body: CreateTenantBody,
        response: {
          201: CreateTenantResponse,
          400: ErrorResponse,
          401: ErrorResponse,
          403: ErrorResponse,
          409: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const key = generateApiKey();
      const { tenant, apiKey } = await deps.store.createTenant(
        request.body.name,
        describeApiKey(key),
      );
      request.log.info({ tenantId: tenant.id }, 'tenant created');
      return reply
        .code(201)
        .send({ tenant, apiKey: { id: apiKey.id, key, prefix: apiKey.prefix } });
    },
  );
};
