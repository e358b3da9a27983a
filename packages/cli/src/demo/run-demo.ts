/**
 * The demo campaign: creates the demo bot and a campaign from a contacts CSV, runs it to
 * completion with a progress line, checks every call's stored result and recording, and
 * prints a table of outcomes.
 */
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { CliError } from '../errors.js';
import { ApiClient } from './api-client.js';
import { runInboundCalls, type InboundProvider, type InboundReport } from './inbound-calls.js';
import { formatTable } from './table.js';

export interface DemoOptions {
  bridgeUrl: string;
  apiKey: string;
  botFile: string;
  contactsFile: string;
  concurrency: number;
  maxAttempts: number;
  retryBackoffMs: number;
  timeoutMs: number;
  output: Writable;
  /** Rewrites the progress line in place; plain lines otherwise. */
  interactive: boolean;
  /** Inbound calls to the demo bot after the campaign, through the sim carrier. */
  inbound?: DemoInboundOptions | undefined;
}

export interface DemoInboundOptions {
  count: number;
  provider: InboundProvider;
  /** Base URL of the sim carrier. */
  carrierUrl: string;
  carrierSecret: string | undefined;
}

interface Progress {
  total: number;
  pending: number;
  dialling: number;
  done: number;
  failed: number;
}

interface Campaign {
  id: string;
  status: string;
  progress: Progress;
}

interface Contact {
  id: string;
  phone: string;
  name: string | null;
  scenario: string | null;
  state: string;
  attempts: number;
}

interface CallSummary {
  id: string;
  contactId: string | null;
  status: string;
  attempt?: number;
  /** Set once the carrier reported the call answered, whatever its final status. */
  answeredAt?: string | null;
}

interface CallDetail extends CallSummary {
  result: { outcome: string; durationMs: number; transcript: unknown[] } | null;
  recording: { bytes: number } | null;
}

export interface DemoReport {
  campaignId: string;
  contacts: number;
  contactsDone: number;
  contactsFailed: number;
  callsPlaced: number;
  answered: number;
  results: number;
  recordings: number;
  outcomes: Record<string, number>;
  problems: string[];
  durationMs: number;
  /** The inbound calls after the campaign; null when none were asked for. */
  inbound: InboundReport | null;
}

const ANSWERED_STATUSES = new Set(['completed', 'aborted']);

function progressLine(campaign: Campaign, elapsedMs: number): string {
  const p = campaign.progress;
  const finished = p.done + p.failed;
  const width = 30;
  const filled = p.total === 0 ? 0 : Math.round((finished / p.total) * width);
  const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
  const seconds = (elapsedMs / 1000).toFixed(0).padStart(4);
  return `[${bar}] ${finished}/${p.total} final (done ${p.done}, failed ${p.failed}, dialling ${p.dialling}, pending ${p.pending}) ${seconds} s ${campaign.status}`;
}

