/** SpeechDetector against real speech (asterisk's hello.wav) and synthetic line noise. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { FRAME_SAMPLES, parseWav } from '@voxfleet/audio';
import { SpeechDetector, toTelephonyPcm } from '../src/engine/index.js';

const HELLO = toTelephonyPcm(parseWav(readFileSync('/usr/share/asterisk/sounds/en/hello.wav')));
const VAD = { thresholdDb: -35, minSpeechMs: 120, endSilenceMs: 700 };

interface Utterance {
  startMs: number;
  durationMs: number | undefined;
}

/** White noise at `db` dBFS RMS from a fixed-seed generator, so runs repeat exactly. */
function makeNoise(samples: number, db: number, seed = 1): Int16Array {
  const amplitude = 32768 * 10 ** (db / 20) * Math.sqrt(3);
  const out = new Int16Array(samples);
  let state = seed;
  for (let i = 0; i < samples; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round((state / 2 ** 32 - 0.5) * 2 * amplitude);
  }
  return out;
}

/** Mixes `speech` into `base` at `atMs`, scaled by `gainDb`. */
function mixAt(base: Int16Array, speech: Int16Array, atMs: number, gainDb = 0): Int16Array {
  const out = base.slice();
  const gain = 10 ** (gainDb / 20);
  const offset = atMs * 8;
  for (let i = 0; i < speech.length && offset + i < out.length; i++) {
    const mixed = (out[offset + i] ?? 0) + Math.round((speech[i] ?? 0) * gain);
    out[offset + i] = Math.max(-32768, Math.min(32767, mixed));
  }
  return out;
}

function detect(audio: Int16Array, chunkSamples = FRAME_SAMPLES, options = VAD): Utterance[] {
  const utterances: Utterance[] = [];
  const detector = new SpeechDetector(options, {
    onSpeechStart: (startMs) => utterances.push({ startMs, durationMs: undefined }),
    onSpeechEnd: (startMs, durationMs) => {
      const last = utterances[utterances.length - 1];
      assert.equal(last?.startMs, startMs, 'speech end matches the last start');
      last.durationMs = durationMs;
    },
  });
  for (let offset = 0; offset < audio.length; offset += chunkSamples) {
    detector.process(audio.subarray(offset, offset + chunkSamples));
  }
  detector.flush();
  return utterances;
}

const seconds = (s: number) => new Int16Array(s * 8000);

/** Generates a 400 Hz tone of `ms` milliseconds at `db` dBFS RMS. */
function tone(ms: number, db: number): Int16Array {
  const amplitude = 32768 * 10 ** (db / 20) * Math.SQRT2;
  return Int16Array.from({ length: ms * 8 }, (_, i) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * 400 * i) / 8000)),
  );
}

describe('SpeechDetector', () => {
  test('white noise at -50 dBFS is not speech', () => {
    assert.deepEqual(detect(makeNoise(10 * 8000, -50)), []);
  });

  test('steady noise above the threshold is not speech', () => {
    // -25 dBFS is above the -35 dBFS threshold, so only the noise floor keeps it out.
    assert.deepEqual(detect(makeNoise(10 * 8000, -25)), []);
  });

  test('hello.wav is one utterance', () => {
    const utterances = detect(mixAt(seconds(3), HELLO, 1000));
    assert.equal(utterances.length, 1);
    const [hello] = utterances;
    assert.ok(hello !== undefined);
    assert.ok(hello.startMs >= 1000, `started at ${hello.startMs}`);
    assert.ok(hello.startMs <= 1150, `started at ${hello.startMs}`);
    assert.ok(hello.durationMs !== undefined);
    assert.ok(hello.durationMs >= 400, `lasted ${hello.durationMs}`);
    assert.ok(hello.durationMs <= 700, `lasted ${hello.durationMs}`);
  });

  test('hello.wav over -50 dBFS noise is detected', () => {
    const utterances = detect(mixAt(makeNoise(4 * 8000, -50), HELLO, 2000));
    assert.equal(utterances.length, 1);
    assert.ok((utterances[0]?.startMs ?? 0) >= 2000);
  });

  test('hello.wav over -30 dBFS noise is detected', () => {
    // The floor rises to about -31 dBFS, so speech must reach about -21 dBFS to start.
    const utterances = detect(mixAt(makeNoise(5 * 8000, -30), HELLO, 3000, 6));
    assert.equal(utterances.length, 1);
    const start = utterances[0]?.startMs ?? 0;
    assert.ok(start >= 3000, `started at ${start}`);
    assert.ok(start <= 3200, `started at ${start}`);
  });

  test('hysteresis holds speech through a dip', () => {
    // -38 dBFS is below the -35 dBFS start threshold but above the -41 dBFS stop threshold.
    const audio = mixAt(mixAt(seconds(3), tone(200, -25), 500), tone(1000, -38), 700);
    const utterances = detect(audio);
    assert.equal(utterances.length, 1);
    assert.equal(utterances[0]?.startMs, 500);
    assert.equal(utterances[0]?.durationMs, 1200);
  });

  test('dip alone does not start speech', () => {
    assert.deepEqual(detect(mixAt(seconds(3), tone(1000, -38), 500)), []);
  });

  test('short pause keeps one utterance', () => {
    const audio = mixAt(mixAt(seconds(4), HELLO, 500), HELLO, 500 + 800 + 300);
    assert.equal(detect(audio).length, 1);
  });

  test('long pause splits utterances', () => {
    const audio = mixAt(mixAt(seconds(5), HELLO, 500), HELLO, 500 + 800 + 1500);
    assert.equal(detect(audio).length, 2);
  });

  test('speech shorter than minSpeechMs is ignored', () => {
    const click = HELLO.subarray(6 * FRAME_SAMPLES, 9 * FRAME_SAMPLES);
    assert.deepEqual(detect(mixAt(seconds(2), click, 500)), []);
  });

  test('chunk size does not change the result', () => {
    const audio = mixAt(mixAt(makeNoise(6 * 8000, -45), HELLO, 1000), HELLO, 3500);
    const expected = detect(audio);
    assert.equal(expected.length, 2);
    for (const chunk of [80, 100, 320, 4000]) {
      assert.deepEqual(detect(audio, chunk), expected, `chunks of ${chunk} samples`);
    }
  });

  test('flush ends an utterance in progress', () => {
    const utterances = detect(mixAt(seconds(1), HELLO, 500));
    assert.equal(utterances.length, 1);
    assert.ok((utterances[0]?.durationMs ?? 0) > 0);
  });

  test('one frame costs well under 0.1 ms', () => {
    const detector = new SpeechDetector(VAD, { onSpeechStart: () => {}, onSpeechEnd: () => {} });
    const audio = mixAt(makeNoise(60 * 8000, -45), HELLO, 1000);
    const frames = audio.length / FRAME_SAMPLES;
    const startedAt = process.hrtime.bigint();
    for (let i = 0; i < frames; i++) {
      detector.process(audio.subarray(i * FRAME_SAMPLES, (i + 1) * FRAME_SAMPLES));
    }
    const perFrameMs = Number(process.hrtime.bigint() - startedAt) / 1e6 / frames;
    assert.ok(perFrameMs < 0.1, `${perFrameMs.toFixed(4)} ms per frame`);
  });
});
