/** CallRecorder: chunked caller storage, bot placement and cuts, the length limit. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseWav } from '@voxfleet/audio';
import { CallRecorder } from '../src/engine/index.js';

function ramp(length: number, from: number): Int16Array {
  return Int16Array.from({ length }, (_, i) => from + i);
}

function channel(wav: Buffer, index: number): Int16Array {
  const audio = parseWav(wav);
  assert.equal(audio.channels, 2);
  assert.equal(audio.sampleRate, 8000);
  return Int16Array.from({ length: audio.samples.length / 2 }, (_, i) => {
    return audio.samples[i * 2 + index] ?? 0;
  });
}

describe('CallRecorder', () => {
  test('caller audio spans chunk boundaries intact', () => {
    const recorder = new CallRecorder({ maxDurationMs: 10_000, chunkMs: 20 });
    const frames = [ramp(100, 0), ramp(250, 100), ramp(30, 350)];
    for (const frame of frames) assert.equal(recorder.writeCaller(frame), true);
    const { wav, durationMs } = recorder.render(380);
    assert.equal(durationMs, Math.round(380 / 8));
    assert.deepEqual(channel(wav, 0), ramp(380, 0));
    assert.deepEqual(channel(wav, 1), new Int16Array(380));
  });

  test('bot prompt lands at its start and stops at the cut', () => {
    const recorder = new CallRecorder({ maxDurationMs: 10_000 });
    recorder.writeCaller(new Int16Array(800));
    const prompt = ramp(400, 1);
    const placement = recorder.placeBot(prompt, 100);
    recorder.cutBot(placement, 300);
    const bot = channel(recorder.render(800).wav, 1);
    assert.equal(bot[99], 0);
    assert.equal(bot[100], 1);
    assert.equal(bot[299], 200);
    assert.equal(bot[300], 0, 'audio after the cut is dropped');
    assert.equal(
      bot.slice(300).some((sample) => sample !== 0),
      false,
    );
  });

  test('recording stops at maxDurationMs', () => {
    const recorder = new CallRecorder({ maxDurationMs: 100 });
    assert.equal(recorder.writeCaller(new Int16Array(640).fill(5)), true);
    assert.equal(recorder.writeCaller(new Int16Array(320).fill(5)), false);
    assert.equal(recorder.recordedSamples, 800);
    const { wav, durationMs } = recorder.render(960);
    assert.equal(durationMs, 100);
    assert.equal(channel(wav, 0).length, 800);
  });
});
