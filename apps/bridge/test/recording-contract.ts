/**
 * The contract every `RecordingStore` backend must pass. A backend's test file calls
 * `runRecordingContract` with a factory that returns a fresh, initialised store and a cleanup.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, test } from 'node:test';

import type { RecordingStore } from '../src/recordings/types.js';

export interface RecordingFixture {
  store: RecordingStore;
  cleanup(): Promise<void>;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

/** Returns a source that sends `head` and then fails, like an upload cut off mid-body. */
function failingSource(head: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(head);
        return;
      }
      this.destroy(new Error('client went away'));
    },
  });
}

/** Streams `total` bytes of a repeating pattern in 64 KiB chunks. */
function patternSource(total: number): { source: Readable; sha256: string } {
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < total; offset += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, total - offset));
    hash.update(part);
    chunks.push(part);
  }
  return { source: Readable.from(chunks), sha256: hash.digest('hex') };
}

export function runRecordingContract(
  name: string,
  createStore: () => Promise<RecordingFixture>,
): void {
  describe(`${name} recording contract`, () => {
    let fixture: RecordingFixture;
    let store: RecordingStore;

    beforeEach(async () => {
      fixture = await createStore();
      store = fixture.store;
    });

    afterEach(async () => {
      await fixture.cleanup();
    });

    test('put and open round trip', async () => {
      const body = Buffer.from('RIFF\0\0\0\0WAVE and some audio bytes');
      const stored = await store.put('ten_1/call_1.wav', Readable.from([body]));
      assert.deepEqual(stored, { key: 'ten_1/call_1.wav', bytes: body.length });
      const opened = await store.open('ten_1/call_1.wav');
      assert.notEqual(opened, null);
      assert.equal(opened?.bytes, body.length);
      assert.deepEqual(await readAll(opened?.stream ?? Readable.from([])), body);
    });

    test('open of missing key is null', async () => {
      assert.equal(await store.open('ten_1/missing.wav'), null);
    });

    test('put replaces earlier recording', async () => {
      await store.put('ten_1/call_2.wav', Readable.from([Buffer.from('first version')]));
      const second = Buffer.from('second, longer version');
      const stored = await store.put('ten_1/call_2.wav', Readable.from([second]));
      assert.equal(stored.bytes, second.length);
      const opened = await store.open('ten_1/call_2.wav');
      assert.deepEqual(await readAll(opened?.stream ?? Readable.from([])), second);
    });

    test('failed source keeps earlier recording', async () => {
      const first = Buffer.from('complete first upload');
      await store.put('ten_1/call_3.wav', Readable.from([first]));
      await assert.rejects(
        store.put('ten_1/call_3.wav', failingSource(Buffer.from('partial'))),
        /client went away/,
      );
      const opened = await store.open('ten_1/call_3.wav');
      assert.equal(opened?.bytes, first.length);
      assert.deepEqual(await readAll(opened?.stream ?? Readable.from([])), first);
    });

    test('failed source stores nothing', async () => {
      await assert.rejects(
        store.put('ten_1/call_4.wav', failingSource(Buffer.from('partial'))),
        /client went away/,
      );
      assert.equal(await store.open('ten_1/call_4.wav'), null);
      assert.equal(await store.getDownloadUrl('ten_1/call_4.wav'), null);
    });

    test('source written after put returns', async () => {
      const source = new PassThrough();
      const storing = store.put('ten_1/call_5.wav', source);
      source.write(Buffer.from('written '));
      source.end(Buffer.from('after the call'));
      const stored = await storing;
      assert.equal(stored.bytes, 'written after the call'.length);

      const failing = new PassThrough();
      const rejected = store.put('ten_1/call_6.wav', failing);
      failing.destroy(new Error('guard rejected the body'));
      await assert.rejects(rejected, /guard rejected the body/);
    });

    test('large body streams whole', async () => {
      // 11 MiB spans three multipart parts of 5 MiB in the S3 backend.
      const { source, sha256 } = patternSource(11 * 1024 * 1024 + 123);
      const stored = await store.put('ten_1/call_7.wav', source);
      assert.equal(stored.bytes, 11 * 1024 * 1024 + 123);
      const opened = await store.open('ten_1/call_7.wav');
      assert.equal(opened?.bytes, stored.bytes);
      const hash = createHash('sha256');
      for await (const chunk of opened?.stream ?? Readable.from([])) hash.update(chunk as Buffer);
      assert.equal(hash.digest('hex'), sha256);
    });

    test('delete removes and tolerates missing', async () => {
      await store.put('ten_1/call_8.wav', Readable.from([Buffer.from('to delete')]));
      await store.delete('ten_1/call_8.wav');
      assert.equal(await store.open('ten_1/call_8.wav'), null);
      await store.delete('ten_1/call_8.wav');
    });

    test('invalid keys are rejected', async () => {
      for (const key of ['../escape.wav', '/abs.wav', 'a//b.wav', 'ten_1/../x.wav', '']) {
        await assert.rejects(
          async () => store.put(key, Readable.from([Buffer.from('x')])),
          /invalid recording key/,
          key,
        );
        await assert.rejects(async () => store.open(key), /invalid recording key/, key);
        await assert.rejects(async () => store.delete(key), /invalid recording key/, key);
      }
    });

    test('download url serves the bytes', async () => {
      const body = Buffer.from('RIFF\0\0\0\0WAVE presigned');
      await store.put('ten_1/call_9.wav', Readable.from([body]));
      const url = await store.getDownloadUrl('ten_1/call_9.wav');
      assert.equal(await store.getDownloadUrl('ten_1/missing.wav'), null);
      if (url === null) return;
      const response = await fetch(url);
      assert.equal(response.status, 200);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), body);
    });

    test('init and close are idempotent', async () => {
      await store.init();
      await store.init();
      await store.put('ten_1/call_10.wav', Readable.from([Buffer.from('still works')]));
      assert.equal((await store.open('ten_1/call_10.wav'))?.bytes, 'still works'.length);
    });
  });
}
