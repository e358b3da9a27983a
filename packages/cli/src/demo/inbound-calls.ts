/**
 * The inbound part of the demo. It gives the demo bot an inbound key and has the sim
 * carrier receive calls on the bot's number (`POST /v1/inbound-calls`): the carrier sends
 * its webhook to voxbridge and opens the stream named in the response. Then it waits for
 * every inbound call record to close and checks the result and recording of each answered
 * one.
 */
import type { Writable } from 'node:stream';
import { CliError } from '../errors.js';
import type { ApiClient } from './api-client.js';

export type InboundProvider = 'twilio' | 'plivo' | 'telnyx' | 'exotel';

export interface InboundCallsOptions {
  api: ApiClient;
  botId: string;
  /** Base URL of the sim carrier, such as http://127.0.0.1:7720. */
  carrierUrl: string;
  /** The sim carrier's `x-carrier-secret`; undefined when it has none. */
  carrierSecret: string | undefined;
  count: number;
  provider: InboundProvider;
  timeoutMs: number;
  output: Writable;
}

export interface InboundReport {
  placed: number;
  /** Calls a worker took; the rest got the busy response. */
  answered: number;
  busy: number;
  results: number;
  recordings: number;
  outcomes: Record<string, number>;
  problems: string[];
}

/** The number the demo's callers dial; the sim carrier owns every number. */
export const DEMO_INBOUND_NUMBER = '+15550100000';
const CALLER_SCENARIOS = ['speak', 'press-1', 'press-2'] as const;
const FINAL_STATUSES = new Set(['completed', 'busy', 'no-answer', 'failed', 'aborted']);

interface InboundCall {
  id: string;
  carrierCallId: string | null;
  direction: string;
  from: string | null;
  status: string;
  reason: string | null;
  answeredAt: string | null;
}

interface InboundCallDetail extends InboundCall {
  result: { outcome: string } | null;
  recording: { bytes: number } | null;
}

interface BotWithInboundUrl {
  id: string;
  inboundUrl: Record<InboundProvider, string> | null;
}

export async function runInboundCalls(options: InboundCallsOptions): Promise<InboundReport> {
  const { api, output: out } = options;
  const bot: BotWithInboundUrl = await api.request('POST', `/v1/bots/${options.botId}/inbound-key`);
  const webhookUrl = bot.inboundUrl?.[options.provider];
  if (webhookUrl === undefined) {
    throw new CliError('CLI_DEMO_INBOUND', 'voxbridge returned no inbound URL for the demo bot');
  }
  out.write(
    `placing ${options.count} inbound ${options.provider} calls to ${DEMO_INBOUND_NUMBER}\n`,
  );

  const problems: string[] = [];
  const carrierCallIds = new Set<string>();
  for (let index = 0; index < options.count; index++) {
    const scenario = CALLER_SCENARIOS[index % CALLER_SCENARIOS.length] ?? 'speak';
    const from = `+1555020${String(index).padStart(4, '0')}`;
    try {
      carrierCallIds.add(await placeInboundCall(options, { webhookUrl, from, scenario }));
    } catch (error) {
      problems.push(
        `inbound call from ${from}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  const calls = await waitForInboundCalls(options, carrierCallIds);
  const report: InboundReport = {
    placed: calls.length,
    answered: 0,
    busy: 0,
    results: 0,
    recordings: 0,
    outcomes: {},
    problems,
  };
  for (const call of calls) {
    if (call.answeredAt === null) {
      report.busy++;
      continue;
    }
    report.answered++;
    const detail: InboundCallDetail = await api.request('GET', `/v1/calls/${call.id}`);
    if (detail.direction !== 'inbound') problems.push(`call ${call.id} is not marked inbound`);
    if (detail.result === null) {
      problems.push(`inbound call ${call.id} was answered but has no result (${call.status})`);
      continue;
    }
    report.results++;
    report.outcomes[detail.result.outcome] = (report.outcomes[detail.result.outcome] ?? 0) + 1;
    const wav = await api.download(`/v1/calls/${call.id}/recording`).catch(() => null);
    if (wav !== null && wav.length > 44 && wav.subarray(0, 4).toString('ascii') === 'RIFF') {
      report.recordings++;
    } else {
      problems.push(`inbound call ${call.id} has no playable recording`);
    }
  }
  if (report.placed < carrierCallIds.size) {
    problems.push(`${carrierCallIds.size} inbound calls placed but ${report.placed} recorded`);
  }
  const outcomeText = Object.entries(report.outcomes)
    .map(([name, count]) => `${name}=${count}`)
    .join(' ');
  out.write(
    `inbound: ${report.placed} calls, ${report.answered} answered, ${report.busy} busy; outcomes: ${outcomeText || 'none'}\n`,
  );
  return report;
}

async function placeInboundCall(
  options: InboundCallsOptions,
  call: { webhookUrl: string; from: string; scenario: string },
): Promise<string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.carrierSecret !== undefined) headers['x-carrier-secret'] = options.carrierSecret;
  const url = `${options.carrierUrl.replace(/\/+$/, '')}/v1/inbound-calls`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        webhookUrl: call.webhookUrl,
        from: call.from,
        to: DEMO_INBOUND_NUMBER,
        provider: options.provider,
        scenario: call.scenario,
      }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new CliError('CLI_CARRIER_UNREACHABLE', `sim carrier at ${url} did not respond`, {
      cause: error,
    });
  }
  if (response.status !== 201) {
    const text = (await response.text()).slice(0, 300);
    throw new CliError(
      'CLI_CARRIER_REJECTED',
      `sim carrier returned HTTP ${response.status}: ${text}`,
    );
  }
  const placed = (await response.json()) as { carrierCallId: string };
  return placed.carrierCallId;
}

/**
 * Polls the bot's inbound calls until the ones with these carrier call ids are all recorded
 * and final, or the time runs out.
 */
async function waitForInboundCalls(
  options: InboundCallsOptions,
  carrierCallIds: ReadonlySet<string>,
): Promise<InboundCall[]> {
  const deadline = Date.now() + options.timeoutMs;
  const path = `/v1/calls?direction=inbound&botId=${encodeURIComponent(options.botId)}&limit=500`;
  for (;;) {
    const page: { items: InboundCall[] } = await options.api.request('GET', path);
    const calls = page.items.filter((call) => carrierCallIds.has(call.carrierCallId ?? ''));
    const open = calls.filter((call) => !FINAL_STATUSES.has(call.status));
    if (calls.length >= carrierCallIds.size && open.length === 0) return calls;
    if (Date.now() > deadline) {
      throw new CliError(
        'CLI_DEMO_TIMEOUT',
        `${open.length} of ${calls.length} inbound calls were still open after ${options.timeoutMs} ms; see the stack's log`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
