/**
 * The `voxfleet` bin link in a fresh clone: npm links bins during `npm install`, before the
 * build, and skips a target that does not exist yet, so the target must be a source file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

async function binTargets(): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
    bin?: Record<string, string>;
  };
  return Object.values(manifest.bin ?? {});
}

test('bin targets exist before build', async () => {
  const targets = await binTargets();
  assert.ok(targets.length > 0);
  for (const target of targets) {
    assert.doesNotMatch(target, /(^|\/)dist\//, `${target} is written by the build`);
    assert.ok(existsSync(join(packageDir, target)), `${target} is missing`);
  }
});

test('bin without build names the fix', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'voxfleet-bin-'));
  try {
    for (const target of await binTargets()) {
      const copy = join(dir, target);
      await mkdir(join(copy, '..'), { recursive: true });
      await copyFile(join(packageDir, target), copy);
      const failed = await run(process.execPath, [copy, '--help'], { timeout: 10_000 }).then(
        () => null,
        (error: unknown) => error as { code: number; stderr: string },
      );
      assert.ok(failed, 'the launcher succeeded without dist/');
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /run `npm run build`/);
      assert.doesNotMatch(failed.stderr, /\n\s+at /, 'stderr shows a stack trace');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
