/**
 * Internal routes for voxcore-worker: runtime config at call start, then the recording
 * upload and the call result at call end. Both uploads are idempotent per call id, because
 * the worker retries them from its spool until they are accepted.
 */
import { Readable } from 'node:stream';

import { CallResult, RuntimeConfig } from '@voxfleet/schema';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

import { BridgeError, botNotFound, callNotFound } from '../errors.js';
import { internalTokenAuth } from '../http/auth.js';
import {
  BotIdParams,
  CallIdParams,
  ErrorResponse,
  INTERNAL_SECURITY,
  RecordingUploadResponse,
  ResultResponse,
} from '../http/schemas.js';
import { recordingKey } from '../recordings/types.js';
import { WavGuard, tooLargeError } from '../recordings/wav-guard.js';
import type { RouteDeps } from './deps.js';

const ERRORS = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse } as const;

/**
 * Largest result body accepted. An estimate: 10,000 transcript entries (the schema's
 * maximum) at about 1 KiB each take 10 MiB.
 */
const MAX_RESULT_BYTES = 16 * 1024 * 1024;

export const internalWorkerRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, deps) => {
  app.addHook('onRequest', internalTokenAuth(deps.internalToken));
  // The body reaches the handler as a stream, so a large upload never sits in memory.
  app.addContentTypeParser(
    ['audio/wav', 'audio/x-wav', 'audio/wave'],
    (_request, payload, done) => {
      done(null, payload);
    },
  );

  app.get(
    '/internal/bots/:botId/runtime-config',
    {
      schema: {
        tags: ['internal'],
        summary: "A bot's runtime config for a worker",
        security: INTERNAL_SECURITY,
        params: BotIdParams,
        response: { 200: RuntimeConfig, ...ERRORS },
      },
    },
    async (request) => {
      const bot = await deps.store.getBotById(request.params.botId);
      if (bot === null) throw botNotFound(request.params.botId);
      return {
        botId: bot.id,
        tenantId: bot.tenantId,
        name: bot.name,
        revision: bot.revision,
        config: bot.config,
      };
    },
  );

  app.post(
    '/internal/calls/:callId/result',
    {
      bodyLimit: MAX_RESULT_BYTES,
      schema: {
        tags: ['internal'],
        summary: 'Store the call result; an identical repeat returns duplicate: true',
        security: INTERNAL_SECURITY,
        params: CallIdParams,
        body: CallResult,
        response: { 200: ResultResponse, ...ERRORS, 409: ErrorResponse },
      },
    },
    async (request) => {
      const { callId } = request.params;
      const result = request.body;
      if (result.callId !== callId) {
        throw new BridgeError(
          'VALIDATION_FAILED',
          `callId: "${result.callId}" does not match the URL's "${callId}"`,
          {
            details: [
              { path: 'callId', message: `must equal the call id in the URL, "${callId}"` },
            ],
          },
        );
      }
      const outcome = await deps.store.saveCallResult(callId, result, deps.now().toISOString());
      if (!outcome.duplicate) {
        deps.metrics.resultsAccepted.inc({ status: outcome.call.status });
        request.log.info(
          { callId, status: outcome.call.status, outcome: result.outcome },
          'call result stored',
        );
      }
      return { accepted: true as const, duplicate: outcome.duplicate };
    },
  );

  app.put(
    '/internal/calls/:callId/recording',
    {
      schema: {
        tags: ['internal'],
        summary: 'Upload the call recording (audio/wav body); a repeat replaces it',
        description: `The body must be a RIFF/WAVE file no larger than ${deps.maxRecordingBytes} bytes.`,
        security: INTERNAL_SECURITY,
        consumes: ['audio/wav'],
        params: CallIdParams,
        response: {
          200: RecordingUploadResponse,
          ...ERRORS,
          413: ErrorResponse,
          415: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const { callId } = request.params;
      // Fastify parses text and JSON bodies itself, so only the WAV types arrive as a stream.
      if (!(request.body instanceof Readable)) {
        void reply.header('connection', 'close');
        throw new BridgeError(
          'UNSUPPORTED_MEDIA_TYPE',
          `recording uploads must be audio/wav, not ${request.headers['content-type'] ?? 'no content type'}`,
        );
      }
      const source = request.body;
      // A rejected upload leaves unread body bytes on the connection, so it must not be
      // reused: the response closes it and the rest of the body is discarded meanwhile.
      const rejectUpload = (err: unknown): never => {
        source.unpipe();
        source.resume();
        void reply.header('connection', 'close');
        throw err;
      };

      const declared = Number(request.headers['content-length'] ?? Number.NaN);
      if (Number.isFinite(declared) && declared > deps.maxRecordingBytes) {
        rejectUpload(tooLargeError(deps.maxRecordingBytes));
      }
      const call = await deps.store.getCallById(callId);
      if (call === null) return rejectUpload(callNotFound(callId));

      const guard = new WavGuard(deps.maxRecordingBytes);
      // put() attaches to the guard first, so a guard error always has a listener.
      const storing = deps.recordings.put(recordingKey(call.tenantId, callId), guard);
      source.on('error', (err) => guard.destroy(err));
      source.pipe(guard);
      const stored = await storing.catch(rejectUpload);

      await deps.store.setCallRecording(callId, {
        key: stored.key,
        bytes: stored.bytes,
        uploadedAt: deps.now().toISOString(),
      });
      request.log.info({ callId, bytes: stored.bytes }, 'recording stored');
      return { key: stored.key, bytes: stored.bytes };
    },
  );
};
