/**
 * The voxdialler process started from `src/main.ts` with a registry it cannot open: it must
 * exit with a message that names REGISTRY_URL, not an uncaught exception's stack trace.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));

async function startDialler(registryUrl: string): Promise<{ code: number; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? '',
    BRIDGE_URL: 'http://127.0.0.1:9',
    BRIDGE_INTERNAL_TOKEN: 'token-0123456789abcdef',
    DIALLER_PORT: '0',
    REGISTRY_URL: registryUrl,
  };
  const args = ['--conditions=development', '--import', 'tsx', main];
  try {
    const { stderr } = await run(process.execPath, args, { env, timeout: 20_000 });
    return { code: 0, stderr };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, stderr: failed.stderr };
  }
}

test('registry url without scheme exits cleanly', async () => {
  // The URL fails to parse, so nothing is written to disk.
  const { code, stderr } = await startDialler('registry.db');
  assert.equal(code, 1);
  assert.match(stderr, /^voxdialler: cannot open the registry at REGISTRY_URL: /);
  assert.match(stderr, /invalid registry URL "registry\.db"/);
  assert.doesNotMatch(stderr, /\n\s+at /, 'stderr shows a stack trace');
});
