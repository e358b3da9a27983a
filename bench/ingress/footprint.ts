/**
 * Worker footprint for fleet sizing: `node --conditions=development --import tsx
 * bench/ingress/footprint.ts`. It starts one real worker process behind haproxy, using the
 * test fleet of `packages/ingress/test/support`, and reads its resident memory (VmRSS)
 * while idle. It then places one call that streams 20 ms μ-law frames in real time for
 * 30 s, and reads the peak RSS and the CPU time (utime + stime from /proc) of the call.
 *
 * NOTE: the worker runs from TypeScript through tsx here, which adds the loader's memory;
 * a compiled worker (`node apps/worker/dist/main.js`) uses less, so these numbers are an
 * upper bound.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FLEET_DOMAIN,
  FleetHarness,
  attachBodyFor,
} from '../../packages/ingress/test/support/fleet-harness.js';
import {
  StreamClient,
  isRejection,
  requestJson,
} from '../../packages/ingress/test/support/stream-client.js';

const CALL_SECONDS = 30;
const TICKS_PER_SECOND = 100; // the USER_HZ of Linux on x86-64

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  // Fields 14 and 15 of /proc/<pid>/stat; index 11 and 12 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

const fleet = new FleetHarness(1);
try {
  await fleet.open();
  const worker = fleet.workers[0];
  const pid = worker?.child.pid;
  if (worker === undefined || pid === undefined) throw new Error('worker did not start');
  await sleep(3_000);
  const idleKb = await rssKb(pid);

  const reservation = await fleet.reserve();
  if (reservation === null) throw new Error('no slot');
  const attached = await requestJson({
    url: `${fleet.toIngress(reservation.url)}/attach`,
    host: FLEET_DOMAIN,
    body: attachBodyFor(reservation),
  });
  const stream = await StreamClient.open(
    fleet.toIngress(String(attached.body['streamUrl'])),
    FLEET_DOMAIN,
  );
  if (isRejection(stream)) throw new Error(`stream rejected: ${stream.status}`);
  const cpuBefore = await cpuSeconds(pid);
  stream.begin();
  let peakKb = 0;
  const started = Date.now();
  for (let frame = 0; Date.now() - started < CALL_SECONDS * 1000; frame++) {
    stream.sendSilence();
    if (frame % 50 === 0) peakKb = Math.max(peakKb, await rssKb(pid));
    await sleep(20);
  }
  const callCpu = (await cpuSeconds(pid)) - cpuBefore;
  stream.sendDtmf('1');
  await stream.waitForClose();

  console.log(`worker idle RSS ${(idleKb / 1024).toFixed(1)} MiB`);
  console.log(`worker in-call peak RSS ${(peakKb / 1024).toFixed(1)} MiB`);
  console.log(
    `worker CPU during a ${CALL_SECONDS} s call: ${callCpu.toFixed(2)} s ` +
      `(${((100 * callCpu) / CALL_SECONDS).toFixed(1)} % of one core)`,
  );
} finally {
  await fleet.close();
}
