/**
 * CallSession against real prompt audio (the asterisk sound files) and real caller audio in
 * 20 ms frames. A loopback carrier plays the bot's audio on the media clock and returns each
 * mark once it has played the audio before it, as Twilio does.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FRAME_SAMPLES, levelDb, parseWav } from '@voxfleet/audio';
import { createLogger } from '@voxfleet/logger';
import { BotConfig, TranscriptEntry, type BotConfigInput } from '@voxfleet/schema';
import {
  CallSession,
  FilePromptSource,
  createPromptSource,
  toTelephonyPcm,
  type MediaSink,
  type PromptSource,
  type SessionOutcome,
} from '../src/engine/index.js';

const SOUNDS = '/usr/share/asterisk/sounds/en';
const log = createLogger({ service: 'engine-test', level: 'silent' });
const files = new FilePromptSource(SOUNDS);

function readSound(name: string): Int16Array {
  return toTelephonyPcm(parseWav(readFileSync(join(SOUNDS, name))));
}

const HELLO = readSound('hello.wav');
const lengthMs = (name: string): number => readSound(name).length / 8;

/** Plays queued bot audio 20 ms per tick and returns the marks it reached. */
class LoopbackCarrier implements MediaSink {
  readonly sentAudio: Int16Array[] = [];
  readonly sentMarks: string[] = [];
  readonly markTimes = new Map<string, number>();
  clears = 0;
  hangups = 0;
  dropMarks = false;
  private queue: Array<{ samples: number; mark?: string }> = [];
  private echoed: string[] = [];

  sendAudio(pcm: Int16Array): void {
    this.sentAudio.push(pcm);
    this.queue.push({ samples: pcm.length });
  }

  sendMark(name: string): void {
    this.sentMarks.push(name);
    this.queue.push({ samples: 0, mark: name });
  }

  /** Drops queued audio and returns its marks at once, as Twilio does after `clear`. */
  clearAudio(): void {
    this.clears++;
    for (const item of this.queue) if (item.mark !== undefined) this.echoed.push(item.mark);
    this.queue = [];
  }

  hangup(): void {
    this.hangups++;
  }

  tick(samples: number): string[] {
    const reached = this.echoed;
    this.echoed = [];
    let budget = samples;
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (head === undefined) break;
      if (head.mark !== undefined) {
        this.queue.shift();
        if (!this.dropMarks) reached.push(head.mark);
        continue;
      }
      if (budget === 0) break;
      if (head.samples <= budget) {
        budget -= head.samples;
        this.queue.shift();
      } else {
        head.samples -= budget;
        budget = 0;
      }
    }
    return reached;
  }
}

interface CallHarness {
  session: CallSession;
  carrier: LoopbackCarrier;
  /** Queues caller audio to start with the next frame. */
  say(pcm: Int16Array): void;
  /** Media time at which the first mark of `nodeId` came back, if it did. */
  markAt(nodeId: string, occurrence?: number): number | undefined;
}

interface RunOptions {
  prompts?: PromptSource;
  dropMarks?: boolean;
  /** Background caller noise in dBFS; digital silence when absent. */
  noiseDb?: number;
  limitMs?: number;
  events?: Array<[string, Record<string, string | number | boolean> | undefined]>;
  /** Called after every frame with the media time in ms. */
  onFrame?: (ms: number, call: CallHarness) => void;
}

function makeNoise(samples: number, db: number, seed: number): Int16Array {
  const amplitude = 32768 * 10 ** (db / 20) * Math.sqrt(3);
  const out = new Int16Array(samples);
  let state = seed;
  for (let i = 0; i < samples; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = Math.round((state / 2 ** 32 - 0.5) * 2 * amplitude);
  }
  return out;
}

function parseConfig(input: BotConfigInput): BotConfig {
  return BotConfig.parse(input);
}

