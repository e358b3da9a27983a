#!/usr/bin/env node
// Prints, for each container id given, the time from the container's start to its first
// "... listening" log line (the pino `time` field, epoch milliseconds). Containers that log
// no such line (voxui's nginx, redis) are listed as "no ready line".
//
//   node startup-times.mjs CONTAINER_ID...
import { execFileSync } from 'node:child_process';

for (const id of process.argv.slice(2)) {
  const [inspected] = JSON.parse(execFileSync('docker', ['inspect', id], { encoding: 'utf8' }));
  const name = String(inspected.Name).replace(/^\//, '');
  const startedMs = Date.parse(inspected.State.StartedAt);
  const logs = execFileSync('docker', ['logs', id], { encoding: 'utf8', stdio: 'pipe' });
  let readyMs;
  for (const line of logs.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line);
      if (typeof entry.msg === 'string' && entry.msg.endsWith('listening')) {
        readyMs = entry.time;
        break;
      }
    } catch {
      // A line that is not JSON is not a pino line.
    }
  }
  const text = readyMs === undefined ? 'no ready line' : `${readyMs - startedMs} ms`;
  process.stdout.write(`${name.padEnd(40)} start -> listening: ${text}\n`);
}
