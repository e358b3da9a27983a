import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RuntimeConfig as SharedRuntimeConfig } from '@voxfleet/schema';
import { prettifyError } from 'zod';
import { checkRuntimeConfig } from '../src/runtime-config.js';

/** A valid bot with every node type, every optional field and no defaults applied. */
const BOT = {
  start: 'menu',
  nodes: {
    menu: {
      type: 'ask',
      prompt: { text: 'Press 1 to confirm.', audio: 'menu/hello.wav' },
      digits: { '1': 'confirmed', '#': 'thanks' },
      speech: 'thanks',
      noInput: 'silent',
      invalid: 'menu',
    },
    thanks: { type: 'say', prompt: { text: 'Thank you.' }, next: 'confirmed' },
    confirmed: { type: 'hangup', prompt: { text: 'Goodbye.' }, outcome: 'confirmed' },
    silent: { type: 'hangup', outcome: 'no-response' },
  },
};

function runtime(config: unknown): Record<string, unknown> {
  return { botId: 'b1', tenantId: 't1', name: 'Bot', revision: 3, config };
}

/** Returns a copy of BOT with the field at the dotted `path` set to `value`. */
function bot(path: string, value: unknown): unknown {
  const copy = structuredClone(BOT) as Record<string, unknown>;
  const keys = path.split('.');
  let target = copy;
  for (const key of keys.slice(0, -1)) target = target[key] as Record<string, unknown>;
  target[keys.at(-1) ?? ''] = value;
  return copy;
}

const CASES: Array<[string, unknown]> = [
  ['full bot', runtime(BOT)],
  [
    'every default set',
    runtime({
      ...BOT,
      language: 'hi',
      voice: 'hi',
      bargeIn: false,
      maxCallDurationMs: 60_000,
      vad: { thresholdDb: -40, minSpeechMs: 200, endSilenceMs: 900 },
    }),
  ],
  ['partial vad', runtime({ ...BOT, vad: { thresholdDb: -20 } })],
  ['not an object', 'config'],
  ['null body', null],
  ['missing config', { botId: 'b1', tenantId: 't1', name: 'Bot', revision: 1 }],
  ['revision not an integer', { ...runtime(BOT), revision: 1.5 }],
  ['botId not a string', { ...runtime(BOT), botId: 7 }],
  ['unknown top-level field kept out', { ...runtime(BOT), extra: true }],
  ['unknown bot field', runtime({ ...BOT, colour: 'blue' })],
  ['unknown start', runtime({ ...BOT, start: 'nowhere' })],
  ['bad node id', runtime(bot('nodes.bad id', BOT.nodes.silent))],
  ['dangling next', runtime(bot('nodes.thanks.next', 'gone'))],
  ['dangling digit', runtime(bot('nodes.menu.digits.2', 'gone'))],
  ['bad digit key', runtime(bot('nodes.menu.digits.A', 'thanks'))],
  [
    'unreachable hangup',
    runtime({
      start: 'loop',
      nodes: { loop: { type: 'say', prompt: { text: 'Again.' }, next: 'loop' } },
    }),
  ],
  ['unknown node type', runtime(bot('nodes.silent.type', 'transfer'))],
  ['unknown node field', runtime(bot('nodes.silent.extra', 1))],
  ['empty prompt text', runtime(bot('nodes.thanks.prompt.text', ''))],
  ['audio outside prompts', runtime(bot('nodes.thanks.prompt.audio', 'a/../b.wav'))],
  ['audio not wav', runtime(bot('nodes.thanks.prompt.audio', 'b.mp3'))],
  ['timeout too short', runtime(bot('nodes.menu.timeoutMs', 100))],
  ['retries too many', runtime(bot('nodes.menu.retries', 6))],
  ['retries fractional', runtime(bot('nodes.menu.retries', 1.5))],
  ['outcome too long', runtime(bot('nodes.silent.outcome', 'x'.repeat(65)))],
  ['language too short', runtime({ ...BOT, language: 'e' })],
  ['duration too long', runtime({ ...BOT, maxCallDurationMs: 5 * 3_600_000 })],
  ['vad out of range', runtime({ ...BOT, vad: { thresholdDb: 3 } })],
  ['bargeIn not boolean', runtime({ ...BOT, bargeIn: 'yes' })],
  ['nodes missing', runtime({ start: 'menu' })],
];

test('checkRuntimeConfig matches the shared schema', () => {
  for (const [name, body] of CASES) {
    const shared = SharedRuntimeConfig.safeParse(body);
    const checked = checkRuntimeConfig(body);
    assert.equal(checked.ok, shared.success, `${name}: accepted by one check only`);
    if (checked.ok && shared.success) {
      assert.deepEqual(checked.value, shared.data, `${name}: parsed values differ`);
    }
    if (!checked.ok && !shared.success) {
      assert.equal(checked.message, prettifyError(shared.error), `${name}: messages differ`);
    }
  }
});

test('checkRuntimeConfig applies defaults', () => {
  const checked = checkRuntimeConfig(runtime(BOT));
  assert.ok(checked.ok);
  assert.equal(checked.value.config.language, 'en');
  assert.equal(checked.value.config.maxCallDurationMs, 600_000);
  assert.deepEqual(checked.value.config.vad, {
    thresholdDb: -35,
    minSpeechMs: 120,
    endSilenceMs: 700,
  });
  const menu = checked.value.config.nodes['menu'];
  assert.equal(menu?.type === 'ask' ? menu.timeoutMs : null, 5000);
});

test('checkRuntimeConfig names the dangling node', () => {
  const checked = checkRuntimeConfig(runtime(bot('nodes.thanks.next', 'gone')));
  assert.equal(checked.ok, false);
  assert.match(checked.ok ? '' : checked.message, /unknown node "gone"/);
});