async function runCall(
  config: BotConfig,
  options: RunOptions = {},
): Promise<{ outcome: SessionOutcome; call: CallHarness }> {
  const carrier = new LoopbackCarrier();
  carrier.dropMarks = options.dropMarks ?? false;
  const session = new CallSession({
    callId: 'call-1',
    botId: 'bot-1',
    config,
    prompts: options.prompts ?? files,
    sink: carrier,
    log,
    onEvent: (event, detail) => options.events?.push([event, detail]),
  });
  const speech: Int16Array[] = [];
  let speechOffset = 0;
  const call: CallHarness = {
    session,
    carrier,
    say: (pcm) => speech.push(pcm),
    markAt: (nodeId, occurrence = 1) => {
      const names = carrier.sentMarks.filter((name) => name.startsWith(`${nodeId}:`));
      const name = names[occurrence - 1];
      return name === undefined ? undefined : carrier.markTimes.get(name);
    },
  };
  const noise = makeNoise(8000, options.noiseDb ?? -100, 7);
  await session.start();

  const limitMs = options.limitMs ?? 60_000;
  let frameIndex = 0;
  while (!session.ended && session.mediaTimeMs < limitMs) {
    const reached = carrier.tick(FRAME_SAMPLES);
    const frame = new Int16Array(FRAME_SAMPLES);
    if (options.noiseDb !== undefined) {
      const offset = (frameIndex * FRAME_SAMPLES) % noise.length;
      frame.set(noise.subarray(offset, offset + FRAME_SAMPLES));
    }
    for (let i = 0; i < FRAME_SAMPLES && speech.length > 0; i++) {
      const current = speech[0];
      if (current === undefined) break;
      frame[i] = Math.max(-32768, Math.min(32767, (frame[i] ?? 0) + (current[speechOffset] ?? 0)));
      speechOffset++;
      if (speechOffset >= current.length) {
        speech.shift();
        speechOffset = 0;
      }
    }
    frameIndex++;
    session.handleInboundAudio(frame);
    for (const name of reached) {
      if (!carrier.markTimes.has(name)) carrier.markTimes.set(name, session.mediaTimeMs);
      session.handleMark(name);
    }
    options.onFrame?.(session.mediaTimeMs, call);
  }
  if (!session.ended) session.abort('test time limit reached');
  const outcome = await session.finished;
  for (const entry of outcome.transcript) TranscriptEntry.parse(entry);
  return { outcome, call };
}

const prompt = (audio: string, text: string) => ({ audio, text });

function menuBot(overrides: Partial<BotConfigInput> = {}): BotConfig {
  return parseConfig({
    start: 'greet',
    nodes: {
      greet: { type: 'say', prompt: prompt('hello-world.wav', 'Hello world'), next: 'menu' },
      menu: {
        type: 'ask',
        prompt: prompt('if-correct-press.wav', 'If this is correct, press one'),
        digits: { '1': 'confirmed' },
        speech: 'heard',
        noInput: 'silent',
        timeoutMs: 2000,
        retries: 1,
      },
      confirmed: {
        type: 'hangup',
        prompt: prompt('auth-thankyou.wav', 'Thank you'),
        outcome: 'confirmed',
      },
      heard: { type: 'hangup', prompt: prompt('goodbye.wav', 'Goodbye'), outcome: 'spoke' },
      silent: { type: 'hangup', outcome: 'no-response' },
    },
    ...overrides,
  });
}

function entriesOf<K extends TranscriptEntry['kind']>(
  outcome: SessionOutcome,
  kind: K,
): Array<Extract<TranscriptEntry, { kind: K }>> {
  return outcome.transcript.filter(
    (entry): entry is Extract<TranscriptEntry, { kind: K }> => entry.kind === kind,
  );
}

function channelLevelDb(wav: Buffer, channel: number, fromMs: number, toMs: number): number {
  const audio = parseWav(wav);
  const from = Math.round(fromMs * 8);
  const to = Math.min(Math.round(toMs * 8), audio.samples.length / 2);
  const mono = new Int16Array(Math.max(0, to - from));
  for (let i = from; i < to; i++) mono[i - from] = audio.samples[i * 2 + channel] ?? 0;
  return levelDb(mono);
}

