/**
 * Maps store entities to the response shapes in `schemas.ts`, leaving out internal fields
 * such as `tenantId`.
 */
import type { z } from 'zod';

import type { Bot, Call, CallDetail, Campaign, CampaignProgress, Contact } from '../store/types.js';
import type {
  BotResponse,
  CallDetailResponse,
  CallSummaryResponse,
  CampaignDetailResponse,
  CampaignResponse,
  ContactResponse,
} from './schemas.js';

/**
 * Maps a bot; `baseUrl` is where carriers reach voxbridge, for the inbound webhook URLs.
 */
export function botView(bot: Bot, baseUrl: string): z.input<typeof BotResponse> {
  const key = bot.inboundKey === null ? null : encodeURIComponent(bot.inboundKey);
  return {
    id: bot.id,
    name: bot.name,
    revision: bot.revision,
    config: bot.config,
    inboundUrl:
      key === null
        ? null
        : {
            twilio: `${baseUrl}/inbound/twilio/${key}`,
            plivo: `${baseUrl}/inbound/plivo/${key}`,
            telnyx: `${baseUrl}/inbound/telnyx/${key}`,
            exotel: `${baseUrl}/inbound/exotel/${key}`,
          },
    createdAt: bot.createdAt,
    updatedAt: bot.updatedAt,
  };
}

export function campaignView(campaign: Campaign): z.input<typeof CampaignResponse> {
  return {
    id: campaign.id,
    name: campaign.name,
    botId: campaign.botId,
    status: campaign.status,
    concurrency: campaign.concurrency,
    maxAttempts: campaign.maxAttempts,
    retryBackoffMs: campaign.retryBackoffMs,
    callerId: campaign.callerId,
    createdAt: campaign.createdAt,
    updatedAt: campaign.updatedAt,
  };
}

export function campaignDetailView(
  campaign: Campaign,
  progress: CampaignProgress,
): z.input<typeof CampaignDetailResponse> {
  return { ...campaignView(campaign), progress };
}

export function contactView(contact: Contact): z.input<typeof ContactResponse> {
  return {
    id: contact.id,
    phone: contact.phone,
    name: contact.name,
    scenario: contact.scenario,
    variables: contact.variables,
    state: contact.state,
    attempts: contact.attempts,
    nextAttemptAt: contact.nextAttemptAt,
    lastCallId: contact.lastCallId,
    createdAt: contact.createdAt,
    updatedAt: contact.updatedAt,
  };
}

export function callSummaryView(call: Call): z.input<typeof CallSummaryResponse> {
  return {
    id: call.id,
    botId: call.botId,
    direction: call.direction,
    from: call.from,
    campaignId: call.campaignId,
    contactId: call.contactId,
    attempt: call.attempt,
    to: call.to,
    status: call.status,
    reason: call.reason,
    outcome: call.outcome,
    carrierCallId: call.carrierCallId,
    workerId: call.workerId,
    createdAt: call.createdAt,
    updatedAt: call.updatedAt,
    answeredAt: call.answeredAt,
    endedAt: call.endedAt,
  };
}

export function callDetailView(call: CallDetail): z.input<typeof CallDetailResponse> {
  const recording =
    call.recording === null
      ? null
      : {
          key: call.recording.key,
          bytes: call.recording.bytes,
          contentType: 'audio/wav' as const,
          uploadedAt: call.recording.uploadedAt,
          info: call.result?.recording ?? null,
        };
  return {
    ...callSummaryView(call),
    history: call.history,
    result: call.result,
    recording,
    recordingUrl:
      call.recording === null ? null : `/v1/calls/${encodeURIComponent(call.id)}/recording`,
  };
}
