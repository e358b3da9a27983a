import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  decodeAlaw,
  decodeMulaw,
  encodeAlaw,
  encodeMulaw,
  encodeWav,
  levelDb,
  parseWav,
  resample,
  splitFrames,
  WavFormatError,
} from '../src/index.ts';

function sine(frequency: number, sampleRate: number, samples: number, amplitude: number) {
  return Int16Array.from({ length: samples }, (_, i) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * frequency * i) / sampleRate)),
  );
}

test('mulaw round trip stays within G.711 quantisation error', () => {
  const input = Int16Array.from({ length: 2001 }, (_, i) => (i - 1000) * 32);
  const output = decodeMulaw(encodeMulaw(input));
  for (let i = 0; i < input.length; i++) {
    const original = input[i] ?? 0;
    const error = Math.abs((output[i] ?? 0) - original);
    // μ-law's step grows with the magnitude: at most 1/16 of it plus the bias.
    assert.ok(error <= Math.abs(original) / 16 + 16, `sample ${original} decoded as ${output[i]}`);
  }
});

test('mulaw encodes silence as 0xff and known values per G.711', () => {
  assert.deepEqual([...encodeMulaw(Int16Array.from([0, 32767, -32768]))], [0xff, 0x80, 0x00]);
  assert.equal(decodeMulaw(Uint8Array.from([0xff]))[0], 0);
});

test('alaw round trip stays within G.711 quantisation error', () => {
  const input = Int16Array.from({ length: 2001 }, (_, i) => (i - 1000) * 32);
  const output = decodeAlaw(encodeAlaw(input));
  for (let i = 0; i < input.length; i++) {
    const original = input[i] ?? 0;
    const error = Math.abs((output[i] ?? 0) - original);
    assert.ok(error <= Math.abs(original) / 16 + 16, `sample ${original} decoded as ${output[i]}`);
  }
});

test('alaw encodes silence as 0xd5', () => {
  assert.equal(encodeAlaw(Int16Array.from([0]))[0], 0xd5);
});

test('wav encode then parse gives the same samples', () => {
  const samples = sine(440, 8000, 800, 8000);
  const parsed = parseWav(encodeWav({ sampleRate: 8000, channels: 1, samples }));
  assert.equal(parsed.sampleRate, 8000);
  assert.equal(parsed.channels, 1);
  assert.deepEqual([...parsed.samples], [...samples]);
});

test('parseWav decodes the shipped mu-law prompts', () => {
  const file = readFileSync(new URL('../../../assets/prompts/demo/greeting.wav', import.meta.url));
  const audio = parseWav(file);
  assert.equal(audio.sampleRate, 8000);
  assert.equal(audio.channels, 1);
  assert.ok(audio.samples.length > 8000 * 2, 'greeting is longer than 2 s');
  assert.ok(levelDb(audio.samples) > -40, 'greeting is audible');
});

test('parseWav rejects data that is not WAV', () => {
  assert.throws(() => parseWav(Buffer.from('hello world, not a wav')), WavFormatError);
  assert.throws(() => parseWav(Buffer.alloc(4)), WavFormatError);
});

test('resample keeps duration and frequency', () => {
  const input = sine(400, 16000, 16000, 10000);
  const output = resample(input, 16000, 8000);
  assert.equal(output.length, 8000);
  let crossings = 0;
  for (let i = 1; i < output.length; i++) {
    if ((output[i - 1] ?? 0) < 0 && (output[i] ?? 0) >= 0) crossings++;
  }
  assert.ok(Math.abs(crossings - 400) <= 2, `expected about 400 cycles, got ${crossings}`);
});

test('levelDb of full scale sine is about -3 dBFS and of silence -100', () => {
  assert.ok(Math.abs(levelDb(sine(1000, 8000, 8000, 32767)) + 3.01) < 0.1);
  assert.equal(levelDb(new Int16Array(160)), -100);
});

test('splitFrames pads the last frame with silence', () => {
  const frames = splitFrames(
    Int16Array.from({ length: 170 }, () => 5),
    160,
  );
  assert.equal(frames.length, 2);
  assert.equal(frames[1]?.[9], 5);
  assert.equal(frames[1]?.[10], 0);
});
