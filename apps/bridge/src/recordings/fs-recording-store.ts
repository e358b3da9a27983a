/**
 * Recordings as files under one root folder. A write goes to a temp file in the root
 * folder and is renamed into place, so readers never see a partial file.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { assertRecordingKey } from './keys.js';
import type { OpenedRecording, RecordingStore, StoredRecording } from './types.js';

export interface FsRecordingStoreOptions {
  /** Root folder; `init()` creates it. */
  dir: string;
}

export class FsRecordingStore implements RecordingStore {
  readonly #root: string;

  constructor(options: FsRecordingStoreOptions) {
    this.#root = resolve(options.dir);
  }

  #pathOf(key: string): string {
    assertRecordingKey(key);
    const path = resolve(this.#root, key);
    if (!path.startsWith(this.#root + sep)) throw new Error(`invalid recording key "${key}"`);
    return path;
  }

  async init(): Promise<void> {
    await mkdir(this.#root, { recursive: true });
  }

  put(key: string, source: Readable): Promise<StoredRecording> {
    const path = this.#pathOf(key);
    // The temp file goes in the root folder that init() created, so no await comes before
    // the pipeline attaches to `source`. The rename stays atomic on the same file system.
    const temp = join(this.#root, `.${randomUUID()}.tmp`);
    const written = pipeline(source, createWriteStream(temp, { flags: 'wx' }));
    return this.#commit(written, temp, key, path);
  }

  async #commit(
    written: Promise<void>,
    temp: string,
    key: string,
    path: string,
  ): Promise<StoredRecording> {
    try {
      await written;
      const { size } = await stat(temp);
      await mkdir(dirname(path), { recursive: true });
      await rename(temp, path);
      return { key, bytes: size };
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async open(key: string): Promise<OpenedRecording | null> {
    const path = this.#pathOf(key);
    try {
      const { size } = await stat(path);
      return { stream: createReadStream(path), bytes: size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.#pathOf(key), { force: true });
  }

  /** Returns null: files have no URL of their own, so voxbridge streams them. */
  async getDownloadUrl(key: string): Promise<string | null> {
    this.#pathOf(key);
    return null;
  }

  async close(): Promise<void> {
    // Nothing to release: every stream closes itself.
  }
}
