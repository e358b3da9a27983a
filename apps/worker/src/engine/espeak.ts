/**
 * Speech synthesis through the espeak-ng program. It runs as a separate process for each
 * prompt, never as a library inside the worker, because espeak-ng is licensed under the GPL
 * (version 3 or later, per its Debian copyright file). Results are cached in memory and as
 * 8 kHz WAV files in a cache directory, keyed by a SHA-256 hash of voice and text, so each
 * prompt is synthesised once per cache directory.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TELEPHONY_SAMPLE_RATE, WavFormatError, encodeWav, parseWav } from '@voxfleet/audio';
import type { Logger } from '@voxfleet/logger';
import { PromptLoadError } from './errors.js';
import { toTelephonyPcm } from './telephony-pcm.js';
import type { PromptSource } from './types.js';

export interface EspeakPromptSourceOptions {
  /** Directory for synthesised WAV files, created on first use. */
  cacheDir: string;
  /** Time limit for one espeak-ng run, in milliseconds. Defaults to 10000. */
  timeoutMs?: number | undefined;
  /** The espeak-ng program, as a name on PATH or a path. Defaults to `espeak-ng`. */
  command?: string | undefined;
  /** Synthesised prompts kept in memory. Defaults to 256. */
  maxMemoryEntries?: number | undefined;
  /** espeak-ng processes run at once. Defaults to 2. */
  maxConcurrent?: number | undefined;
  log?: Logger | undefined;
}

/** espeak-ng voice names: `en-us`, `en+f3`, `mb-en1`, `roa/it`. */
const VOICE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_+./-]{0,63}$/;
/** Largest WAV output accepted, about 25 minutes at espeak-ng's 22.05 kHz. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
const MAX_STDERR_BYTES = 4096;

export class EspeakPromptSource implements PromptSource {
  private readonly cacheDir: string;
  private readonly timeoutMs: number;
  private readonly command: string;
  private readonly maxMemoryEntries: number;
  private readonly maxConcurrent: number;
  private readonly log: Logger | undefined;
  /** Synthesised prompts by cache key, least recently used first. */
  private readonly memory = new Map<string, Int16Array>();
  private readonly inFlight = new Map<string, Promise<Int16Array>>();
  private readonly waiting: Array<() => void> = [];
  private running = 0;

  constructor(options: EspeakPromptSourceOptions) {
    this.cacheDir = options.cacheDir;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.command = options.command ?? 'espeak-ng';
    this.maxMemoryEntries = options.maxMemoryEntries ?? 256;
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? 2);
    this.log = options.log;
  }

  async load(prompt: { text: string }, voice: string): Promise<Int16Array> {
    if (!VOICE_PATTERN.test(voice)) {
      throw new PromptLoadError('TTS_FAILED', prompt.text, `invalid espeak-ng voice "${voice}"`);
    }
    const key = createHash('sha256').update(`${voice}\0${prompt.text}`).digest('hex');
    const cached = this.memory.get(key);
    if (cached !== undefined) {
      this.memory.delete(key);
      this.memory.set(key, cached);
      return cached;
    }
    let pending = this.inFlight.get(key);
    if (pending === undefined) {
      pending = this.loadUncached(key, prompt.text, voice).finally(() => {
        this.inFlight.delete(key);
      });
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async loadUncached(key: string, text: string, voice: string): Promise<Int16Array> {
    const path = join(this.cacheDir, `${key}.wav`);
    let pcm = await this.readCacheFile(path);
    if (pcm === undefined) {
      pcm = await this.withSlot(() => this.synthesise(text, voice));
      await this.writeCacheFile(path, pcm);
    }
    this.memory.set(key, pcm);
    while (this.memory.size > this.maxMemoryEntries) {
      const oldest = this.memory.keys().next();
      if (oldest.done === true) break;
      this.memory.delete(oldest.value);
    }
    return pcm;
  }

  private async readCacheFile(path: string): Promise<Int16Array | undefined> {
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch {
      return undefined;
    }
    try {
      const audio = parseWav(data);
      if (audio.sampleRate === TELEPHONY_SAMPLE_RATE && audio.channels === 1) return audio.samples;
    } catch (err) {
      if (!(err instanceof WavFormatError)) throw err;
    }
    this.log?.warn({ path }, 'tts cache file invalid, synthesising again');
    return undefined;
  }

  /** Writes through a temporary file and a rename, so readers never see a partial file. */
  private async writeCacheFile(path: string, pcm: Int16Array): Promise<void> {
    const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(this.cacheDir, { recursive: true });
      const wav = encodeWav({ sampleRate: TELEPHONY_SAMPLE_RATE, channels: 1, samples: pcm });
      await writeFile(temporary, wav);
      await rename(temporary, path);
    } catch (err) {
      this.log?.warn({ err, cacheDir: this.cacheDir }, 'tts cache write failed');
      await rm(temporary, { force: true });
    }
  }

  private async withSlot<T>(task: () => Promise<T>): Promise<T> {
    while (this.running >= this.maxConcurrent) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** Runs `espeak-ng -v <voice> --stdout -- <text>` and decodes its WAV output. */
  private synthesise(text: string, voice: string): Promise<Int16Array> {
    return new Promise<Int16Array>((resolve, reject) => {
      // `--` ends the options, so a text that starts with "-" is spoken, not parsed.
      const child = spawn(this.command, ['-v', voice, '--stdout', '--', text], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const stdout: Buffer[] = [];
      let stdoutBytes = 0;
      let stderr = '';
      let failure: PromptLoadError | undefined;

      const timer = setTimeout(() => {
        failure = new PromptLoadError(
          'TTS_TIMEOUT',
          text,
          `espeak-ng timed out after ${this.timeoutMs} ms`,
          { retryable: true },
        );
        child.kill('SIGKILL');
      }, this.timeoutMs);

      child.stdout.on('data', (chunk: Buffer) => {
        stdoutBytes += chunk.length;
        if (stdoutBytes > MAX_OUTPUT_BYTES) {
          failure ??= new PromptLoadError(
            'TTS_FAILED',
            text,
            `espeak-ng output exceeds ${MAX_OUTPUT_BYTES} bytes; shorten the prompt text`,
          );
          child.kill('SIGKILL');
          return;
        }
        stdout.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < MAX_STDERR_BYTES) stderr += chunk.toString('utf8');
      });

      child.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err.code === 'ENOENT') {
          reject(
            new PromptLoadError(
              'TTS_UNAVAILABLE',
              text,
              `espeak-ng is not installed ("${this.command}" not found); install the espeak-ng ` +
                'package or give every prompt an audio file',
              { cause: err },
            ),
          );
          return;
        }
        reject(
          new PromptLoadError('TTS_FAILED', text, `espeak-ng failed to start: ${err.message}`, {
            cause: err,
          }),
        );
      });

      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (failure !== undefined) {
          reject(failure);
          return;
        }
        if (code !== 0) {
          const reason = stderr.trim().slice(0, 500) || `exit code ${code ?? signal ?? 'unknown'}`;
          reject(new PromptLoadError('TTS_FAILED', text, `espeak-ng failed: ${reason}`));
          return;
        }
        try {
          resolve(toTelephonyPcm(parseWav(Buffer.concat(stdout))));
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          reject(
            new PromptLoadError('TTS_FAILED', text, `espeak-ng output is not a WAV: ${message}`, {
              cause: err,
            }),
          );
        }
      });
    });
  }
}
