import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { BotConfig } from '../src/index.ts';

const demo = JSON.parse(
  readFileSync(new URL('../../../examples/demo-bot.json', import.meta.url), 'utf8'),
) as { config: unknown };

function issues(config: unknown): string[] {
  const parsed = BotConfig.safeParse(config);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

test('BotConfig accepts the demo bot', () => {
  assert.deepEqual(issues(demo.config), []);
});

test('BotConfig rejects absolute and escaping audio paths', () => {
  for (const audio of ['/etc/passwd.wav', '../secret.wav', 'demo/../../x.wav']) {
    const config = {
      start: 'a',
      nodes: { a: { type: 'hangup', outcome: 'x', prompt: { text: 'hi', audio } } },
    };
    assert.ok(issues(config).length > 0, audio);
  }
});

test('BotConfig rejects a loop with no hangup', () => {
  const config = {
    start: 'a',
    nodes: {
      a: { type: 'say', prompt: { text: 'a' }, next: 'b' },
      b: { type: 'say', prompt: { text: 'b' }, next: 'a' },
      end: { type: 'hangup', outcome: 'done' },
    },
  };
  const found = issues(config);
  assert.equal(found.length, 2);
  assert.match(found[0] ?? '', /^nodes\.a: no hangup node can be reached/);
});

test('BotConfig names an unknown branch target', () => {
  const config = {
    start: 'menu',
    nodes: {
      menu: { type: 'ask', prompt: { text: 'press' }, digits: { '1': 'nowhere' }, noInput: 'end' },
      end: { type: 'hangup', outcome: 'done' },
    },
  };
  assert.deepEqual(issues(config), ['nodes.menu.digits.1: unknown node "nowhere"']);
});
