/**
 * Authenticated setup of inbound lines: rotate a bot's inbound key (its webhook URL), and
 * store the carrier secret used to verify webhook signatures. Secrets are write-only: the
 * API reports whether one is stored, never its value.
 */
import { randomBytes } from 'node:crypto';

import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { apiKeyAuth, tenantOf } from '../http/auth.js';
import { API_KEY_SECURITY, AUTH_ERRORS, BotResponse, IdParams } from '../http/schemas.js';
import { botView } from '../http/views.js';
import { publicBaseUrl } from '../inbound/public-url.js';
import type { RouteDeps } from './deps.js';

const CredentialStatus = z.object({
  provider: z.literal('twilio'),
  configured: z.boolean().describe('True while a secret is stored; the secret is never returned'),
});

const TwilioCredentialBody = z.object({
  /** The account's auth token, which keys `X-Twilio-Signature`. */
  authToken: z.string().min(8).max(256),
});

/** Generates an inbound key: `vik_` and 24 random bytes in base64url (192 bits). */
export function generateInboundKey(): string {
  return `vik_${randomBytes(24).toString('base64url')}`;
}

export const inboundKeyRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, deps) => {
  app.addHook('onRequest', apiKeyAuth(deps.store));

  app.post(
    '/v1/bots/:id/inbound-key',
    {
      schema: {
        tags: ['inbound'],
        summary: "Create or rotate the bot's inbound key; the old webhook URL stops working",
        description:
          'The bot detail then shows `inboundUrl`, one webhook URL per carrier, to set as ' +
          "the voice URL of the bot's number at the carrier.",
        security: API_KEY_SECURITY,
        params: IdParams,
        response: { 200: BotResponse, ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const bot = await deps.store.rotateInboundKey(
        tenant.id,
        request.params.id,
        generateInboundKey(),
        deps.now().toISOString(),
      );
      request.log.info({ tenantId: tenant.id, botId: bot.id }, 'inbound key rotated');
      return botView(bot, publicBaseUrl(request, deps.publicUrl));
    },
  );

  app.get(
    '/v1/carrier-credentials',
    {
      schema: {
        tags: ['inbound'],
        summary: 'List which carrier webhook secrets the tenant stored',
        security: API_KEY_SECURITY,
        response: { 200: z.object({ items: z.array(CredentialStatus) }), ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const secret = await deps.store.getCarrierCredential(tenantOf(request).id, 'twilio');
      return { items: [{ provider: 'twilio' as const, configured: secret !== null }] };
    },
  );

  app.put(
    '/v1/carrier-credentials/twilio',
    {
      schema: {
        tags: ['inbound'],
        summary: 'Store the Twilio auth token; inbound Twilio webhooks must then be signed with it',
        security: API_KEY_SECURITY,
        body: TwilioCredentialBody,
        response: { 200: CredentialStatus, ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      await deps.store.setCarrierCredential(
        tenant.id,
        'twilio',
        request.body.authToken,
        deps.now().toISOString(),
      );
      request.log.info({ tenantId: tenant.id, provider: 'twilio' }, 'carrier credential stored');
      return { provider: 'twilio' as const, configured: true };
    },
  );

  app.delete(
    '/v1/carrier-credentials/twilio',
    {
      schema: {
        tags: ['inbound'],
        summary: 'Remove the Twilio auth token; webhook signatures are then not checked',
        security: API_KEY_SECURITY,
        response: { 200: CredentialStatus, ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      await deps.store.setCarrierCredential(tenant.id, 'twilio', null, deps.now().toISOString());
      request.log.info({ tenantId: tenant.id, provider: 'twilio' }, 'carrier credential removed');
      return { provider: 'twilio' as const, configured: false };
    },
  );
};
