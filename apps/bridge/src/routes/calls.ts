/** Call routes: list with filters, detail, and the recording download. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

import { BridgeError, callNotFound } from '../errors.js';
import { apiKeyAuth, tenantOf } from '../http/auth.js';
import {
  API_KEY_SECURITY,
  AUTH_ERRORS,
  CallDetailResponse,
  CallSummaryResponse,
  IdParams,
  ListCallsQuery,
  pageOf,
} from '../http/schemas.js';
import { callDetailView, callSummaryView } from '../http/views.js';
import type { RouteDeps } from './deps.js';

export const callRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, deps) => {
  app.addHook('onRequest', apiKeyAuth(deps.store));

  app.get(
    '/v1/calls',
    {
      schema: {
        tags: ['calls'],
        summary: 'List call attempts, newest first',
        security: API_KEY_SECURITY,
        querystring: ListCallsQuery,
        response: { 200: pageOf(CallSummaryResponse), ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const page = await deps.store.listCalls(tenantOf(request).id, request.query);
      return { items: page.items.map(callSummaryView), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/calls/:id',
    {
      schema: {
        tags: ['calls'],
        summary: 'Read a call: status history, result, transcript, timeline and recording',
        security: API_KEY_SECURITY,
        params: IdParams,
        response: { 200: CallDetailResponse, ...AUTH_ERRORS },
      },
    },
    async (request) => {
      const call = await deps.store.getCall(tenantOf(request).id, request.params.id);
      if (call === null) throw callNotFound(request.params.id);
      const view = callDetailView(call);
      if (call.recording === null) return view;
      // A backend with direct downloads (S3 with S3_PRESIGN=true) replaces the API path. When
      // it fails, the API path still serves the recording, so the detail keeps that one.
      const directUrl = await deps.recordings
        .getDownloadUrl(call.recording.key)
        .catch((err: unknown) => {
          request.log.warn({ err, callId: call.id }, 'recording download url failed');
          return null;
        });
      return directUrl === null ? view : { ...view, recordingUrl: directUrl };
    },
  );

  app.get(
    '/v1/calls/:id/recording',
    {
      schema: {
        tags: ['calls'],
        summary: 'Download the call recording (WAV, caller on channel 1, bot on channel 2)',
        security: API_KEY_SECURITY,
        params: IdParams,
        produces: ['audio/wav'],
      },
    },
    async (request, reply) => {
      const callId = request.params.id;
      const call = await deps.store.getCall(tenantOf(request).id, callId);
      if (call === null) throw callNotFound(callId);
      const opened =
        call.recording === null ? null : await deps.recordings.open(call.recording.key);
      if (opened === null) {
        throw new BridgeError('RECORDING_NOT_FOUND', `call "${callId}" has no recording`, {
          ids: { callId },
        });
      }
      return reply
        .type('audio/wav')
        .header('content-length', String(opened.bytes))
        .header('content-disposition', `attachment; filename="${callId}.wav"`)
        .send(opened.stream);
    },
  );
};
