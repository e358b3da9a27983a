import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger, PRODUCT_VERSION } from '../src/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

async function versionOf(path: string): Promise<unknown> {
  const manifest = JSON.parse(await readFile(`${root}${path}`, 'utf8')) as { version?: unknown };
  return manifest.version;
}

test('product version matches every package.json', async () => {
  assert.equal(await versionOf('package.json'), PRODUCT_VERSION);
  for (const folder of ['apps', 'packages']) {
    for (const name of await readdir(`${root}${folder}`)) {
      assert.equal(await versionOf(`${folder}/${name}/package.json`), PRODUCT_VERSION, name);
    }
  }
});

test('logger lines carry the product version', async () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  createLogger({ service: 'test', destination }).info('hello');
  const [line] = lines;
  assert.ok(line, 'nothing was logged');
  assert.equal((JSON.parse(line) as { version: string }).version, PRODUCT_VERSION);
});
