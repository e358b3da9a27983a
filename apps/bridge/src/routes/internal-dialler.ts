/**
 * Internal routes for voxdialler: claim due attempts, report call status with the
 * contact decision, and hand back attempts that were never placed.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

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
import type { ContactDecision } from '../store/types.js';
import type { RouteDeps } from './deps.js';

const ERRORS = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse } as const;

export const internalDiallerRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, deps) => {
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
      const attempts = await deps.store.claimAttempts(request.body.limit, deps.now().toISOString());
      deps.metrics.claimedAttempts.inc(attempts.length);
      if (attempts.length > 0) request.log.debug({ claimed: attempts.length }, 'attempts claimed');
      return { attempts };
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
