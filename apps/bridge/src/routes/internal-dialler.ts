/**
 * Internal routes for voxdialler: claim due attempts, list live calls for a restarted
 * dialler to adopt, report call status with the contact decision, and hand back attempts
 * that were never placed.
 */
import { CallStatus, SimScenario } from '@voxfleet/schema';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

import { callNotFound } from '../errors.js';
import { internalTokenAuth } from '../http/auth.js';
import {
  CallIdParams,
  CallStatusBody,
  CallStatusResponse,
  ClaimBody,
  ClaimResponse,
  ErrorResponse,
  INTERNAL_SECURITY,
  RequeueResponse,
} from '../http/schemas.js';
import { callSummaryView, contactView } from '../http/views.js';
import type { AbandonedCall, ContactDecision } from '../store/types.js';
import type { RouteDeps } from './deps.js';

const ERRORS = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse } as const;

export interface InternalDiallerRouteOptions extends RouteDeps {
  /** Age after which the claim closes a silent live call as abandoned; the store's default when undefined. */
  attemptStaleMs: number | undefined;
}

const OpenCallsQuery = z.object({
  callId: z.string().min(1).max(128).optional(),
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
});

const OpenCallsResponse = z.object({
  calls: z.array(
    z.object({
      callId: z.string(),
      attempt: z.number().int(),
      tenantId: z.string(),
      botId: z.string(),
      campaignId: z.string(),
      contactId: z.string(),
      to: z.string(),
      scenario: SimScenario.nullable(),
      variables: z.record(z.string(), z.string()),
      campaign: z.object({
        maxAttempts: z.number().int(),
        retryBackoffMs: z.number().int(),
        callerId: z.string().nullable(),
      }),
      status: CallStatus,
      carrierCallId: z.string().nullable(),
      workerId: z.string().nullable(),
      createdAt: z.string(),
      updatedAt: z.string(),
    }),
  ),
});

export const internalDiallerRoutes: FastifyPluginAsyncZod<InternalDiallerRouteOptions> = async (
  app,
  deps,
) => {
  app.addHook('onRequest', internalTokenAuth(deps.internalToken));

  app.post(
    '/internal/dialler/claim',
    {
      schema: {
        tags: ['internal'],
        summary: 'Claim due call attempts of running campaigns within their concurrency',
        security: INTERNAL_SECURITY,
        body: ClaimBody,
        response: { 200: ClaimResponse, ...ERRORS },
      },
    },
    async (request) => {
      const onAbandoned = (calls: AbandonedCall[]): void => {
        for (const call of calls) request.log.warn(call, 'abandoned call attempt closed');
      };
      const attempts = await deps.store.claimAttempts(
        request.body.limit,
        deps.now().toISOString(),
        { attemptStaleMs: deps.attemptStaleMs, onAbandoned },
      );
      deps.metrics.claimedAttempts.inc(attempts.length);
      if (attempts.length > 0) request.log.debug({ claimed: attempts.length }, 'attempts claimed');
      return { attempts };
    },
  );

  app.get(
    '/internal/dialler/open-calls',
    {
      schema: {
        tags: ['internal'],
        summary:
          'List live campaign calls (queued, dialling, ringing, in-progress), oldest update first',
        description:
          'A restarted dialler adopts these calls so that later carrier events still apply. ' +
          'With `callId`, the list contains that call only while it is live.',
        security: INTERNAL_SECURITY,
        querystring: OpenCallsQuery,
        response: { 200: OpenCallsResponse, ...ERRORS },
      },
    },
    async (request) => {
      const calls = await deps.store.listOpenCalls({
        callId: request.query.callId,
        limit: request.query.limit,
      });
      return { calls };
    },
  );

  app.post(
    '/internal/calls/:callId/status',
    {
      schema: {
        tags: ['internal'],
        summary: 'Apply a call status; with a final status, also the contact decision',
        security: INTERNAL_SECURITY,
        params: CallIdParams,
        body: CallStatusBody,
        response: { 200: CallStatusResponse, ...ERRORS },
      },
    },
    async (request) => {
      const { callId } = request.params;
      const body = request.body;
      let contact: ContactDecision | undefined;
      if (body.contact?.decision === 'retry') {
        const nextAttemptAt =
          body.contact.nextAttemptAt ?? (await defaultRetryAt(deps, callId, body.at));
        contact = { decision: 'retry', nextAttemptAt: new Date(nextAttemptAt).toISOString() };
      } else if (body.contact !== undefined) {
        contact = { decision: body.contact.decision };
      }

      const outcome = await deps.store.applyCallStatus(callId, {
        status: body.status,
        at: new Date(body.at).toISOString(),
        reason: body.reason,
        workerId: body.workerId,
        carrierCallId: body.carrierCallId,
        contact,
      });
      const ids = { callId, campaignId: outcome.call.campaignId ?? undefined };
      if (outcome.statusChanged)
        request.log.info({ ...ids, status: body.status }, 'call status applied');
      if (outcome.campaignCompleted) request.log.info(ids, 'campaign completed');
      return {
        call: callSummaryView(outcome.call),
        statusChanged: outcome.statusChanged,
        contact: outcome.contact === null ? null : contactView(outcome.contact),
        campaignCompleted: outcome.campaignCompleted,
      };
    },
  );

  app.post(
    '/internal/calls/:callId/requeue',
    {
      schema: {
        tags: ['internal'],
        summary: 'Hand back an attempt that was never placed; the attempt does not count',
        security: INTERNAL_SECURITY,
        params: CallIdParams,
        response: { 200: RequeueResponse, ...ERRORS, 409: ErrorResponse },
      },
    },
    async (request) => {
      const { callId } = request.params;
      const contact = await deps.store.requeueCall(callId, deps.now().toISOString());
      request.log.info({ callId, contactId: contact?.id }, 'attempt requeued');
      return { requeued: true as const, contact: contact === null ? null : contactView(contact) };
    },
  );
};

/** Returns `at` plus the campaign's backoff for this attempt: retryBackoffMs * 2^(attempt-1). */
async function defaultRetryAt(deps: RouteDeps, callId: string, at: string): Promise<string> {
  const call = await deps.store.getCallById(callId);
  if (call === null) throw callNotFound(callId);
  const campaign =
    call.campaignId === null ? null : await deps.store.getCampaign(call.tenantId, call.campaignId);
  const backoffMs = (campaign?.retryBackoffMs ?? 0) * 2 ** Math.max(0, call.attempt - 1);
  return new Date(Date.parse(at) + backoffMs).toISOString();
}
