/**
 * The result spool. A finished call's recording and result are written to disk first and
 * sent to voxbridge from there, so a bridge outage or a worker restart loses nothing.
 *
 * Layout: `<dir>/pending/<item>/recording.wav`, `result.json` (written last, so an item
 * without it is incomplete and ignored) and `recording-key.json` once the upload was
 * accepted. `<item>` is the call id in base64url. An item voxbridge rejected moves to
 * `<dir>/rejected/<item>/`. Every file is written to a temporary name and renamed, so a
 * crash never leaves a half-written file under its final name.
 *
 * Delivery retries with capped exponential backoff until voxbridge accepts. Both routes
 * are idempotent per call id on the voxbridge side, so sending twice is harmless.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@voxfleet/logger';
import type { CallResult } from '@voxfleet/schema';
import { BridgeClient, type DeliveryResponse } from './bridge-client.js';

export interface SpoolOptions {
  dir: string;
  bridge: BridgeClient;
  log: Logger;
  /** First retry delay; each failure doubles it up to `retryMaxMs`. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** A 404 (call unknown to voxbridge) is retried until this many arrived, then rejected. */
  maxNotFoundAttempts?: number;
  /** Called after voxbridge accepted an item's result. */
  onDelivered?: (callId: string) => void;
}

interface SpoolItem {
  name: string;
  callId: string;
  attempts: number;
  notFoundAttempts: number;
  timer: NodeJS.Timeout | null;
  inFlight: Promise<void> | null;
}

type RecordingUpload = { kind: 'stored'; key: string } | { kind: 'dropped' } | { kind: 'stop' };

const RESULT_FILE = 'result.json';
const RECORDING_FILE = 'recording.wav';
const RECORDING_KEY_FILE = 'recording-key.json';

export class Spool {
  readonly #options: Required<Omit<SpoolOptions, 'onDelivered'>> &
    Pick<SpoolOptions, 'onDelivered'>;
  readonly #items = new Map<string, SpoolItem>();
  #started = false;
  #stopped = false;

