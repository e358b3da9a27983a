/** Campaign routes: create, list, read with progress, import contacts, start and pause. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { parseContactsCsv } from '../contacts-csv.js';
import type { CsvRowError } from '../contacts-csv.js';
import { campaignNotFound } from '../errors.js';
import { apiKeyAuth, tenantOf } from '../http/auth.js';
import {
  API_KEY_SECURITY,
  AUTH_ERRORS,
  CampaignDetailResponse,
  CampaignResponse,
  ContactResponse,
  CreateCampaignBody,
  ErrorResponse,
  IdParams,
  ImportContactsResponse,
  ListContactsQuery,
  pageOf,
} from '../http/schemas.js';
import { campaignDetailView, campaignView, contactView } from '../http/views.js';
import type { RouteDeps } from './deps.js';

/** Largest contacts CSV accepted in one request. */
const MAX_CSV_BYTES = 20 * 1024 * 1024;

export const campaignRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, deps) => {
  app.addHook('onRequest', apiKeyAuth(deps.store));
  app.addContentTypeParser(
    'text/csv',
    { parseAs: 'string', bodyLimit: MAX_CSV_BYTES },
    (_request, body, done) => {
      done(null, body);
    },
  );

  app.post(
    '/v1/campaigns',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'Create a campaign in the draft state',
        security: API_KEY_SECURITY,
        body: CreateCampaignBody,
        response: { 201: CampaignResponse, ...AUTH_ERRORS },
      },
    },
    async (request, reply) => {
      const tenant = tenantOf(request);
      const campaign = await deps.store.createCampaign(tenant.id, request.body);
      request.log.info({ tenantId: tenant.id, campaignId: campaign.id }, 'campaign created');
      return reply.code(201).send(campaignView(campaign));
    },
  );

  app.get(
    '/v1/campaigns',
    {
      schema: {
        tags: ['campaigns'],
        summary: "List the tenant's campaigns",
        security: API_KEY_SECURITY,
        response: { 200: z.object({ items: z.array(CampaignResponse) }), ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const campaigns = await deps.store.listCampaigns(tenantOf(request).id);
      return { items: campaigns.map(campaignView) };
    },
  );

  app.get(
    '/v1/campaigns/:id',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'Read a campaign with its progress counts',
        security: API_KEY_SECURITY,
        params: IdParams,
        response: { 200: CampaignDetailResponse, ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const campaign = await deps.store.getCampaign(tenantOf(request).id, request.params.id);
      if (campaign === null) throw campaignNotFound(request.params.id);
      const progress = await deps.store.getCampaignProgress(campaign.id);
      return campaignDetailView(campaign, progress);
    },
  );

  app.post(
    '/v1/campaigns/:id/contacts',
    {
      bodyLimit: MAX_CSV_BYTES,
      schema: {
        tags: ['campaigns'],
        summary: 'Import contacts from a CSV with a header row; bad rows are reported by line',
        description:
          'Columns: `phone` (E.164, required), `name`, `scenario` (sim carrier only); any ' +
          'other column becomes a contact variable. A phone already in the campaign is a row error.',
        security: API_KEY_SECURITY,
        consumes: ['text/csv'],
        params: IdParams,
        body: z.string().optional(),
        response: {
          200: ImportContactsResponse,
          ...AUTH_ERRORS,
          409: ErrorResponse,
          415: ErrorResponse,
        },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const campaignId = request.params.id;
      // The campaign check comes first so another tenant's id is a 404 even for a bad file.
      const campaign = await deps.store.getCampaign(tenant.id, campaignId);
      if (campaign === null) throw campaignNotFound(campaignId);

      const parsed = parseContactsCsv(request.body ?? '');
      const now = deps.now().toISOString();
      const contacts = parsed.contacts.map((entry) => entry.contact);
      const stored = await deps.store.importContacts(tenant.id, campaignId, contacts, now);

      const rejected: CsvRowError[] = [...parsed.rejected];
      for (const index of stored.duplicateIndexes) {
        const entry = parsed.contacts[index];
        if (entry === undefined) continue;
        rejected.push({
          line: entry.line,
          errors: [`phone: ${entry.contact.phone} is already in this campaign`],
        });
      }
      rejected.sort((a, b) => a.line - b.line);
      request.log.info(
        { tenantId: tenant.id, campaignId, imported: stored.imported, rejected: rejected.length },
        'contacts imported',
      );
      return { imported: stored.imported, rejected };
    },
  );

  app.get(
    '/v1/campaigns/:id/contacts',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'List contacts and their states, in import order',
        security: API_KEY_SECURITY,
        params: IdParams,
        querystring: ListContactsQuery,
        response: { 200: pageOf(ContactResponse), ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const page = await deps.store.listContacts(
        tenantOf(request).id,
        request.params.id,
        request.query,
      );
      return { items: page.items.map(contactView), nextCursor: page.nextCursor };
    },
  );

  app.post(
    '/v1/campaigns/:id/start',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'Start or resume a campaign (draft or paused to running)',
        security: API_KEY_SECURITY,
        params: IdParams,
        response: { 200: CampaignResponse, ...AUTH_ERRORS, 409: ErrorResponse },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const now = deps.now().toISOString();
      const campaign = await deps.store.startCampaign(tenant.id, request.params.id, now);
      request.log.info({ tenantId: tenant.id, campaignId: campaign.id }, 'campaign started');
      return campaignView(campaign);
    },
  );

  app.post(
    '/v1/campaigns/:id/pause',
    {
      schema: {
        tags: ['campaigns'],
        summary: 'Pause a running campaign; calls in progress finish',
        security: API_KEY_SECURITY,
        params: IdParams,
        response: { 200: CampaignResponse, ...AUTH_ERRORS, 409: ErrorResponse },
      },
    },
    async (request) => {
      const tenant = tenantOf(request);
      const now = deps.now().toISOString();
      const campaign = await deps.store.pauseCampaign(tenant.id, request.params.id, now);
      request.log.info({ tenantId: tenant.id, campaignId: campaign.id }, 'campaign paused');
      return campaignView(campaign);
    },
  );
};
