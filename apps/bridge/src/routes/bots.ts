/** Bot routes: create, list, read and replace a tenant's bots. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { botNotFound } from '../errors.js';
import { apiKeyAuth, tenantOf } from '../http/auth.js';
import { API_KEY_SECURITY, AUTH_ERRORS, BotBody, BotResponse, IdParams } from '../http/schemas.js';
import { botView } from '../http/views.js';
import { publicBaseUrl } from '../inbound/public-url.js';
import type { RouteDeps } from './deps.js';

export const botRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, deps) => {
  app.addHook('onRequest', apiKeyAuth(deps.store));

  app.post(
    '/v1/bots',
    {
      schema: {
        tags: ['bots'],
        summary: 'Create a bot from a flow config',
        security: API_KEY_SECURITY,
        body: BotBody,
        response: { 201: BotResponse, ...AUTH_ERRORS },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const bot = await deps.store.createBot(tenant.id, request.body);
      request.log.info({ tenantId: tenant.id, botId: bot.id }, 'bot created');
      return reply.code(201).send(botView(bot, publicBaseUrl(request, deps.publicUrl)));
    },
  );

  app.get(
    '/v1/bots',
    {
      schema: {
        tags: ['bots'],
        summary: "List the tenant's bots",
        security: API_KEY_SECURITY,
        response: { 200: z.object({ items: z.array(BotResponse) }), ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const bots = await deps.store.listBots(tenantOf(request).id);
      const baseUrl = publicBaseUrl(request, deps.publicUrl);
      return { items: bots.map((bot) => botView(bot, baseUrl)) };
    },
  );

  app.get(
    '/v1/bots/:id',
    {
      schema: {
        tags: ['bots'],
        summary: 'Read one bot',
        security: API_KEY_SECURITY,
        params: IdParams,
        response: { 200: BotResponse, ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const bot = await deps.store.getBot(tenantOf(request).id, request.params.id);
      if (bot === null) throw botNotFound(request.params.id);
      return botView(bot, publicBaseUrl(request, deps.publicUrl));
    },
  );

  app.put(
    '/v1/bots/:id',
    {
      schema: {
        tags: ['bots'],
        summary: "Replace a bot's name and config; the revision grows by one",
        security: API_KEY_SECURITY,
        params: IdParams,
        body: BotBody,
        response: { 200: BotResponse, ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const bot = await deps.store.updateBot(tenant.id, request.params.id, request.body);
      request.log.info(
        { tenantId: tenant.id, botId: bot.id, revision: bot.revision },
        'bot updated',
      );
      return botView(bot, publicBaseUrl(request, deps.publicUrl));
    },
  );
};