async function listAll<T>(api: ApiClient, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page: { items: T[]; nextCursor: string | null } = await api.request(
      'GET',
      `${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const out = options.output;
  const api = new ApiClient({ baseUrl: options.bridgeUrl, apiKey: options.apiKey });
  const startedAt = Date.now();

  const botDefinition = JSON.parse(await readFile(options.botFile, 'utf8')) as {
    name: string;
    config: unknown;
  };
  const bot: { id: string } = await api.request('POST', '/v1/bots', botDefinition);
  out.write(`created bot ${bot.id} (${botDefinition.name})\n`);

  const campaign: Campaign = await api.request('POST', '/v1/campaigns', {
    name: `Demo ${new Date().toISOString().slice(0, 19).replace('T', ' ')}`,
    botId: bot.id,
    concurrency: options.concurrency,
    maxAttempts: options.maxAttempts,
    retryBackoffMs: options.retryBackoffMs,
  });
  const csv = await readFile(options.contactsFile, 'utf8');
  const imported: { imported: number; rejected: Array<{ line: number; errors: string[] }> } =
    await api.request('POST', `/v1/campaigns/${campaign.id}/contacts`, csv, 'text/csv');
  out.write(`created campaign ${campaign.id}: ${imported.imported} contacts imported\n`);
  for (const row of imported.rejected) {
    out.write(`  rejected line ${row.line}: ${row.errors.join('; ')}\n`);
  }
  await api.request('POST', `/v1/campaigns/${campaign.id}/start`);

  let lastLine = '';
  while (true) {
    const current: Campaign = await api.request('GET', `/v1/campaigns/${campaign.id}`);
    const line = progressLine(current, Date.now() - startedAt);
    if (options.interactive) out.write(`\r${line}`);
    else if (line.replace(/\s+\d+ s /, ' ') !== lastLine.replace(/\s+\d+ s /, ' ')) {
      out.write(`${line}\n`);
    }
    lastLine = line;
    if (current.status === 'completed') break;
    if (Date.now() - startedAt > options.timeoutMs) {
      if (options.interactive) out.write('\n');
      throw new CliError(
        'CLI_DEMO_TIMEOUT',
        `the campaign did not complete within ${options.timeoutMs} ms; see the stack's log`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (options.interactive) out.write('\n');

  const report = await checkCampaign(api, campaign.id, out, Date.now() - startedAt);
  const inbound = options.inbound;
  if (inbound === undefined || inbound.count === 0) return report;
  const inboundReport = await runInboundCalls({
    api,
    botId: bot.id,
    carrierUrl: inbound.carrierUrl,
    carrierSecret: inbound.carrierSecret,
    count: inbound.count,
    provider: inbound.provider,
    timeoutMs: Math.max(30_000, options.timeoutMs - (Date.now() - startedAt)),
    output: out,
  });
  for (const problem of inboundReport.problems) out.write(`problem: ${problem}\n`);
  return {
    ...report,
    inbound: inboundReport,
    problems: [...report.problems, ...inboundReport.problems],
    durationMs: Date.now() - startedAt,
  };
}

async function checkCampaign(
  api: ApiClient,
  campaignId: string,
  out: Writable,
  durationMs: number,
): Promise<DemoReport> {
  const contacts = await listAll<Contact>(api, `/v1/campaigns/${campaignId}/contacts`);
  const calls = await listAll<CallSummary>(api, `/v1/calls?campaignId=${campaignId}`);
  const problems: string[] = [];
  const outcomes: Record<string, number> = {};
  const rows: string[][] = [];
  let answered = 0;
  let results = 0;
  let recordings = 0;

  for (const contact of contacts) {
    if (contact.state !== 'done' && contact.state !== 'failed') {
      problems.push(`contact ${contact.phone} is still ${contact.state}`);
    }
    const attempts = calls.filter((call) => call.contactId === contact.id);
    const last = attempts.at(-1);
    let outcome = last?.status ?? 'none';
    let talk = '';
    for (const call of attempts) {
      if (!call.answeredAt && !ANSWERED_STATUSES.has(call.status)) continue;
      answered++;
      const detail: CallDetail = await api.request('GET', `/v1/calls/${call.id}`);
      if (!detail.result) {
        problems.push(`call ${call.id} was answered but has no result`);
        continue;
      }
      results++;
      outcome = detail.result.outcome;
      talk = `${(detail.result.durationMs / 1000).toFixed(1)} s`;
      const wav = await api.download(`/v1/calls/${call.id}/recording`).catch(() => null);
      if (wav && wav.length > 44 && wav.subarray(0, 4).toString('ascii') === 'RIFF') {
        recordings++;
      } else {
        problems.push(`call ${call.id} has no playable recording`);
      }
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    rows.push([
      contact.name ?? '',
      contact.phone,
      contact.scenario ?? '',
      String(attempts.length),
      contact.state,
      outcome,
      talk,
    ]);
  }
  for (const call of calls) {
    if (!['completed', 'busy', 'no-answer', 'failed', 'aborted'].includes(call.status)) {
      problems.push(`call ${call.id} is still ${call.status}`);
    }
  }

  out.write(
    `${formatTable(['name', 'phone', 'scenario', 'calls', 'contact', 'outcome', 'talk time'], rows)}\n`,
  );
  const outcomeText = Object.entries(outcomes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => `${name}=${count}`)
    .join(' ');
  out.write(`outcomes: ${outcomeText}\n`);
  for (const problem of problems) out.write(`problem: ${problem}\n`);

  return {
    campaignId,
    contacts: contacts.length,
    contactsDone: contacts.filter((c) => c.state === 'done').length,
    contactsFailed: contacts.filter((c) => c.state === 'failed').length,
    callsPlaced: calls.length,
    answered,
    results,
    recordings,
    outcomes,
    problems,
    durationMs,
    inbound: null,
  };
}

/** Formats the summary line the demo ends with. */
export function summariseReport(report: DemoReport): string {
  const verdict = report.problems.length === 0 ? 'demo passed' : 'demo FAILED';
  const inbound =
    report.inbound === null
      ? ''
      : `, ${report.inbound.placed} inbound calls (${report.inbound.answered} answered, ${report.inbound.results} results, ${report.inbound.recordings} recordings)`;
  return `${verdict}: ${report.contacts} contacts (${report.contactsDone} done, ${report.contactsFailed} failed), ${report.callsPlaced} calls placed, ${report.answered} answered, ${report.results} results, ${report.recordings} recordings${inbound}, ${report.problems.length} problems, ${(report.durationMs / 1000).toFixed(1)} s`;
}
