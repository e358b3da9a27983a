/**
 * The public webhook a carrier calls when its number rings: `POST /inbound/{provider}/{key}`
 * (`GET` for Exotel's dynamic URL). It finds the bot by its unguessable inbound key, checks
 * the carrier's signature where the tenant stored the secret, places the call on a worker
 * and responds with the carrier's markup: the worker's stream, or "all lines are busy".
 * Carriers cannot send an API key, so the key in the path is the credential.
 */
import { randomUUID } from 'node:crypto';

import type { Logger } from '@voxfleet/logger';
import { openRegistry } from '@voxfleet/registry';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';

import { BridgeError } from '../errors.js';
import { busyResponse, streamResponse } from '../inbound/markup.js';
import type { InboundResponse } from '../inbound/markup.js';
import { InboundPlacer } from '../inbound/placement.js';
import { INBOUND_PROVIDERS, parseInboundFields } from '../inbound/providers.js';
import type { InboundCallRequest, InboundProvider } from '../inbound/providers.js';
import { publicBaseUrl } from '../inbound/public-url.js';
import { RepeatedWebhooks } from '../inbound/repeated-webhooks.js';
import { InboundSweeper } from '../inbound/sweeper.js';
import { isValidTwilioSignature } from '../inbound/twilio-signature.js';
import type { BridgeStore } from '../store/types.js';

export interface InboundRouteOptions {
  store: BridgeStore;
  logger: Logger;
  now: () => Date;
  /** Capacity registry URL; without it every inbound call gets the busy response. */
  registryUrl?: string | undefined;
  /** Base URL carriers reach; the request's own scheme and host when undefined. */
  publicUrl?: string | undefined;
  /** Registry pool of the workers that take inbound calls. Defaults to `default`. */
  pool?: string;
  /** Defaults to 10000, as the dialler's reservations. */
  reservationTtlMs?: number;
  /** How long the worker waits for the carrier's media stream. Defaults to 30000. */
  streamTimeoutMs?: number;
  /** Live inbound and outbound calls one tenant may hold in the pool; no limit when undefined. */
  tenantMaxCalls?: number | undefined;
  /** Silence after which a live inbound call is closed, on top of its bot's maximum duration. */
  attemptStaleMs: number;
  /** How often the stale inbound sweep runs. Defaults to 30000. */
  sweepIntervalMs?: number;
}

/** Webhook bodies are a few dozen form fields; anything larger is not a carrier's. */
const MAX_WEBHOOK_BYTES = 64 * 1024;

const InboundParams = z.object({
  provider: z.enum(INBOUND_PROVIDERS),
  inboundKey: z.string().min(16).max(128),
});

const FormFields = z.record(z.string(), z.string());

/**
 * How long the response to a webhook is reused for the same carrier call id. It is far longer
 * than the worker's default 30 s wait for the stream, so a later replay places no call either.
 */
const REPEAT_WINDOW_MS = 10 * 60_000;
const MAX_KEPT_RESPONSES = 10_000;

