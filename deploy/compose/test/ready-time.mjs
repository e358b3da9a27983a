#!/usr/bin/env node
/* global fetch, AbortSignal, setTimeout */
// Measures how long an image takes from container start to its first HTTP 200: runs the
// image RUNS times (default 5) with PORT published on 127.0.0.1, polls PATH every 20 ms, and
// prints each time and the median. The start is the container's State.StartedAt, so the
// docker run round trip is not counted. Extra `docker run` arguments (such as -e NAME=value)
// go after `--`.
//
//   node ready-time.mjs IMAGE PORT PATH [RUNS] [-- DOCKER_RUN_ARGS...]
import { execFileSync } from 'node:child_process';

const separator = process.argv.indexOf('--');
const args = process.argv.slice(2, separator < 0 ? undefined : separator);
const runArgs = separator < 0 ? [] : process.argv.slice(separator + 1);
const [image, port, path, runsText = '5'] = args;
if (image === undefined || port === undefined || path === undefined) {
  process.stderr.write('usage: ready-time.mjs IMAGE PORT PATH [RUNS] [-- DOCKER_RUN_ARGS...]\n');
  process.exit(2);
}

const docker = (...dockerArgs) => execFileSync('docker', dockerArgs, { encoding: 'utf8' }).trim();
const POLL_TIMEOUT_MS = 60_000;
const times = [];

for (let run = 0; run < Number(runsText); run++) {
  const id = docker('run', '-d', '-p', `127.0.0.1::${port}`, ...runArgs, image);
  try {
    const published = docker('port', id, `${port}/tcp`).split('\n')[0] ?? '';
    const url = `http://${published.replace('0.0.0.0', '127.0.0.1')}${path}`;
    const startedMs = Date.parse(docker('inspect', '-f', '{{.State.StartedAt}}', id));
    let readyMs;
    while (readyMs === undefined && Date.now() - startedMs < POLL_TIMEOUT_MS) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
        if (response.ok) readyMs = Date.now();
      } catch {
        // Not listening yet.
      }
      if (readyMs === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (readyMs === undefined)
      throw new Error(`${image} did not answer ${path} within ${POLL_TIMEOUT_MS} ms`);
    times.push(readyMs - startedMs);
    process.stdout.write(`run ${run + 1}: ${readyMs - startedMs} ms\n`);
  } finally {
    docker('rm', '-f', id);
  }
}
times.sort((a, b) => a - b);
process.stdout.write(
  `${image} start -> ${path} 200: median ${times[Math.floor(times.length / 2)]} ms of ${times.length} runs\n`,
);
