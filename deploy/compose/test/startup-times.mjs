#!/usr/bin/env node
// Prints, for each container id given, the time from the container's start to its first
// ready line. A ready line is a pino line whose message ends in "listening" (the Node
// services, with `time` in epoch milliseconds or ISO 8601) or Redis's "Ready to accept
// connections" (stamped like `04 Dec 2026 18:27:32.522`, in UTC as in the container). Each
// time comes from the line's own timestamp, because Podman's `docker logs --timestamps`
// has whole seconds only. nginx (voxui) writes no line when it starts and is listed as
// "no ready line"; `ready-time.mjs` measures it instead.
//
//   node startup-times.mjs CONTAINER_ID...
import { execFileSync, spawnSync } from 'node:child_process';

const REDIS_READY =
  /^\d+:M (\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2}\.\d{3}) \* Ready to accept connections/;

/** Epoch milliseconds of a ready line, or undefined when `line` is not one. */
function readyTime(line) {
  const redis = REDIS_READY.exec(line);
  if (redis !== null) return Date.parse(`${redis[1]} UTC`);
  if (!line.startsWith('{')) return undefined;
  try {
    const entry = JSON.parse(line);
    if (typeof entry.msg !== 'string' || !entry.msg.endsWith('listening')) return undefined;
    return typeof entry.time === 'number' ? entry.time : Date.parse(entry.time);
  } catch {
    return undefined;
  }
}

for (const id of process.argv.slice(2)) {
  const [inspected] = JSON.parse(execFileSync('docker', ['inspect', id], { encoding: 'utf8' }));
  const name = String(inspected.Name).replace(/^\//, '');
  const startedMs = Date.parse(inspected.State.StartedAt);
  // The container's stdout and stderr come back on the two streams of `docker logs`.
  const logs = spawnSync('docker', ['logs', id], { encoding: 'utf8', maxBuffer: 64 << 20 });
  let readyMs;
  for (const line of `${logs.stdout}\n${logs.stderr}`.split('\n')) {
    readyMs = readyTime(line);
    if (readyMs !== undefined) break;
  }
  const text = readyMs === undefined ? 'no ready line' : `${readyMs - startedMs} ms`;
  process.stdout.write(`${name.padEnd(40)} start -> ready line: ${text}\n`);
}
