import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import {
  createRegistryMetrics,
  instrumentRegistry,
  openRegistry,
  RegistryQuotaExceededError,
} from '../src/index.js';
import { reserveRequest, worker } from './contract.js';

async function metricValue(
  prom: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = await prom.getSingleMetric(name)?.get();
  const sample = metric?.values.find((value) => {
    const metricName = (value as { metricName?: string }).metricName ?? '';
    if (metricName.endsWith('_bucket')) return false;
    return Object.entries(labels).every(([key, expected]) => value.labels[key] === expected);
  });
  return sample?.value;
}

test('metrics count reservations, lapses and orphans', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'voxfleet-registry-metrics-'));
  const prom = new Registry();
  const metrics = createRegistryMetrics(prom);
  const backlog = await openRegistry(`sqlite:${join(dir, 'registry.db')}`);
  // An event from before instrumenting must not be counted.
  await backlog.register(worker('old', { ttlMs: 100 }));
  await backlog.reserve(reserveRequest('old-call', { reservationTtlMs: 50 }));
  await sleep(150);
  await backlog.reap();
  await backlog.close();

  const registry = await instrumentRegistry(
    await openRegistry(`sqlite:${join(dir, 'registry.db')}`),
    metrics,
  );
  try {
    await registry.register(worker('w1', { labels: { role: 'busy' }, ttlMs: 300 }));
    await registry.register(worker('w2', { labels: { role: 'lapse' } }));
    await registry.register(worker('w3', { labels: { role: 'drain' } }));
    await registry.setDraining('w3', true);
    const busy = await registry.reserve(
      reserveRequest('c1', { labels: { role: 'busy' }, quotas: { tenant: { id: 't', limit: 2 } } }),
    );
    assert.ok(busy);
    assert.equal(await registry.confirm(busy.workerId, busy.token), 'confirmed');
    await registry.reserve(
      reserveRequest('c2', { labels: { role: 'lapse' }, tenantId: 't', reservationTtlMs: 100 }),
    );
    assert.equal(await registry.reserve(reserveRequest('c3')), null);
    await assert.rejects(
      registry.reserve(reserveRequest('c4', { quotas: { tenant: { id: 't', limit: 2 } } })),
      RegistryQuotaExceededError,
    );

    await prom.metrics();
    assert.equal(await metricValue(prom, 'voxfleet_registry_slots', { state: 'busy' }), 1);
    assert.equal(await metricValue(prom, 'voxfleet_registry_slots', { state: 'reserved' }), 1);
    assert.equal(await metricValue(prom, 'voxfleet_registry_slots', { state: 'draining' }), 1);
    assert.equal(await metricValue(prom, 'voxfleet_registry_slots', { state: 'idle' }), 0);
    const outcome = (name: string) =>
      metricValue(prom, 'voxfleet_registry_reservations_total', { outcome: name });
    assert.equal(await outcome('reserved'), 2);
    assert.equal(await outcome('no_capacity'), 1);
    assert.equal(await outcome('quota_exceeded'), 1);
    const text = await prom.getSingleMetricAsString('voxfleet_registry_reserve_duration_seconds');
    assert.match(text, /reserve_duration_seconds_count\{outcome="reserved"\} 2/);

    await sleep(400);
    await prom.metrics();
    assert.equal(await metricValue(prom, 'voxfleet_registry_reservations_lapsed_total'), 1);
    assert.equal(await metricValue(prom, 'voxfleet_registry_calls_orphaned_total'), 1);
    assert.equal(await metricValue(prom, 'voxfleet_registry_slots', { state: 'busy' }), 0);
    assert.equal(await metricValue(prom, 'voxfleet_registry_slots', { state: 'idle' }), 1);
    assert.equal(await metricValue(prom, 'voxfleet_registry_metrics_refresh_failures_total'), 0);
  } finally {
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('metrics refresh failure is counted', async () => {
  const prom = new Registry();
  const metrics = createRegistryMetrics(prom);
  const inner = await openRegistry('sqlite::memory:');
  const registry = await instrumentRegistry(inner, metrics);
  await registry.register(worker('w1'));
  await prom.metrics();
  assert.equal(await metricValue(prom, 'voxfleet_registry_slots', { state: 'idle' }), 1);

  // Closing the wrapped registry behind the wrapper's back makes every refresh fail.
  await inner.close();
  await prom.metrics();
  assert.equal(await metricValue(prom, 'voxfleet_registry_slots', { state: 'idle' }), 1);
  assert.ok(
    ((await metricValue(prom, 'voxfleet_registry_metrics_refresh_failures_total')) ?? 0) >= 1,
  );

  await registry.close();
  await registry.close();
  const failures = await metricValue(prom, 'voxfleet_registry_metrics_refresh_failures_total');
  await prom.metrics();
  assert.equal(
    await metricValue(prom, 'voxfleet_registry_metrics_refresh_failures_total'),
    failures,
    'a closed wrapper no longer refreshes',
  );
});