export const inboundRoutes: FastifyPluginAsyncZod<InboundRouteOptions> = async (app, options) => {
  const registryUrl = options.registryUrl;
  const placer = new InboundPlacer({
    openRegistry:
      registryUrl === undefined
        ? null
        : () => openRegistry(registryUrl, { logger: options.logger }),
    logger: options.logger.child({ component: 'inbound' }),
    pool: options.pool ?? 'default',
    reservationTtlMs: options.reservationTtlMs ?? 10_000,
    streamTimeoutMs: options.streamTimeoutMs ?? 30_000,
    tenantMaxCalls: options.tenantMaxCalls,
  });
  const sweeper = new InboundSweeper({
    store: options.store,
    logger: options.logger.child({ component: 'inbound' }),
    staleMs: options.attemptStaleMs,
    intervalMs: options.sweepIntervalMs ?? 30_000,
    now: options.now,
  });
  // NOTE: the responses are kept in this process only, so a repeat that reaches another
  // voxbridge replica, or this one after a restart, still places a second call.
  const recentResponses = new RepeatedWebhooks({
    windowMs: REPEAT_WINDOW_MS,
    maxEntries: MAX_KEPT_RESPONSES,
    now: () => options.now().getTime(),
  });
  app.addHook('onReady', async () => {
    sweeper.start();
  });
  app.addHook('onClose', async () => {
    await sweeper.stop();
    await placer.stop();
  });

  // Carriers post `application/x-www-form-urlencoded`; the parser is scoped to this plugin.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: MAX_WEBHOOK_BYTES },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    },
  );

  const description =
    'Set this URL (from `inboundUrl` of `GET /v1/bots/{id}`) as the voice URL of the ' +
    'number at the carrier. Twilio, Plivo and Telnyx post form fields; Exotel gets them ' +
    'as query parameters. The response is the carrier markup that streams the call to a ' +
    'worker (TwiML, TeXML, Plivo XML, or JSON `{ url }` for Exotel), or that says all ' +
    'lines are busy and hangs up when no worker is free. When the tenant stored a Twilio ' +
    'auth token, `X-Twilio-Signature` must match. Errors are JSON `{ error: { code, ' +
    'message } }`: 400 `INBOUND_INVALID_REQUEST` or `VALIDATION_FAILED` for missing or ' +
    'invalid fields, 403 `INBOUND_SIGNATURE_INVALID`, 404 `INBOUND_KEY_NOT_FOUND`.';

  const handleWebhook = async (
    request: FastifyRequest,
    provider: InboundProvider,
    inboundKey: string,
    fields: Record<string, string>,
  ): Promise<InboundResponse> => {
    const bot = await options.store.findBotByInboundKey(inboundKey);
    if (bot === null) {
      throw new BridgeError(
        'INBOUND_KEY_NOT_FOUND',
        'no bot has this inbound key: copy the inbound URL from GET /v1/bots/{id}',
      );
    }
    await checkSignature(options, request, provider, bot.tenantId, fields);
    const inbound = parseInboundFields(provider, fields);

    const key = `${bot.tenantId} ${provider} ${inbound.carrierCallId}`;
    const { response, repeated } = await recentResponses.respond(key, () =>
      placeCall(request, provider, bot, inbound),
    );
    if (repeated) {
      request.log.warn(
        { botId: bot.id, provider, carrierCallId: inbound.carrierCallId },
        'inbound webhook repeated',
      );
    }
    return response;
  };

  const placeCall = async (
    request: FastifyRequest,
    provider: InboundProvider,
    bot: { id: string; tenantId: string },
    inbound: InboundCallRequest,
  ): Promise<InboundResponse> => {
    const callId = `call_${randomUUID()}`;
    const log = request.log.child({ callId, botId: bot.id, provider });
    const placement = await placer.place({
      callId,
      tenantId: bot.tenantId,
      botId: bot.id,
      to: inbound.to,
    });
    const common = {
      id: callId,
      tenantId: bot.tenantId,
      botId: bot.id,
      from: inbound.from,
      to: inbound.to,
      carrierCallId: inbound.carrierCallId,
      at: options.now().toISOString(),
    };

    if (!placement.placed) {
      await options.store.createInboundCall({
        ...common,
        status: 'busy',
        reason: placement.reason,
        workerId: null,
      });
      log.warn({ reason: placement.reason }, 'inbound call rejected: no worker');
      return busyResponse(provider);
    }
    await options.store.createInboundCall({
      ...common,
      status: 'in-progress',
      reason: null,
      workerId: placement.workerId,
    });
    log.info({ workerId: placement.workerId }, 'inbound call attached');
    return streamResponse(provider, {
      streamUrl: placement.streamUrl,
      callId,
      reservationToken: placement.reservationToken,
    });
  };

  app.post(
    '/inbound/:provider/:inboundKey',
    {
      bodyLimit: MAX_WEBHOOK_BYTES,
      schema: {
        tags: ['inbound'],
        summary: "A carrier's voice webhook: connect the caller to a worker running the bot",
        description,
        params: InboundParams,
        body: FormFields,
        produces: ['text/xml', 'application/json'],
      },
    },
    async (request, reply) => {
      const { provider, inboundKey } = request.params;
      const markup = await handleWebhook(request, provider, inboundKey, request.body);
      return reply.code(markup.status).type(markup.contentType).send(markup.body);
    },
  );

  app.get(
    '/inbound/:provider/:inboundKey',
    {
      schema: {
        tags: ['inbound'],
        summary: 'The same webhook for carriers that send its fields as query parameters',
        description,
        params: InboundParams,
        querystring: FormFields,
        produces: ['text/xml', 'application/json'],
      },
    },
    async (request, reply) => {
      const { provider, inboundKey } = request.params;
      const markup = await handleWebhook(request, provider, inboundKey, request.query);
      return reply.code(markup.status).type(markup.contentType).send(markup.body);
    },
  );
};

/**
 * Verifies `X-Twilio-Signature` when the bot's tenant stored a Twilio auth token. Raises
 * INBOUND_SIGNATURE_INVALID when the header is missing or does not match.
 */
async function checkSignature(
  options: InboundRouteOptions,
  request: FastifyRequest,
  provider: InboundProvider,
  tenantId: string,
  fields: Record<string, string>,
): Promise<void> {
  // NOTE: Plivo (X-Plivo-Signature-V3) and Telnyx (Ed25519) also sign their webhooks;
  // only Twilio's signature is checked so far.
  if (provider !== 'twilio') return;
  const authToken = await options.store.getCarrierCredential(tenantId, 'twilio');
  if (authToken === null) return;

  const header = request.headers['x-twilio-signature'];
  const signature = Array.isArray(header) ? header[0] : header;
  if (signature === undefined || signature === '') {
    throw new BridgeError('INBOUND_SIGNATURE_INVALID', 'X-Twilio-Signature header is missing');
  }
  const url = publicBaseUrl(request, options.publicUrl) + request.url;
  // A GET webhook has no POST parameters to sign: its fields are in the URL already.
  const params = request.method === 'GET' ? {} : fields;
  if (!isValidTwilioSignature(authToken, signature, [url], params)) {
    throw new BridgeError(
      'INBOUND_SIGNATURE_INVALID',
      'X-Twilio-Signature does not match: check the auth token stored with ' +
        'PUT /v1/carrier-credentials/twilio and BRIDGE_PUBLIC_URL',
    );
  }
}