  constructor(options: SpoolOptions) {
    this.#options = {
      retryInitialMs: 500,
      retryMaxMs: 30_000,
      maxNotFoundAttempts: 20,
      ...options,
    };
  }

  get pendingCount(): number {
    return this.#items.size;
  }

  /** Creates the folders and schedules every complete item left by a previous run. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopped = false;
    await mkdir(this.#pendingDir(), { recursive: true });
    await mkdir(join(this.#options.dir, 'rejected'), { recursive: true });

    for (const name of await readdir(this.#pendingDir())) {
      const raw = await readFile(join(this.#pendingDir(), name, RESULT_FILE), 'utf8').catch(
        () => null,
      );
      if (raw === null) continue;
      const callId = Buffer.from(name, 'base64url').toString('utf8');
      this.#options.log.info({ callId }, 'spooled result found');
      this.#track(name, callId, 0);
    }
  }

  /** Writes a call's result and recording to the spool and starts sending them. */
  async add(result: CallResult, recording: Buffer | null): Promise<void> {
    const name = Buffer.from(result.callId, 'utf8').toString('base64url');
    const itemDir = join(this.#pendingDir(), name);
    await mkdir(itemDir, { recursive: true });
    if (recording !== null) await writeAtomic(join(itemDir, RECORDING_FILE), recording);
    await writeAtomic(join(itemDir, RESULT_FILE), JSON.stringify(result));
    if (this.#stopped) return;
    this.#track(name, result.callId, 0);
  }

  /** Sends every pending item now; resolves once the spool is empty or `timeoutMs` passed. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#items.size > 0 && Date.now() < deadline) {
      const rounds = [...this.#items.values()].map((item) => this.#deliverNow(item));
      const timeout = new Promise<void>((resolve) => {
        setTimeout(resolve, Math.max(0, deadline - Date.now())).unref();
      });
      await Promise.race([Promise.all(rounds), timeout]);
      if (this.#items.size > 0) await delay(Math.min(200, Math.max(0, deadline - Date.now())));
    }
    return this.#items.size === 0;
  }

  /** Stops retrying and waits for sends in flight; items stay on disk for the next run. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#started = false;
    const inFlight: Promise<void>[] = [];
    for (const item of this.#items.values()) {
      if (item.timer !== null) clearTimeout(item.timer);
      item.timer = null;
      if (item.inFlight !== null) inFlight.push(item.inFlight);
    }
    await Promise.allSettled(inFlight);
    this.#items.clear();
  }

  #pendingDir(): string {
    return join(this.#options.dir, 'pending');
  }

  #track(name: string, callId: string, delayMs: number): void {
    let item = this.#items.get(name);
    if (item === undefined) {
      item = { name, callId, attempts: 0, notFoundAttempts: 0, timer: null, inFlight: null };
      this.#items.set(name, item);
    }
    this.#schedule(item, delayMs);
  }

  #schedule(item: SpoolItem, delayMs: number): void {
    if (this.#stopped) return;
    if (item.timer !== null) clearTimeout(item.timer);
    item.timer = setTimeout(() => {
      item.timer = null;
      void this.#deliverNow(item);
    }, delayMs);
    item.timer.unref();
  }

  #deliverNow(item: SpoolItem): Promise<void> {
    if (item.inFlight !== null) return item.inFlight;
    if (item.timer !== null) clearTimeout(item.timer);
    item.timer = null;
    item.inFlight = this.#deliver(item)
      .catch((err: unknown) => {
        this.#options.log.error({ err, callId: item.callId }, 'spool delivery failed');
        this.#retryLater(item, 'local error');
      })
      .finally(() => {
        item.inFlight = null;
      });
    return item.inFlight;
  }

  async #deliver(item: SpoolItem): Promise<void> {
    const { log, bridge } = this.#options;
    const itemDir = join(this.#pendingDir(), item.name);
    const raw = await readFile(join(itemDir, RESULT_FILE), 'utf8').catch(() => null);
    if (raw === null) {
      // Another delivery of the same item finished first and removed it.
      this.#items.delete(item.name);
      return;
    }
    const result = parseSpooledResult(raw);
    item.attempts++;

    if (result.recording !== null) {
      const upload = await this.#uploadRecording(item, itemDir);
      if (upload.kind === 'stop') return;
      result.recording = upload.kind === 'stored' ? { ...result.recording, key: upload.key } : null;
    }

    // The posted result carries the time of its own post, so voxbridge can see spool delays.
    if (result.timeline.length < 1000) {
      result.timeline.push({
        event: 'result-posted',
        at: new Date().toISOString(),
        detail: { attempt: item.attempts },
      });
    }
    const response = await bridge.postResult(result);
    if (!this.#handleFailure(item, response, 'result')) return;
    if (response.kind === 'conflict') {
      log.warn({ callId: item.callId }, 'result already stored by voxbridge');
    }

    await rm(itemDir, { recursive: true, force: true });
    this.#items.delete(item.name);
    log.info({ callId: item.callId, attempts: item.attempts }, 'result delivered');
    this.#options.onDelivered?.(item.callId);
  }

  /**
   * Uploads the recording unless an earlier attempt did. A recording voxbridge rejects (too
   * large, not a WAV) is dropped, so the result still goes out with `recording: null`.
   */
  async #uploadRecording(item: SpoolItem, itemDir: string): Promise<RecordingUpload> {
    const keyFile = join(itemDir, RECORDING_KEY_FILE);
    const stored = await readFile(keyFile, 'utf8').catch(() => null);
    if (stored !== null) {
      const key = BridgeClient.readRecordingKey(JSON.parse(stored));
      return key === null ? { kind: 'dropped' } : { kind: 'stored', key };
    }

    const wav = await readFile(join(itemDir, RECORDING_FILE));
    const response = await this.#options.bridge.uploadRecording(item.callId, wav);
    if (response.kind === 'rejected') {
      this.#options.log.error(
        { callId: item.callId, status: response.status, response: response.message },
        'voxbridge rejected recording; posting result without it',
      );
      await writeAtomic(keyFile, JSON.stringify({ key: null }));
      return { kind: 'dropped' };
    }
    if (!this.#handleFailure(item, response, 'recording')) return { kind: 'stop' };

    // NOTE: voxbridge responds to an accepted upload with `{ key, bytes }` and stores the key on
    // the call itself. Should a response lack the key, the result carries this placeholder.
    const key =
      (response.kind === 'accepted' ? BridgeClient.readRecordingKey(response.body) : null) ??
      `${item.callId}.wav`;
    await writeAtomic(keyFile, JSON.stringify({ key }));
    return { kind: 'stored', key };
  }

  /** Handles a delivery response; returns true when delivery may go on. */
  #handleFailure(item: SpoolItem, response: DeliveryResponse, what: string): boolean {
    const { log } = this.#options;
    switch (response.kind) {
      case 'accepted':
      case 'conflict':
        return true;
      case 'retry':
        this.#retryLater(item, response.message, response.status, what);
        return false;
      case 'not-found':
        item.notFoundAttempts++;
        if (item.notFoundAttempts < this.#options.maxNotFoundAttempts) {
          this.#retryLater(item, 'call not found', 404, what);
          return false;
        }
        void this.#reject(item, response.status, response.message, what);
        return false;
      case 'rejected':
        void this.#reject(item, response.status, response.message, what);
        return false;
      default:
        log.error({ callId: item.callId }, 'unexpected delivery response');
        return false;
    }
  }

  #retryLater(item: SpoolItem, reason: string, status = 0, what = 'item'): void {
    const base = Math.min(
      this.#options.retryMaxMs,
      this.#options.retryInitialMs * 2 ** Math.min(item.attempts - 1, 30),
    );
    // Up to 20 % jitter, so workers that lost the bridge together do not retry in step.
    const delayMs = Math.round(base * (0.8 + Math.random() * 0.2));
    this.#options.log.warn(
      { callId: item.callId, what, status, reason, attempts: item.attempts, delayMs },
      'spool delivery retry scheduled',
    );
    this.#schedule(item, delayMs);
  }

  async #reject(item: SpoolItem, status: number, message: string, what: string): Promise<void> {
    const { log } = this.#options;
    log.error(
      { callId: item.callId, what, status, response: message },
      'voxbridge rejected spooled item',
    );
    this.#items.delete(item.name);
    const target = join(this.#options.dir, 'rejected', item.name);
    try {
      await rm(target, { recursive: true, force: true });
      await rename(join(this.#pendingDir(), item.name), target);
    } catch (err) {
      log.error({ err, callId: item.callId }, 'moving rejected item failed');
    }
  }
}

async function writeAtomic(path: string, data: Buffer | string): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(temp, data);
  await rename(temp, path);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Parses a result file that this worker wrote from a typed `CallResult`. It checks only the
 * fields the spool reads, so that loading zod is not needed; voxbridge validates the whole
 * result when it is posted. Throws on a damaged file.
 */
function parseSpooledResult(raw: string): CallResult {
  const value: unknown = JSON.parse(raw);
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as { callId?: unknown }).callId !== 'string' ||
    !Array.isArray((value as { timeline?: unknown }).timeline) ||
    typeof (value as { recording?: unknown }).recording !== 'object'
  ) {
    throw new Error('spooled result is not a call result');
  }
  return value as CallResult;
}
