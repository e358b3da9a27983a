import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatLogLine } from '../src/stack/log-stream.ts';
import { formatTable } from '../src/demo/table.ts';

test('formatLogLine renders pino json with fields', () => {
  const line = JSON.stringify({
    level: 'info',
    time: '2026-12-04T10:11:12.345Z',
    pid: 1,
    service: 'voxcore-worker',
    msg: 'call attached',
    callId: 'call_1',
    reason: 'two words',
  });
  assert.equal(
    formatLogLine('worker-1', line, false),
    '10:11:12.345 worker-1     info  call attached callId=call_1 reason="two words"',
  );
});

test('formatLogLine passes plain text through', () => {
  assert.match(formatLogLine('voxbridge', 'Segmentation fault', false), /voxbridge\s+Segmentation/);
});

test('formatTable aligns columns', () => {
  assert.equal(formatTable(['a', 'bb'], [['ccc', 'd']]), 'a    bb\n---  --\nccc  d');
});
