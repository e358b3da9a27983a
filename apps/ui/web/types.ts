/** Shapes of the voxbridge responses the dashboard reads (see voxbridge's `/openapi.json`). */

export type SlotState = 'idle' | 'reserved' | 'busy' | 'draining' | 'offline';

export interface FleetWorker {
  workerId: string;
  url: string;
  host: string;
  pool: string;
  labels: Record<string, string>;
  state: SlotState;
  draining: boolean;
  reservation: {
    ownedByTenant: boolean;
    callId: string | null;
    campaignId: string | null;
    confirmed: boolean;
    deadline: string;
  } | null;
  lastSeenAt: string;
}

export interface FleetCounts {
  workers: number;
  idle: number;
  reserved: number;
  busy: number;
  draining: number;
  offline: number;
}

export interface Fleet {
  registryConfigured: boolean;
  registryError: string | null;
  sampledAt: string | null;
  counts: FleetCounts;
  hosts: Array<{ host: string; pools: Array<{ pool: string; workers: FleetWorker[] }> }>;
}

export interface FleetSample {
  at: string;
  used: number;
  free: number;
  draining: number;
  offline: number;
}

export interface FleetHistory {
  registryConfigured: boolean;
  sampleIntervalMs: number;
  windowMs: number;
  samples: FleetSample[];
}

export interface Bot {
  id: string;
  name: string;
  revision: number;
  config: unknown;
  createdAt: string;
  updatedAt: string;
}

export type CampaignStatus = 'draft' | 'running' | 'paused' | 'completed';

export interface Campaign {
  id: string;
  name: string;
  botId: string;
  status: CampaignStatus;
  concurrency: number;
  maxAttempts: number;
  retryBackoffMs: number;
  callerId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface CampaignProgress {
  total: number;
  pending: number;
  dialling: number;
  done: number;
  failed: number;
  byCallStatus: Record<string, number>;
  byOutcome: Record<string, number>;
}

export interface CampaignDetail extends Campaign {
  progress: CampaignProgress;
}

export interface ImportResult {
  imported: number;
  rejected: Array<{ line: number; errors: string[] }>;
}

export const CALL_STATUSES = [
  'queued',
  'dialling',
  'ringing',
  'in-progress',
  'completed',
  'busy',
  'no-answer',
  'failed',
  'aborted',
] as const;

export type CallStatus = (typeof CALL_STATUSES)[number];

export interface CallSummary {
  id: string;
  botId: string;
  campaignId: string | null;
  contactId: string | null;
  attempt: number;
  to: string;
  status: CallStatus;
  reason: string | null;
  outcome: string | null;
  workerId: string | null;
  createdAt: string;
  answeredAt: string | null;
  endedAt: string | null;
}

export type TranscriptEntry =
  | {
      kind: 'prompt';
      atMs: number;
      nodeId: string;
      text: string;
      playedMs: number;
      interrupted: boolean;
    }
  | { kind: 'dtmf'; atMs: number; digit: string }
  | { kind: 'speech'; atMs: number; durationMs: number; text: string | null }
  | { kind: 'no-input'; atMs: number; nodeId: string };

export interface CallDetail extends CallSummary {
  history: Array<{ status: CallStatus; at: string; reason: string | null }>;
  result: {
    outcome: string;
    hangupBy: string;
    durationMs: number;
    transcript: TranscriptEntry[];
    timeline: Array<{
      event: string;
      at: string;
      detail?: Record<string, string | number | boolean>;
    }>;
    error: string | null;
  } | null;
  recording: { bytes: number; info: { durationMs: number } | null } | null;
  recordingUrl: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
