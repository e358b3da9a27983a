#!/usr/bin/env node
/* global fetch */
// Checks that the demo campaign's calls ran on the worker containers: every stored result
// names a worker id of the form <container hostname>-7801 (the id the worker derives from
// WORKER_PUBLIC_HOST=auto), and more than one worker took calls.
//
//   node check-workers.mjs BRIDGE_URL API_KEY HOSTNAME...
const [bridgeUrl, apiKey, ...hostnames] = process.argv.slice(2);
if (bridgeUrl === undefined || apiKey === undefined || hostnames.length === 0) {
  process.stderr.write('usage: check-workers.mjs BRIDGE_URL API_KEY HOSTNAME...\n');
  process.exit(2);
}

async function getJson(path) {
  const response = await fetch(`${bridgeUrl}${path}`, {
    headers: { authorization: `Bearer ${apiKey}` },
  });
  if (!response.ok) throw new Error(`GET ${path} failed with HTTP ${response.status}`);
  return await response.json();
}

const expectedIds = new Set(hostnames.map((hostname) => `${hostname}-7801`));
const callsPerWorker = new Map();
const problems = [];
let cursor = null;
do {
  const query = `limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
  const page = await getJson(`/v1/calls?${query}`);
  for (const call of page.items) {
    const detail = await getJson(`/v1/calls/${call.id}`);
    if (detail.result === null || detail.result === undefined) continue;
    const workerId = detail.result.workerId;
    if (!expectedIds.has(workerId)) problems.push(`call ${call.id}: unknown worker id ${workerId}`);
    callsPerWorker.set(workerId, (callsPerWorker.get(workerId) ?? 0) + 1);
  }
  cursor = page.nextCursor;
} while (cursor);

const summary = [...callsPerWorker].map(([id, count]) => `${id}=${count}`).join(' ');
process.stdout.write(`results per worker: ${summary || 'none'}\n`);
if (callsPerWorker.size < 2)
  problems.push(`expected results from 2 or more workers, got ${callsPerWorker.size}`);
for (const problem of problems) process.stderr.write(`check-workers: ${problem}\n`);
process.exit(problems.length === 0 ? 0 : 1);
