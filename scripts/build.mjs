#!/usr/bin/env node
// Compiles each workspace to its dist/ folder with tsc, in dependency order (the order of
// "workspaces" in package.json), so each package builds against its dependencies' types.
// A workspace without tsconfig.build.json, such as the Vite-built apps/ui, runs its own
// `build` script instead. A workspace with a `bundle` script (apps/worker) runs it after tsc.
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url).pathname;
const { workspaces } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url)));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

for (const workspace of workspaces) {
  const result = existsSync(`${root}${workspace}/tsconfig.build.json`)
    ? spawnSync(process.execPath, [tsc, '-p', `${workspace}/tsconfig.build.json`], {
        cwd: root,
        stdio: 'inherit',
      })
    : spawnSync('npm', ['run', 'build', '--silent', '-w', workspace], {
        cwd: root,
        stdio: 'inherit',
      });
  if (result.status !== 0) {
    console.error(`build failed in ${workspace}`);
    process.exit(result.status ?? 1);
  }
  const { scripts = {} } = JSON.parse(readFileSync(`${root}${workspace}/package.json`, 'utf8'));
  if (scripts.bundle !== undefined) {
    const bundled = spawnSync('npm', ['run', 'bundle', '--silent', '-w', workspace], {
      cwd: root,
      stdio: 'inherit',
    });
    if (bundled.status !== 0) {
      console.error(`bundle failed in ${workspace}`);
      process.exit(bundled.status ?? 1);
    }
  }
}
