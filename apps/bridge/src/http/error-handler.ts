/**
 * The one place that maps error codes to HTTP statuses. Every error response has the
 * shape `{ error: { code, message, details? } }`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';

import { BridgeError, isBridgeError } from '../errors.js';
import type { BridgeErrorCode, ErrorDetail } from '../errors.js';

const STATUS_BY_CODE: Record<BridgeErrorCode, number> = {
  AUTH_MISSING_API_KEY: 401,
  AUTH_INVALID_API_KEY: 401,
  AUTH_MISSING_ADMIN_KEY: 401,
  AUTH_INVALID_ADMIN_KEY: 401,
  AUTH_ADMIN_DISABLED: 403,
  AUTH_MISSING_INTERNAL_TOKEN: 401,
  AUTH_INVALID_INTERNAL_TOKEN: 401,
  VALIDATION_FAILED: 400,
  INVALID_CURSOR: 400,
  ROUTE_NOT_FOUND: 404,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BODY_TOO_LARGE: 413,
  TENANT_ALREADY_EXISTS: 409,
  BOT_NOT_FOUND: 404,
  CAMPAIGN_NOT_FOUND: 404,
  CAMPAIGN_INVALID_STATE: 409,
  CAMPAIGN_HAS_NO_CONTACTS: 409,
  CALL_NOT_FOUND: 404,
  CALL_NOT_REQUEUEABLE: 409,
  CALL_RESULT_CONFLICT: 409,
  CSV_EMPTY: 400,
  CSV_INVALID: 400,
  CSV_HEADER_INVALID: 400,
  RECORDING_NOT_FOUND: 404,
  RECORDING_INVALID_WAV: 400,
  RECORDING_TOO_LARGE: 413,
  STORE_UNAVAILABLE: 503,
  TOO_MANY_STREAMS: 429,
  INBOUND_KEY_NOT_FOUND: 404,
  INBOUND_SIGNATURE_INVALID: 403,
  INBOUND_INVALID_REQUEST: 400,
  INTERNAL_ERROR: 500,
};

/** Returns the HTTP status for an error code. */
export function statusOf(code: BridgeErrorCode): number {
  return STATUS_BY_CODE[code];
}

/** Turns `/config/nodes/greet/next` into `config.nodes.greet.next`. */
function dottedPath(context: string | undefined, instancePath: string): string {
  const parts = instancePath.split('/').filter((part) => part !== '');
  const prefix = context === undefined || context === 'body' ? [] : [context];
  return [...prefix, ...parts].join('.') || (context ?? 'body');
}

/** Converts Fastify's own errors (validation, parsing, limits) to BridgeErrors. */
function toBridgeError(err: FastifyError): BridgeError {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const details: ErrorDetail[] = err.validation.map((issue) => ({
      path: dottedPath(err.validationContext, issue.instancePath),
      message: issue.message ?? 'invalid value',
    }));
    const first = details[0];
    const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
    const summary =
      first === undefined ? 'invalid request' : `${first.path}: ${first.message}${more}`;
    return new BridgeError('VALIDATION_FAILED', summary, { details, cause: err });
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new BridgeError('UNSUPPORTED_MEDIA_TYPE', err.message, { cause: err });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BridgeError('BODY_TOO_LARGE', err.message, { cause: err });
    case 'FST_ERR_NOT_FOUND':
      return new BridgeError('ROUTE_NOT_FOUND', err.message, { cause: err });
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Parser errors such as malformed JSON or an empty JSON body.
    return new BridgeError('VALIDATION_FAILED', err.message, { cause: err });
  }
  return new BridgeError('INTERNAL_ERROR', 'internal error', { cause: err });
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const bridgeError = isBridgeError(err) ? err : toBridgeError(err);
    const status = statusOf(bridgeError.code);
    if (status >= 500) {
      request.log.error({ err, code: bridgeError.code, ...bridgeError.ids }, 'request failed');
    } else {
      request.log.info({ code: bridgeError.code, ...bridgeError.ids }, 'request rejected');
    }
    const body = {
      error: {
        code: bridgeError.code,
        message: bridgeError.message,
        ...(bridgeError.details === undefined ? {} : { details: bridgeError.details }),
      },
    };
    return reply.code(status).type('application/json').send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const body = {
      error: {
        code: 'ROUTE_NOT_FOUND',
        message: `route ${request.method} ${request.url} not found`,
      },
    };
    return reply.code(404).send(body);
  });
}
