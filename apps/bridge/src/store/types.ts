/**
 * The repository contract behind voxbridge. SQLite implements it today
 * (`sqlite/sqlite-store.ts`); another backend such as MongoDB must pass the same contract
 * suite (`test/store-contract.ts`).
 *
 * Times are ISO 8601 strings in UTC (`Date#toISOString`). Methods that take a `tenantId`
 * only see that tenant's rows and return `null` (or raise a `*_NOT_FOUND` BridgeError) for
 * another tenant's ids. Every method that changes more than one row does so atomically.
 */
import type { BotConfig, CallResult, CallStatus, SimScenario } from '@voxfleet/schema';

export interface Tenant {
  id: string;
  name: string;
  createdAt: string;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  /** The first characters of the key, safe to show in listings. */
  prefix: string;
  createdAt: string;
}

/** A key as the store receives it: only its SHA-256 hash (hex) and display prefix. */
export interface NewApiKey {
  hash: string;
  prefix: string;
}

export interface Bot {
  id: string;
  tenantId: string;
  name: string;
  config: BotConfig;
  /** Starts at 1 and grows by one on every update. */
  revision: number;
  /**
   * Secret path segment of the bot's inbound webhook (`POST /inbound/{provider}/{inboundKey}`);
   * null until `rotateInboundKey` first sets one.
   */
  inboundKey: string | null;
  createdAt: string;
  updatedAt: string;
}

export type CampaignStatus = 'draft' | 'running' | 'paused' | 'completed';

