/**
 * Prompt sources: WAV files under a prompts directory, espeak-ng speech synthesis, and the
 * composite the worker uses (the file when a prompt names one, synthesis otherwise). Every
 * source returns 8 kHz mono 16-bit PCM.
 *
 * @example
 * const prompts = createPromptSource({ promptsDir: './prompts', ttsCacheDir: './.tts-cache' });
 * const pcm = await prompts.load({ text: 'Hello', audio: 'hello.wav' }, 'en-us');
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { WavFormatError, parseWav } from '@voxfleet/audio';
import type { Logger } from '@voxfleet/logger';
import { PromptLoadError } from './errors.js';
import { EspeakPromptSource } from './espeak.js';
import { toTelephonyPcm } from './telephony-pcm.js';
import type { PromptSource } from './types.js';

export { EspeakPromptSource, type EspeakPromptSourceOptions } from './espeak.js';
export { toTelephonyPcm } from './telephony-pcm.js';

type PromptInput = Parameters<PromptSource['load']>[0];

/** Whether `path` lies strictly inside `dir`; both must be absolute. */
export function isInsideDir(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

export interface FilePromptSourceOptions {
  /** Larger files are rejected. Defaults to 50 MB, about 27 minutes of 16 kHz mono WAV. */
  maxFileBytes?: number;
}

interface CachedFile {
  mtimeMs: number;
  size: number;
  pcm: Int16Array;
}

/**
 * Loads prompts from WAV files under a directory, in any format `parseWav` decodes. A path
 * that leaves the directory, directly or through a symbolic link, is rejected. Decoded
 * files are cached in memory until their size or modification time changes.
 */
export class FilePromptSource implements PromptSource {
  private readonly dir: string;
  private readonly maxFileBytes: number;
  private readonly cache = new Map<string, CachedFile>();

  /** `dir` is the directory that prompt `audio` paths are relative to. */
  constructor(dir: string, options: FilePromptSourceOptions = {}) {
    this.dir = resolve(dir);
    this.maxFileBytes = options.maxFileBytes ?? 50 * 1024 * 1024;
  }

  async load(prompt: PromptInput, _voice?: string): Promise<Int16Array> {
    const audio = prompt.audio;
    if (audio === undefined) {
      throw new PromptLoadError(
        'PROMPT_AUDIO_MISSING',
        prompt.text,
        'prompt has no audio file; use a source with speech synthesis for text-only prompts',
      );
    }
    const path = resolve(this.dir, audio);
    if (!isInsideDir(this.dir, path)) {
      throw new PromptLoadError(
        'PROMPT_PATH_INVALID',
        audio,
        `prompt file "${audio}" is outside the prompts directory ${this.dir}`,
      );
    }

    const realPath = await this.resolveRealPath(audio, path);
    const info = await stat(realPath);
    if (!info.isFile()) {
      throw new PromptLoadError('PROMPT_NOT_FOUND', audio, `prompt file "${audio}" is not a file`);
    }
    if (info.size > this.maxFileBytes) {
      throw new PromptLoadError(
        'PROMPT_AUDIO_INVALID',
        audio,
        `prompt file "${audio}" is ${info.size} bytes, over the limit of ${this.maxFileBytes}`,
      );
    }
    const cached = this.cache.get(realPath);
    if (cached !== undefined && cached.mtimeMs === info.mtimeMs && cached.size === info.size) {
      return cached.pcm;
    }

    const data = await readFile(realPath);
    let pcm: Int16Array;
    try {
      pcm = toTelephonyPcm(parseWav(data));
    } catch (err) {
      if (!(err instanceof WavFormatError)) throw err;
      throw new PromptLoadError(
        'PROMPT_AUDIO_INVALID',
        audio,
        `prompt file "${audio}" is not a usable WAV file: ${err.message}`,
        { cause: err },
      );
    }
    this.cache.set(realPath, { mtimeMs: info.mtimeMs, size: info.size, pcm });
    return pcm;
  }

  /** Resolves symbolic links and checks that the target is still inside the directory. */
  private async resolveRealPath(audio: string, path: string): Promise<string> {
    let realDir: string;
    let realPath: string;
    try {
      realDir = await realpath(this.dir);
      realPath = await realpath(path);
    } catch (err) {
      if (err instanceof Error && 'code' in err && err.code === 'ENOENT') {
        throw new PromptLoadError(
          'PROMPT_NOT_FOUND',
          audio,
          `prompt file "${audio}" not found in ${this.dir}`,
          { cause: err },
        );
      }
      throw err;
    }
    if (!isInsideDir(realDir, realPath)) {
      throw new PromptLoadError(
        'PROMPT_PATH_INVALID',
        audio,
        `prompt file "${audio}" links outside the prompts directory ${this.dir}`,
      );
    }
    return realPath;
  }
}

/** Loads a prompt from its audio file when it names one, and synthesises its text otherwise. */
export class CompositePromptSource implements PromptSource {
  private readonly files: PromptSource;
  private readonly tts: PromptSource;

  /** `files` loads prompts that name an audio file and `tts` synthesises the others. */
  constructor(files: PromptSource, tts: PromptSource) {
    this.files = files;
    this.tts = tts;
  }

  load(prompt: PromptInput, voice: string): Promise<Int16Array> {
    return prompt.audio !== undefined
      ? this.files.load(prompt, voice)
      : this.tts.load(prompt, voice);
  }
}

export interface PromptSourceOptions {
  /** Directory that prompt `audio` paths are relative to. */
  promptsDir: string;
  /** Directory for synthesised prompts, created on first use. */
  ttsCacheDir: string;
  /** Time limit for one espeak-ng run, in milliseconds. Defaults to 10000. */
  ttsTimeoutMs?: number;
  /** The espeak-ng program, as a name on PATH or a path. Defaults to `espeak-ng`. */
  espeakCommand?: string;
  log?: Logger;
}

/** Builds the worker's prompt source: files under `promptsDir`, espeak-ng for the rest. */
export function createPromptSource(options: PromptSourceOptions): CompositePromptSource {
  return new CompositePromptSource(
    new FilePromptSource(options.promptsDir),
    new EspeakPromptSource({
      cacheDir: options.ttsCacheDir,
      timeoutMs: options.ttsTimeoutMs,
      command: options.espeakCommand,
      log: options.log,
    }),
  );
}
