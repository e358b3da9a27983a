/**
 * Request and response schemas of the HTTP API. Fastify validates requests and
 * serialises responses with them, and `@fastify/swagger` turns them into the OpenAPI
 * document, so the docs cannot drift from what the routes accept.
 */
import {
  BotConfig,
  CallResult,
  CallStatus,
  isFinalCallStatus,
  PhoneNumber,
  RecordingInfo,
  SimScenario,
} from '@voxfleet/schema';
import { z } from 'zod';

export const ErrorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z
      .array(
        z.object({
          path: z.string().optional(),
          line: z.number().int().optional(),
          message: z.string(),
        }),
      )
      .optional(),
  }),
});

/** OpenAPI security requirements; the schemes are declared in `app.ts`. */
export const API_KEY_SECURITY: Array<Record<string, string[]>> = [
  { bearerAuth: [] },
  { apiKeyHeader: [] },
];
export const INTERNAL_SECURITY: Array<Record<string, string[]>> = [{ internalToken: [] }];
export const ADMIN_SECURITY: Array<Record<string, string[]>> = [{ adminKey: [] }];

/** Error responses every authenticated route can return. */
export const AUTH_ERRORS = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse } as const;

const Id = z.string().min(1).max(128);
export const IdParams = z.object({ id: Id });

export const CreateTenantBody = z.object({
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lowercase letters, digits, "-" and "_"'),
});

export const CreateTenantResponse = z.object({
  tenant: z.object({ id: z.string(), name: z.string(), createdAt: z.string() }),
  apiKey: z.object({
    id: z.string(),
    /** The full key; shown once and never stored. */
    key: z.string(),
    prefix: z.string(),
  }),
});

export const BotBody = z.object({
  name: z.string().min(1).max(200),
  config: BotConfig,
});

export const BotResponse = z.object({
  id: z.string(),
  name: z.string(),
  revision: z.number().int(),
  config: BotConfig,
  inboundUrl: z
    .object({ twilio: z.string(), plivo: z.string(), telnyx: z.string(), exotel: z.string() })
    .nullable()
    .describe(
      "Webhook URL per carrier to set as the voice URL of the bot's number; null until " +
        'POST /v1/bots/{id}/inbound-key creates the inbound key',
    ),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const CampaignStatusSchema = z.enum(['draft', 'running', 'paused', 'completed']);
export const ContactStateSchema = z.enum(['pending', 'dialling', 'done', 'failed']);

export const CreateCampaignBody = z.object({
  name: z.string().min(1).max(200),
  botId: Id,
  /** Maximum calls in progress at once for this campaign. */
  concurrency: z.number().int().min(1).max(1000).default(1),
  maxAttempts: z.number().int().min(1).max(10).default(3),
  /** Wait before the second attempt; each later attempt doubles it. */
  retryBackoffMs: z.number().int().min(0).max(86_400_000).default(60_000),
  callerId: PhoneNumber.nullable().default(null),
});

export const CampaignProgressSchema = z.object({
  total: z.number().int(),
  pending: z.number().int(),
  dialling: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
  byCallStatus: z.partialRecord(CallStatus, z.number().int()),
  byOutcome: z.record(z.string(), z.number().int()),
});

export const CampaignResponse = z.object({
  id: z.string(),
  name: z.string(),
  botId: z.string(),
  status: CampaignStatusSchema,
  concurrency: z.number().int(),
  maxAttempts: z.number().int(),
  retryBackoffMs: z.number().int(),
  callerId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const CampaignDetailResponse = CampaignResponse.extend({ progress: CampaignProgressSchema });

export const ImportContactsResponse = z.object({
  imported: z.number().int(),
  rejected: z.array(z.object({ line: z.number().int(), errors: z.array(z.string()) })),
});

export const ContactResponse = z.object({
  id: z.string(),
  phone: z.string(),
  name: z.string().nullable(),
  scenario: SimScenario.nullable(),
  variables: z.record(z.string(), z.string()),
  state: ContactStateSchema,
  attempts: z.number().int(),
  nextAttemptAt: z.string(),
  lastCallId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const Limit = z.coerce.number().int().min(1).max(500).default(50);

export const ListContactsQuery = z.object({
  state: ContactStateSchema.optional(),
  limit: Limit,
  cursor: z.string().min(1).max(200).optional(),
});

export const CallDirectionSchema = z.enum(['outbound', 'inbound']);

export const ListCallsQuery = z.object({
  direction: CallDirectionSchema.optional(),
  campaignId: Id.optional(),
  botId: Id.optional(),
  status: CallStatus.optional(),
  limit: Limit,
  cursor: z.string().min(1).max(200).optional(),
});

export const CallSummaryResponse = z.object({
  id: z.string(),
  botId: z.string(),
  direction: CallDirectionSchema,
  /** Caller number of an inbound call as the carrier sent it; null on outbound calls. */
  from: z.string().nullable(),
  campaignId: z.string().nullable(),
  contactId: z.string().nullable(),
  attempt: z.number().int(),
  to: z.string(),
  status: CallStatus,
  reason: z.string().nullable(),
  outcome: z.string().nullable(),
  carrierCallId: z.string().nullable(),
  workerId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  answeredAt: z.string().nullable(),
  endedAt: z.string().nullable(),
});

export const CallDetailResponse = CallSummaryResponse.extend({
  history: z.array(z.object({ status: CallStatus, at: z.string(), reason: z.string().nullable() })),
  result: CallResult.nullable(),
  recording: z
    .object({
      key: z.string(),
      bytes: z.number().int(),
      contentType: z.literal('audio/wav'),
      uploadedAt: z.string(),
      /** Audio details from the worker's result, once it arrived. */
      info: RecordingInfo.nullable(),
    })
    .nullable(),
  /** Path of `GET /v1/calls/{id}/recording`; null while no recording is stored. */
  recordingUrl: z.string().nullable(),
});

export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export const ClaimBody = z.object({ limit: z.number().int().min(1).max(1000) });

export const ClaimResponse = z.object({
  attempts: z.array(
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
    }),
  ),
});

export const CallStatusBody = z
  .object({
    status: CallStatus,
    at: z.iso.datetime(),
    reason: z.string().max(500).optional(),
    workerId: z.string().min(1).max(128).optional(),
    carrierCallId: z.string().min(1).max(256).optional(),
    contact: z
      .object({
        decision: z.enum(['retry', 'done', 'failed']),
        /** When the retry is due; defaults to `at` plus the campaign's backoff for this attempt. */
        nextAttemptAt: z.iso.datetime().optional(),
      })
      .optional(),
  })
  .superRefine((body, ctx) => {
    if (body.contact !== undefined && !isFinalCallStatus(body.status)) {
      ctx.addIssue({
        code: 'custom',
        path: ['contact'],
        message: `a contact decision needs a final status, not "${body.status}"`,
      });
    }
  });

export const CallStatusResponse = z.object({
  call: CallSummaryResponse,
  statusChanged: z.boolean(),
  contact: ContactResponse.nullable(),
  campaignCompleted: z.boolean(),
});

export const CallIdParams = z.object({ callId: Id });
export const BotIdParams = z.object({ botId: Id });

export const RequeueResponse = z.object({
  requeued: z.literal(true),
  contact: ContactResponse.nullable(),
});

export const ResultResponse = z.object({ accepted: z.literal(true), duplicate: z.boolean() });

export const RecordingUploadResponse = z.object({ key: z.string(), bytes: z.number().int() });