export interface Campaign {
  id: string;
  tenantId: string;
  name: string;
  botId: string;
  status: CampaignStatus;
  /** Maximum contacts in `dialling` at once. */
  concurrency: number;
  maxAttempts: number;
  retryBackoffMs: number;
  callerId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewCampaign {
  name: string;
  botId: string;
  concurrency: number;
  maxAttempts: number;
  retryBackoffMs: number;
  callerId: string | null;
}

export interface CampaignProgress {
  total: number;
  pending: number;
  dialling: number;
  done: number;
  failed: number;
  /** Call attempts per call status. */
  byCallStatus: Partial<Record<CallStatus, number>>;
  /** Call results per outcome. */
  byOutcome: Record<string, number>;
}

export type ContactState = 'pending' | 'dialling' | 'done' | 'failed';

export interface Contact {
  id: string;
  tenantId: string;
  campaignId: string;
  phone: string;
  name: string | null;
  scenario: SimScenario | null;
  variables: Record<string, string>;
  state: ContactState;
  /** Attempts placed so far; a requeued attempt does not count. */
  attempts: number;
  nextAttemptAt: string;
  lastCallId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewContact {
  phone: string;
  name: string | null;
  scenario: SimScenario | null;
  variables: Record<string, string>;
}

export interface ImportContactsResult {
  imported: number;
  /** Indexes into the input array whose phone already exists in the campaign. */
  duplicateIndexes: number[];
}

export interface CallRecording {
  key: string;
  bytes: number;
  uploadedAt: string;
}

/** Direction of a call: `outbound` from the dialler, `inbound` from a caller ringing a bot's number. */
export type CallDirection = 'outbound' | 'inbound';

export interface Call {
  id: string;
  tenantId: string;
  botId: string;
  /** `outbound` for every call stored before inbound lines existed. */
  direction: CallDirection;
  /** Caller number of an inbound call as the carrier sent it; null on outbound calls. */
  from: string | null;
  campaignId: string | null;
  contactId: string | null;
  /** 1 for the first attempt at a contact. */
  attempt: number;
  to: string;
  status: CallStatus;
  reason: string | null;
  carrierCallId: string | null;
  workerId: string | null;
  createdAt: string;
  updatedAt: string;
  answeredAt: string | null;
  endedAt: string | null;
  outcome: string | null;
  result: CallResult | null;
  recording: CallRecording | null;
}

export interface CallStatusEntry {
  status: CallStatus;
  at: string;
  reason: string | null;
}

export interface CallDetail extends Call {
  history: CallStatusEntry[];
}

/** One claimed attempt, as `POST /internal/dialler/claim` returns it. */
export interface ClaimedAttempt {
  callId: string;
  attempt: number;
  tenantId: string;
  botId: string;
  campaignId: string;
  contactId: string;
  to: string;
  scenario: SimScenario | null;
  variables: Record<string, string>;
  campaign: { maxAttempts: number; retryBackoffMs: number; callerId: string | null };
}

/**
 * A campaign call attempt that has not reached a final status (`queued`, `dialling`,
 * `ringing` or `in-progress`), as `GET /internal/dialler/open-calls` returns it. It carries
 * every field of a claim, so a restarted dialler can adopt the attempt.
 */
export interface OpenCall extends ClaimedAttempt {
  status: CallStatus;
  carrierCallId: string | null;
  workerId: string | null;
  createdAt: string;
  /** Time of the last status update, or of any other change to the call. */
  updatedAt: string;
}

export interface OpenCallFilter {
  /** Only this call, when set. */
  callId?: string | undefined;
  limit: number;
}

/**
 * A live call that the sweep closed as `failed` with reason `abandoned`. Inbound calls have
 * no contact or campaign.
 */
export interface AbandonedCall {
  callId: string;
  contactId: string | null;
  campaignId: string | null;
  /** The status the call had when it was closed. */
  status: CallStatus;
  /** The contact's fate: pending for a retry, or failed when attempts are exhausted. */
  contactState: 'pending' | 'failed' | null;
}

/** Default of `ClaimOptions.attemptStaleMs`: 5 minutes. */
export const DEFAULT_ATTEMPT_STALE_MS = 300_000;

/** Default bot call limit, used when a stored bot config lacks `maxCallDurationMs`. */
export const DEFAULT_MAX_CALL_DURATION_MS = 600_000;

export interface ClaimOptions {
  /**
   * A `queued`, `dialling` or `ringing` call without a status update for longer than this
   * is closed as abandoned before the claim; an `in-progress` call gets the bot's
   * `maxCallDurationMs` on top. Defaults to DEFAULT_ATTEMPT_STALE_MS.
   */
  attemptStaleMs?: number | undefined;
  /** Receives the calls the sweep closed, for logs and metrics. */
  onAbandoned?: ((calls: AbandonedCall[]) => void) | undefined;
}

export type ContactDecision =
  { decision: 'retry'; nextAttemptAt: string } | { decision: 'done' } | { decision: 'failed' };

export interface CallStatusUpdate {
  status: CallStatus;
  at: string;
  reason?: string | undefined;
  workerId?: string | undefined;
  carrierCallId?: string | undefined;
  contact?: ContactDecision | undefined;
}

export interface CallStatusOutcome {
  call: Call;
  /** False when the post repeated or would move a final status back. */
  statusChanged: boolean;
  contact: Contact | null;
  campaignCompleted: boolean;
}

export interface SaveResultOutcome {
  call: Call;
  duplicate: boolean;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass it back as `cursor` for the next page. Null on the last page. */
  nextCursor: string | null;
}

export interface CallFilter {
  direction?: CallDirection | undefined;
  campaignId?: string | undefined;
  botId?: string | undefined;
  status?: CallStatus | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** An inbound call as voxbridge records it when a carrier's webhook arrives. */
export interface NewInboundCall {
  /** Chosen by the caller, so the slot can be reserved under the same id first. */
  id: string;
  tenantId: string;
  botId: string;
  from: string;
  to: string;
  carrierCallId: string;
  /**
   * `in-progress` (answered at `at`) when a worker took the call; `busy` or `failed`, ended
   * at `at` with `reason`, when none could.
   */
  status: 'in-progress' | 'busy' | 'failed';
  reason: string | null;
  workerId: string | null;
  at: string;
}

/** Carriers whose webhook signing secret a tenant can store. */
export type CarrierCredentialProvider = 'twilio';

export interface ContactFilter {
  state?: ContactState | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface BridgeStore {
  /** Opens the store and applies pending migrations. Idempotent. */
  init(): Promise<void>;
  /** Closes the store. Idempotent. */
  close(): Promise<void>;
  /** Resolves true while the store can serve queries. */
  ping(): Promise<boolean>;

  /** Creates a tenant with its first key. Raises TENANT_ALREADY_EXISTS on a taken name. */
  createTenant(name: string, key: NewApiKey): Promise<{ tenant: Tenant; apiKey: ApiKeyRecord }>;
  /**
   * Ensures a tenant named `name` exists and owns the key. Idempotent: a key already
   * stored is left alone, whichever tenant owns it.
   */
  ensureTenantKey(name: string, key: NewApiKey): Promise<{ tenant: Tenant; created: boolean }>;
  /** Finds the key with this SHA-256 hash (hex) and its tenant. */
  findApiKey(hash: string): Promise<{ apiKey: ApiKeyRecord; tenant: Tenant } | null>;

  createBot(tenantId: string, input: { name: string; config: BotConfig }): Promise<Bot>;
  listBots(tenantId: string): Promise<Bot[]>;
  getBot(tenantId: string, botId: string): Promise<Bot | null>;
  /** Finds a bot across tenants, for internal routes. */
  getBotById(botId: string): Promise<Bot | null>;
  /** Finds the bot whose inbound key equals `inboundKey`, across tenants. */
  findBotByInboundKey(inboundKey: string): Promise<Bot | null>;
  /** Replaces the bot's inbound key, so the old webhook URL stops working. Raises BOT_NOT_FOUND. */
  rotateInboundKey(tenantId: string, botId: string, inboundKey: string, now: string): Promise<Bot>;
  /** Replaces name and config and bumps the revision. Raises BOT_NOT_FOUND. */
  updateBot(
    tenantId: string,
    botId: string,
    input: { name: string; config: BotConfig },
  ): Promise<Bot>;

  /** Raises BOT_NOT_FOUND when the bot is not the tenant's. */
  createCampaign(tenantId: string, input: NewCampaign): Promise<Campaign>;
  listCampaigns(tenantId: string): Promise<Campaign[]>;
  getCampaign(tenantId: string, campaignId: string): Promise<Campaign | null>;
  getCampaignProgress(campaignId: string): Promise<CampaignProgress>;
  /**
   * Moves `draft` or `paused` to `running`; a running campaign is returned unchanged.
   * Raises CAMPAIGN_HAS_NO_CONTACTS or CAMPAIGN_INVALID_STATE (completed).
   */
  startCampaign(tenantId: string, campaignId: string, now: string): Promise<Campaign>;
  /** Moves `running` to `paused`; a paused campaign is returned unchanged. */
  pauseCampaign(tenantId: string, campaignId: string, now: string): Promise<Campaign>;

  /**
   * Inserts contacts as `pending`, due at `now`, in one transaction. A phone already in the
   * campaign is skipped and reported by index. Raises CAMPAIGN_INVALID_STATE on a completed
   * campaign.
   */
  importContacts(
    tenantId: string,
    campaignId: string,
    contacts: NewContact[],
    now: string,
  ): Promise<ImportContactsResult>;
  listContacts(tenantId: string, campaignId: string, filter: ContactFilter): Promise<Page<Contact>>;

  /**
   * Claims up to `limit` due contacts of running campaigns, oldest campaign first, keeping
   * each campaign's `dialling` contacts within its concurrency. Creates one `queued` call
   * per claim and marks its contact `dialling`, all in one transaction. First it closes
   * abandoned attempts (see `ClaimOptions.attemptStaleMs`) as `failed`, reason `abandoned`,
   * and returns their contacts to `pending` with the campaign's backoff, or to `failed`
   * when attempts are exhausted, so they no longer count against the concurrency. The same
   * sweep closes abandoned inbound calls, which have no contact to decide.
   */
  claimAttempts(limit: number, now: string, options?: ClaimOptions): Promise<ClaimedAttempt[]>;
  /** Lists live campaign calls, oldest update first, for a dialler to adopt after a restart. */
  listOpenCalls(filter: OpenCallFilter): Promise<OpenCall[]>;
  /**
   * Applies a dialler status report. A final status never moves back to a live one, a
   * live status never moves backwards, and a repeated report changes nothing. The contact
   * decision applies only while the contact is `dialling` on this call. Raises
   * CALL_NOT_FOUND.
   */
  applyCallStatus(callId: string, update: CallStatusUpdate): Promise<CallStatusOutcome>;
  /**
   * Deletes a `queued` call that was never placed and returns its contact to `pending`
   * without counting the attempt. Raises CALL_NOT_FOUND or CALL_NOT_REQUEUEABLE.
   */
  requeueCall(callId: string, now: string): Promise<Contact | null>;
  /**
   * Stores a worker's result once per call. An identical repeat returns `duplicate: true`
   * and changes nothing; a different one raises CALL_RESULT_CONFLICT.
   */
  saveCallResult(callId: string, result: CallResult, now: string): Promise<SaveResultOutcome>;
  setCallRecording(callId: string, recording: CallRecording): Promise<Call>;
  /** Inserts an inbound call with its first status history entry. */
  createInboundCall(call: NewInboundCall): Promise<Call>;
  /**
   * Closes live inbound calls without an update for longer than `staleMs` plus the bot's
   * `maxCallDurationMs` as `failed`, reason `abandoned`. `claimAttempts` runs the same sweep.
   */
  closeAbandonedInboundCalls(now: string, staleMs: number): Promise<AbandonedCall[]>;
  /** Returns the tenant's webhook signing secret for `provider`, or null when none is set. */
  getCarrierCredential(
    tenantId: string,
    provider: CarrierCredentialProvider,
  ): Promise<string | null>;
  /** Stores the tenant's webhook signing secret for `provider`; null removes it. */
  setCarrierCredential(
    tenantId: string,
    provider: CarrierCredentialProvider,
    secret: string | null,
    now: string,
  ): Promise<void>;
  getCallById(callId: string): Promise<Call | null>;
  getCall(tenantId: string, callId: string): Promise<CallDetail | null>;
  listCalls(tenantId: string, filter: CallFilter): Promise<Page<Call>>;
}
