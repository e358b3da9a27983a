import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PlaybackQueue } from '../src/playback-queue.js';

const bytes = (length: number, value = 1) => new Uint8Array(length).fill(value);

test('playback queue plays frames across chunks', () => {
  const queue = new PlaybackQueue(10_000);
  queue.pushAudio(bytes(100, 1));
  queue.pushAudio(bytes(100, 2));
  const first = queue.playFrame(160);
  assert.equal(first.audio.length, 160);
  assert.equal(first.audio[99], 1);
  assert.equal(first.audio[100], 2);
  assert.equal(queue.bufferedBytes, 40);
  const second = queue.playFrame(160);
  assert.equal(second.audio.length, 40);
  assert.equal(queue.bufferedBytes, 0);
});

test('playback queue releases a mark with its last audio frame', () => {
  const queue = new PlaybackQueue(10_000);
  queue.pushAudio(bytes(320));
  assert.equal(queue.pushMark('m'), false);
  assert.deepEqual(queue.playFrame(160).marks, []);
  assert.deepEqual(queue.playFrame(160).marks, ['m']);
  assert.equal(queue.pushMark('now'), true, 'a mark on an empty queue has played');
});

test('playback queue clear returns pending marks', () => {
  const queue = new PlaybackQueue(10_000);
  queue.pushAudio(bytes(1600));
  queue.pushMark('a');
  queue.pushAudio(bytes(1600));
  queue.pushMark('b');
  assert.deepEqual(queue.clear(), ['a', 'b']);
  assert.equal(queue.bufferedBytes, 0);
  assert.equal(queue.playFrame(160).audio.length, 0);
});

test('playback queue drops audio beyond its limit', () => {
  const queue = new PlaybackQueue(500);
  assert.equal(queue.pushAudio(bytes(400)), 0);
  assert.equal(queue.pushAudio(bytes(400)), 300);
  assert.equal(queue.bufferedBytes, 500);
});
