/** Prompt sources against real files, a real espeak-ng and a stand-in program that hangs. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodeWav, levelDb, parseWav, resample } from '@voxfleet/audio';
import {
  CompositePromptSource,
  EngineError,
  EspeakPromptSource,
  FilePromptSource,
  type PromptSource,
} from '../src/engine/index.js';

const SOUNDS = '/usr/share/asterisk/sounds/en';
const HELLO_PATH = join(SOUNDS, 'hello.wav');
const HELLO = parseWav(readFileSync(HELLO_PATH)).samples;
const espeakInstalled = spawnSync('espeak-ng', ['--version']).status === 0;
const needsEspeak = { skip: espeakInstalled ? false : 'espeak-ng is not installed' };

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<EngineError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof EngineError, `expected an EngineError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected a ${code} rejection`);
}

let root = '';
let promptsDir = '';

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'engine-prompts-'));
  promptsDir = join(root, 'prompts');
  await mkdir(join(promptsDir, 'sub'), { recursive: true });
  await copyFile(HELLO_PATH, join(promptsDir, 'hello.wav'));
  await copyFile(HELLO_PATH, join(root, 'outside.wav'));
  await symlink(join(root, 'outside.wav'), join(promptsDir, 'escape.wav'));
  await writeFile(join(promptsDir, 'sub', 'broken.wav'), 'not a wav file at all');

  // hello.wav as 16 kHz stereo: left is the speech, right is silence.
  const wide = resample(HELLO, 8000, 16000);
  const stereo = new Int16Array(wide.length * 2);
  for (let i = 0; i < wide.length; i++) stereo[i * 2] = wide[i] ?? 0;
  const file = encodeWav({ sampleRate: 16000, channels: 2, samples: stereo });
  await writeFile(join(promptsDir, 'sub', 'hello-16k-stereo.wav'), file);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('FilePromptSource', () => {
  test('8 kHz mono file loads unchanged', async () => {
    const pcm = await new FilePromptSource(promptsDir).load(
      { text: 'hello', audio: 'hello.wav' },
      'en-us',
    );
    assert.deepEqual(pcm, HELLO);
  });

  test('16 kHz stereo file becomes 8 kHz mono', async () => {
    const pcm = await new FilePromptSource(promptsDir).load(
      { text: 'hello', audio: 'sub/hello-16k-stereo.wav' },
      'en-us',
    );
    assert.ok(Math.abs(pcm.length - HELLO.length) <= 1, `${pcm.length} samples`);
    // Averaging with the silent right channel halves the level: about -6 dB.
    const drop = levelDb(HELLO) - levelDb(pcm);
    assert.ok(drop > 5, `level dropped ${drop.toFixed(2)} dB`);
    assert.ok(drop < 7, `level dropped ${drop.toFixed(2)} dB`);
  });

  test('missing file is PROMPT_NOT_FOUND', async () => {
    const source = new FilePromptSource(promptsDir);
    const err = await rejectsWithCode(
      source.load({ text: 'x', audio: 'nope.wav' }, 'en-us'),
      'PROMPT_NOT_FOUND',
    );
    assert.match(err.message, /nope\.wav/);
  });

  test('path leaving the directory is rejected', async () => {
    const source = new FilePromptSource(promptsDir);
    await rejectsWithCode(
      source.load({ text: 'x', audio: '../outside.wav' }, 'en-us'),
      'PROMPT_PATH_INVALID',
    );
    await rejectsWithCode(
      source.load({ text: 'x', audio: '/etc/passwd.wav' }, 'en-us'),
      'PROMPT_PATH_INVALID',
    );
  });

  test('symlink leaving the directory is rejected', async () => {
    const source = new FilePromptSource(promptsDir);
    await rejectsWithCode(
      source.load({ text: 'x', audio: 'escape.wav' }, 'en-us'),
      'PROMPT_PATH_INVALID',
    );
  });

  test('file that is not a WAV is PROMPT_AUDIO_INVALID', async () => {
    const source = new FilePromptSource(promptsDir);
    await rejectsWithCode(
      source.load({ text: 'x', audio: 'sub/broken.wav' }, 'en-us'),
      'PROMPT_AUDIO_INVALID',
    );
  });

  test('prompt without audio is rejected', async () => {
    const source = new FilePromptSource(promptsDir);
    await rejectsWithCode(source.load({ text: 'x' }, 'en-us'), 'PROMPT_AUDIO_MISSING');
  });
});

describe('EspeakPromptSource', () => {
  test('synthesises 8 kHz speech and caches it on disk', needsEspeak, async () => {
    const cacheDir = join(root, 'tts-cache');
    const source = new EspeakPromptSource({ cacheDir });
    const text = 'Your appointment is on Monday.';
    const pcm = await source.load({ text }, 'en-us');
    assert.ok(pcm.length > 8000, `${pcm.length} samples`);
    assert.ok(levelDb(pcm) > -40);

    const key = createHash('sha256').update(`en-us\0${text}`).digest('hex');
    const cached = parseWav(readFileSync(join(cacheDir, `${key}.wav`)));
    assert.equal(cached.sampleRate, 8000);
    assert.equal(cached.channels, 1);
    assert.deepEqual(cached.samples, pcm);
    assert.deepEqual(await readdir(cacheDir), [`${key}.wav`], 'no temporary files are left');

    // A second source without a working espeak-ng still loads the prompt from disk.
    const offline = new EspeakPromptSource({ cacheDir, command: join(root, 'missing') });
    assert.deepEqual(await offline.load({ text }, 'en-us'), pcm);
    await rejectsWithCode(offline.load({ text: 'Not cached yet.' }, 'en-us'), 'TTS_UNAVAILABLE');
  });

  test('text starting with a dash is spoken', needsEspeak, async () => {
    const source = new EspeakPromptSource({ cacheDir: join(root, 'tts-dash') });
    const pcm = await source.load({ text: '-v sounds like an option' }, 'en-us');
    assert.ok(pcm.length > 8000);
  });

  test('unknown voice is TTS_FAILED', needsEspeak, async () => {
    const source = new EspeakPromptSource({ cacheDir: join(root, 'tts-voice') });
    const err = await rejectsWithCode(source.load({ text: 'hi' }, 'xx-nosuchvoice'), 'TTS_FAILED');
    assert.match(err.message, /voice/);
  });

  test('invalid voice name is rejected before running', async () => {
    const source = new EspeakPromptSource({ cacheDir: join(root, 'tts-voice') });
    await rejectsWithCode(source.load({ text: 'hi' }, '--stdin'), 'TTS_FAILED');
  });

  test('missing program is TTS_UNAVAILABLE', async () => {
    const source = new EspeakPromptSource({
      cacheDir: join(root, 'tts-missing'),
      command: join(root, 'no-such-espeak-ng'),
    });
    const err = await rejectsWithCode(source.load({ text: 'hi' }, 'en-us'), 'TTS_UNAVAILABLE');
    assert.match(err.message, /not installed/);
  });

  test('hanging program times out', async () => {
    // A stand-in espeak-ng that never exits; node runs it, so it needs nothing on PATH.
    const script = join(root, 'hanging-espeak.mjs');
    await writeFile(script, `#!${process.execPath}\nsetTimeout(() => {}, 30_000);\n`);
    await chmod(script, 0o755);
    const source = new EspeakPromptSource({
      cacheDir: join(root, 'tts-hang'),
      command: script,
      timeoutMs: 300,
    });
    const startedAt = Date.now();
    const err = await rejectsWithCode(source.load({ text: 'hi' }, 'en-us'), 'TTS_TIMEOUT');
    assert.equal(err.retryable, true);
    assert.ok(Date.now() - startedAt < 5000);
  });
});

describe('CompositePromptSource', () => {
  test('uses the file when audio is set, TTS otherwise', async () => {
    const calls: string[] = [];
    const tts: PromptSource = {
      load: (prompt) => {
        calls.push(prompt.text);
        return Promise.resolve(new Int16Array(80));
      },
    };
    const source = new CompositePromptSource(new FilePromptSource(promptsDir), tts);
    const fromFile = await source.load({ text: 'hello', audio: 'hello.wav' }, 'en-us');
    assert.deepEqual(fromFile, HELLO);
    assert.deepEqual(calls, []);
    const synthesised = await source.load({ text: 'only text' }, 'en-us');
    assert.equal(synthesised.length, 80);
    assert.deepEqual(calls, ['only text']);
  });
});