describe('CallSession flow', () => {
  test('dtmf digit takes its branch', async () => {
    const { outcome, call } = await runCall(menuBot(), {
      onFrame: (ms, { session, markAt }) => {
        const menuEnd = markAt('menu');
        if (menuEnd !== undefined && ms === menuEnd + 500) session.handleDtmf('1');
      },
    });
    assert.equal(outcome.status, 'completed');
    assert.equal(outcome.outcome, 'confirmed');
    assert.equal(outcome.hangupBy, 'bot');
    assert.equal(outcome.error, null);
    assert.equal(call.carrier.hangups, 1);
    const digits = entriesOf(outcome, 'dtmf');
    assert.equal(digits.length, 1);
    assert.equal(digits[0]?.digit, '1');
    const prompts = entriesOf(outcome, 'prompt');
    assert.deepEqual(
      prompts.map((entry) => entry.nodeId),
      ['greet', 'menu', 'confirmed'],
    );
    for (const entry of prompts) assert.equal(entry.interrupted, false);
    const thanks = prompts[2];
    assert.ok(thanks !== undefined);
    assert.equal(thanks.playedMs, Math.round(lengthMs('auth-thankyou.wav')));
    // The hangup prompt plays in full before the bot hangs up.
    assert.ok(outcome.mediaDurationMs >= thanks.atMs + thanks.playedMs);
  });

  test('prompts play back to back on the media clock', async () => {
    const { outcome } = await runCall(menuBot(), {
      onFrame: (ms, { session, markAt }) => {
        const menuEnd = markAt('menu');
        if (menuEnd !== undefined && ms === menuEnd + 100) session.handleDtmf('1');
      },
    });
    const [greet, menu] = entriesOf(outcome, 'prompt');
    assert.ok(greet !== undefined);
    assert.ok(menu !== undefined);
    assert.equal(greet.atMs, 0);
    const gap = menu.atMs - (greet.atMs + lengthMs('hello-world.wav'));
    assert.ok(gap >= 0, `gap between prompts was ${gap} ms`);
    assert.ok(gap <= 40, `gap between prompts was ${gap} ms`);
  });

  test('utterance after prompt takes speech branch', async () => {
    let spokeAt = -1;
    const { outcome } = await runCall(menuBot(), {
      noiseDb: -55,
      onFrame: (ms, call) => {
        const menuEnd = call.markAt('menu');
        if (menuEnd !== undefined && spokeAt < 0 && ms >= menuEnd + 600) {
          spokeAt = ms;
          call.say(HELLO);
        }
      },
    });
    assert.equal(outcome.outcome, 'spoke');
    assert.equal(outcome.hangupBy, 'bot');
    const utterances = entriesOf(outcome, 'speech');
    assert.equal(utterances.length, 1);
    const utterance = utterances[0];
    assert.ok(utterance !== undefined);
    assert.equal(utterance.text, null);
    assert.ok(utterance.atMs >= spokeAt, `utterance at ${utterance.atMs}, spoken at ${spokeAt}`);
    assert.ok(utterance.atMs <= spokeAt + 200);
    assert.ok(utterance.durationMs >= 300, `lasted ${utterance.durationMs} ms`);
    assert.ok(utterance.durationMs <= 800, `lasted ${utterance.durationMs} ms`);
    assert.equal(entriesOf(outcome, 'no-input').length, 0);
  });

  test('speech barges in on a prompt', async () => {
    const events: RunOptions['events'] = [];
    const spokeAt = 600;
    const { outcome, call } = await runCall(menuBot({ start: 'menu' }), {
      events,
      onFrame: (ms, harness) => {
        if (ms === spokeAt) harness.say(HELLO);
      },
    });
    assert.equal(call.carrier.clears, 1);
    const menu = entriesOf(outcome, 'prompt').find((entry) => entry.nodeId === 'menu');
    assert.ok(menu !== undefined);
    assert.equal(menu.interrupted, true);
    assert.ok(menu.playedMs < lengthMs('if-correct-press.wav'));
    // hello.wav reaches -35 dBFS about 100 ms in; 120 ms of speech then barge in.
    assert.ok(menu.playedMs >= spokeAt + 120, `prompt played ${menu.playedMs} ms`);
    assert.ok(menu.playedMs <= spokeAt + 400, `prompt played ${menu.playedMs} ms`);
    assert.equal(outcome.outcome, 'spoke');
    const bargeIn = events.find(([event]) => event === 'barge-in');
    assert.ok(bargeIn !== undefined);
    assert.equal(bargeIn[1]?.by, 'speech');

    const { wav } = call.session.recording();
    const cutMs = menu.atMs + menu.playedMs;
    assert.ok(channelLevelDb(wav, 1, menu.atMs, cutMs) > -40, 'bot audio before the barge-in');
    assert.equal(channelLevelDb(wav, 1, cutMs, cutMs + 600), -100, 'bot audio after the cut');
  });

  test('digit barges in and answers the ask', async () => {
    const { outcome, call } = await runCall(menuBot({ start: 'menu' }), {
      onFrame: (ms, { session }) => {
        if (ms === 400) session.handleDtmf('1');
      },
    });
    assert.equal(call.carrier.clears, 1);
    const menu = entriesOf(outcome, 'prompt').find((entry) => entry.nodeId === 'menu');
    assert.equal(menu?.interrupted, true);
    assert.equal(menu?.playedMs, 400);
    assert.equal(outcome.outcome, 'confirmed');
  });

  test('digit during a say prompt answers the next ask', async () => {
    const { outcome, call } = await runCall(menuBot(), {
      onFrame: (ms, { session }) => {
        if (ms === 300) session.handleDtmf('1');
      },
    });
    assert.equal(outcome.outcome, 'confirmed');
    const nodes = entriesOf(outcome, 'prompt').map((entry) => entry.nodeId);
    assert.deepEqual(nodes, ['greet', 'confirmed']);
    assert.equal(call.carrier.clears, 1);
  });

  test('digit after a prompt ends but before its mark answers the next ask', async () => {
    // Marks come back late, as over a slow network: the caller has heard the whole
    // greeting and presses 1 while the worker still waits for the greeting's mark.
    const pressAtMs = Math.ceil(lengthMs('hello-world.wav') / 20) * 20 + 500;
    const { outcome } = await runCall(menuBot(), {
      dropMarks: true,
      onFrame: (ms, { session }) => {
        if (ms === pressAtMs) session.handleDtmf('1');
      },
    });
    assert.equal(outcome.outcome, 'confirmed');
    const nodes = entriesOf(outcome, 'prompt').map((entry) => entry.nodeId);
    assert.deepEqual(nodes, ['greet', 'confirmed']);
  });

  test('type-ahead digit is dropped without barge-in', async () => {
    const { outcome } = await runCall(menuBot({ bargeIn: false }), {
      onFrame: (ms, { session }) => {
        if (ms === 300) session.handleDtmf('1');
      },
    });
    assert.equal(outcome.outcome, 'no-response');
  });

  test('barge-in off lets the prompt finish', async () => {
    const { outcome, call } = await runCall(menuBot({ start: 'menu', bargeIn: false }), {
      onFrame: (ms, harness) => {
        if (ms === 300) harness.say(HELLO);
        if (ms === 1200) harness.session.handleDtmf('1');
      },
    });
    assert.equal(call.carrier.clears, 0);
    const menus = entriesOf(outcome, 'prompt').filter((entry) => entry.nodeId === 'menu');
    assert.equal(menus[0]?.interrupted, false);
    // Speech and digits during a prompt without barge-in are recorded but do not answer.
    assert.equal(entriesOf(outcome, 'speech').length, 1);
    assert.equal(entriesOf(outcome, 'dtmf').length, 1);
    assert.equal(outcome.outcome, 'no-response');
  });

  test('invalid digit repeats the prompt', async () => {
    let pressed = 0;
    const { outcome } = await runCall(menuBot({ start: 'menu' }), {
      onFrame: (ms, { session, markAt }) => {
        const first = markAt('menu', 1);
        const second = markAt('menu', 2);
        if (pressed === 0 && first !== undefined && ms === first + 200) {
          pressed++;
          session.handleDtmf('7');
        }
        if (pressed === 1 && second !== undefined && ms === second + 200) {
          pressed++;
          session.handleDtmf('1');
        }
      },
    });
    assert.equal(entriesOf(outcome, 'prompt').filter((e) => e.nodeId === 'menu').length, 2);
    assert.equal(outcome.outcome, 'confirmed');
  });

  test('no input retries then goes to noInput', async () => {
    const { outcome, call } = await runCall(menuBot({ start: 'menu' }));
    const menus = entriesOf(outcome, 'prompt').filter((entry) => entry.nodeId === 'menu');
    assert.equal(menus.length, 2, 'retries: 1 plays the prompt twice');
    const noInputs = entriesOf(outcome, 'no-input');
    assert.equal(noInputs.length, 2);
    for (const [index, entry] of noInputs.entries()) {
      assert.equal(entry.nodeId, 'menu');
      const markMs = call.markAt('menu', index + 1);
      assert.ok(markMs !== undefined);
      assert.equal(entry.atMs, markMs + 2000, 'timeout counts from the end of playback');
    }
    assert.equal(outcome.outcome, 'no-response');
    assert.equal(outcome.hangupBy, 'bot');
    assert.equal(call.carrier.hangups, 1);
  });

  test('utterance without speech branch counts as no input', async () => {
    const config = menuBot({ start: 'menu' });
    const menu = config.nodes.menu;
    assert.ok(menu?.type === 'ask');
    delete menu.speech;
    const { outcome } = await runCall(config, {
      onFrame: (ms, call) => {
        if (ms === (call.markAt('menu', 1) ?? -1) + 200) call.say(HELLO);
      },
    });
    const noInputs = entriesOf(outcome, 'no-input');
    assert.equal(noInputs.length, 2);
    const speech = entriesOf(outcome, 'speech')[0];
    assert.ok(speech !== undefined);
    assert.ok(noInputs[0] !== undefined);
    // The first no-input comes when the utterance ends, well before the 2 s timeout.
    assert.ok(noInputs[0].atMs < speech.atMs + 2000);
    assert.equal(outcome.outcome, 'no-response');
  });

  test('caller hangup ends the call', async () => {
    const { outcome, call } = await runCall(menuBot(), {
      onFrame: (ms, { session }) => {
        if (ms === 700) session.handleCallerHangup();
      },
    });
    assert.equal(outcome.status, 'completed');
    assert.equal(outcome.outcome, 'caller-hangup');
    assert.equal(outcome.hangupBy, 'caller');
    assert.equal(outcome.mediaDurationMs, 700);
    assert.equal(call.carrier.hangups, 0);
    const greet = entriesOf(outcome, 'prompt')[0];
    assert.equal(greet?.playedMs, 700);
    assert.equal(greet?.interrupted, true);
  });

  test('duplicate hangup and abort are ignored', async () => {
    const { outcome, call } = await runCall(menuBot(), {
      onFrame: (ms, { session }) => {
        if (ms === 500) {
          session.handleCallerHangup();
          session.handleCallerHangup();
          session.abort('late abort');
        }
      },
    });
    assert.equal(outcome.outcome, 'caller-hangup');
    assert.equal(outcome.status, 'completed');
    assert.equal(outcome.error, null);
    call.session.abort('after the end');
    call.session.handleCallerHangup();
    call.session.handleInboundAudio(new Int16Array(FRAME_SAMPLES));
    assert.equal(call.session.mediaTimeMs, 500, 'audio after the end is ignored');
    assert.equal(await call.session.finished, outcome);
  });

  test('max duration ends the call', async () => {
    const config = menuBot({ start: 'menu', maxCallDurationMs: 5000 });
    const menu = config.nodes.menu;
    assert.ok(menu?.type === 'ask');
    menu.retries = 5;
    const { outcome, call } = await runCall(config);
    assert.equal(outcome.status, 'completed');
    assert.equal(outcome.outcome, 'max-duration');
    assert.equal(outcome.hangupBy, 'system');
    assert.equal(outcome.mediaDurationMs, 5000);
    assert.equal(call.carrier.hangups, 1);
  });

  test('abort ends the call as aborted', async () => {
    const { outcome, call } = await runCall(menuBot(), {
      onFrame: (ms, { session }) => {
        if (ms === 300) session.abort('worker draining');
      },
    });
    assert.equal(outcome.status, 'aborted');
    assert.equal(outcome.hangupBy, 'system');
    assert.equal(outcome.error, 'worker draining');
    assert.equal(call.carrier.hangups, 0);
  });

  test('missing prompt file fails the session', async () => {
    const config = menuBot();
    const greet = config.nodes.greet;
    assert.ok(greet?.type === 'say');
    greet.prompt.audio = 'no-such-prompt.wav';
    const { outcome, call } = await runCall(config);
    assert.equal(outcome.status, 'failed');
    assert.equal(outcome.outcome, 'error');
    assert.equal(outcome.hangupBy, 'system');
    assert.ok(outcome.error?.startsWith('PROMPT_NOT_FOUND: '), outcome.error ?? 'no error');
    assert.match(outcome.error ?? '', /node "greet"/);
    assert.match(outcome.error ?? '', /no-such-prompt\.wav/);
    assert.equal(call.carrier.sentAudio.length, 0);
    assert.equal(call.carrier.hangups, 1);
  });

  test('missing marks count as played after grace', async () => {
    const events: RunOptions['events'] = [];
    const { outcome } = await runCall(menuBot({ start: 'menu' }), { dropMarks: true, events });
    const noInputs = entriesOf(outcome, 'no-input');
    const menu = entriesOf(outcome, 'prompt')[0];
    assert.ok(menu !== undefined);
    assert.ok(noInputs[0] !== undefined);
    const promptEnd = menu.atMs + lengthMs('if-correct-press.wav');
    // Listening starts 2 s after the computed end, then the 2 s timeout runs.
    assert.ok(Math.abs(noInputs[0].atMs - (promptEnd + 2000 + 2000)) <= 20);
    assert.ok(events.some(([event]) => event === 'mark-missing'));
    assert.equal(outcome.outcome, 'no-response');
  });

  test('marks returned inside sendMark do not recurse', async () => {
    const loop = parseConfig({
      start: 'a',
      nodes: {
        a: { type: 'say', prompt: prompt('beep.wav', 'beep'), next: 'b' },
        b: { type: 'hangup', prompt: prompt('beep.wav', 'beep'), outcome: 'done' },
      },
    });
    // Validation rejects a loop with no hangup, but a config stored before that check
    // existed may still hold one, and the engine must stop it rather than recurse.
    loop.nodes['b'] = { type: 'say', prompt: prompt('beep.wav', 'beep'), next: 'a' };
    const echoing: MediaSink = {
      sendAudio: () => {},
      sendMark: (name) => session.handleMark(name),
      clearAudio: () => {},
      hangup: () => {},
    };
    const session = new CallSession({
      callId: 'call-loop',
      botId: 'bot-1',
      config: loop,
      prompts: files,
      sink: echoing,
      log,
    });
    await session.start();
    const outcome = await session.finished;
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error ?? '', /^FLOW_INVALID: /);
  });

  test('recording puts caller and bot on their channels', async () => {
    let spokeAt = -1;
    const { outcome, call } = await runCall(menuBot(), {
      onFrame: (ms, harness) => {
        const menuEnd = harness.markAt('menu');
        if (menuEnd !== undefined && spokeAt < 0 && ms >= menuEnd + 400) {
          spokeAt = ms;
          harness.say(HELLO);
        }
      },
    });
    const recording = call.session.recording();
    const audio = parseWav(recording.wav);
    assert.equal(audio.channels, 2);
    assert.equal(audio.sampleRate, 8000);
    assert.equal(recording.durationMs, outcome.mediaDurationMs);
    assert.equal(audio.samples.length, outcome.mediaDurationMs * 8 * 2);

    const [greet, menu, goodbye] = entriesOf(outcome, 'prompt');
    assert.ok(greet !== undefined);
    assert.ok(menu !== undefined);
    assert.ok(goodbye !== undefined);
    // While the greeting plays: bot energy on channel 2, nothing on channel 1.
    assert.ok(channelLevelDb(recording.wav, 1, greet.atMs, greet.atMs + greet.playedMs) > -35);
    assert.equal(channelLevelDb(recording.wav, 0, greet.atMs, greet.atMs + greet.playedMs), -100);
    // While the caller says hello: caller energy on channel 1, the bot is silent.
    const speech = entriesOf(outcome, 'speech')[0];
    assert.ok(speech !== undefined);
    const speechEnd = speech.atMs + speech.durationMs;
    assert.ok(channelLevelDb(recording.wav, 0, speech.atMs, speechEnd) > -30);
    assert.equal(channelLevelDb(recording.wav, 1, speech.atMs, speechEnd), -100);
    // The goodbye prompt is on channel 2 where the transcript places it.
    assert.ok(channelLevelDb(recording.wav, 1, goodbye.atMs, goodbye.atMs + 300) > -40);
  });

  test('frame handling stays under 0.5 ms', async () => {
    const config = menuBot({ start: 'menu', maxCallDurationMs: 600_000 });
    const menu = config.nodes.menu;
    assert.ok(menu?.type === 'ask');
    menu.timeoutMs = 20_000;
    menu.noInput = 'menu';
    const carrier = new LoopbackCarrier();
    const session = new CallSession({
      callId: 'call-perf',
      botId: 'bot-1',
      config,
      prompts: files,
      sink: carrier,
      log,
    });
    await session.start();
    const noise = makeNoise(FRAME_SAMPLES * 50, -45, 3);
    const frames = 30_000;
    const startedAt = process.hrtime.bigint();
    for (let i = 0; i < frames; i++) {
      const offset = (i % 50) * FRAME_SAMPLES;
      session.handleInboundAudio(noise.subarray(offset, offset + FRAME_SAMPLES));
      for (const name of carrier.tick(FRAME_SAMPLES)) session.handleMark(name);
    }
    const perFrameMs = Number(process.hrtime.bigint() - startedAt) / 1e6 / frames;
    const outcome = await session.finished;
    assert.equal(outcome.outcome, 'max-duration');
    assert.ok(perFrameMs < 0.5, `${perFrameMs.toFixed(4)} ms per frame`);
    const recording = session.recording();
    assert.equal(recording.durationMs, 600_000);
  });
});

describe('CallSession with espeak-ng prompts', () => {
  const espeakInstalled = spawnSync('espeak-ng', ['--version']).status === 0;
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test(
    'text-only prompts are synthesised',
    { skip: espeakInstalled ? false : 'espeak-ng is not installed' },
    async () => {
      const cacheDir = await mkdtemp(join(tmpdir(), 'engine-tts-'));
      dirs.push(cacheDir);
      const config = parseConfig({
        start: 'hi',
        nodes: {
          hi: { type: 'say', prompt: { text: 'Hello, this is a test call.' }, next: 'bye' },
          bye: { type: 'hangup', prompt: prompt('goodbye.wav', 'Goodbye'), outcome: 'done' },
        },
      });
      const prompts = createPromptSource({ promptsDir: SOUNDS, ttsCacheDir: cacheDir });
      const { outcome, call } = await runCall(config, { prompts });
      assert.equal(outcome.outcome, 'done');
      const first = call.carrier.sentAudio[0];
      assert.ok(first !== undefined);
      assert.ok(first.length > 8000, 'synthesised prompt lasts over a second');
      assert.ok(levelDb(first) > -40);
    },
  );

  test('missing espeak-ng fails the session', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'engine-tts-'));
    dirs.push(cacheDir);
    const config = parseConfig({
      start: 'hi',
      nodes: { hi: { type: 'hangup', prompt: { text: 'Hello there' }, outcome: 'done' } },
    });
    const prompts = createPromptSource({
      promptsDir: SOUNDS,
      ttsCacheDir: cacheDir,
      espeakCommand: join(cacheDir, 'no-espeak-ng-here'),
    });
    const { outcome } = await runCall(config, { prompts });
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error ?? '', /^TTS_UNAVAILABLE: /);
  });
});
