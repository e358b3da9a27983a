/**
 * End-to-end tests of the dashboard in Debian's headless Chromium, driven by playwright-core,
 * against a local stack (`voxfleet start --sim-speed 10`) that serves the built UI. Run with
 * `npm run test:ui`, which builds the UI first. Each view's screenshot is saved under
 * `apps/ui/test/screenshots/`.
 *
 * Set CHROMIUM_PATH to use another Chromium binary; the default is /usr/bin/chromium.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';

const ROOT = new URL('../../../../', import.meta.url).pathname;
const SCREENSHOTS = join(ROOT, 'apps/ui/test/screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WORKERS = 3;

/** Three good contacts and one with an invalid phone on CSV line 4. */
const CONTACTS_CSV = [
  'phone,name,scenario',
  '+919800000101,Asha Rao,press-1',
  '+919800000102,Ravi Nair,press-2',
  '12345,Bad Row,press-1',
  '+919800000103,Meena Iyer,speak',
].join('\n');

interface Stack {
  process: ChildProcess;
  url: string;
  apiKey: string;
  output: string[];
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Picks a base port whose stack ports (base, +10, +20, +101 onwards) are all free. */
async function pickBasePort(): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20_000 + Math.floor(Math.random() * 400) * 100;
    const ports = [base, base + 10, base + 20];
    for (let index = 1; index <= WORKERS; index++) ports.push(base + 100 + index);
    const free = await Promise.all(ports.map(isPortFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free base port found between 20000 and 60000');
}

async function startStack(dataDir: string): Promise<Stack> {
  const basePort = await pickBasePort();
  const child = spawn(
    process.execPath,
    [
      '--conditions=development',
      '--import',
      'tsx',
      'packages/cli/src/bin.ts',
      'start',
      '--sim-speed',
      '10',
      '--workers',
      String(WORKERS),
      '--data-dir',
      dataDir,
      '--base-port',
      String(basePort),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const url = `http://127.0.0.1:${basePort}`;
  const stack: Stack = { process: child, url, apiKey: '', output };

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`voxfleet start exited with ${child.exitCode}:\n${output.join('')}`);
    }
    if (output.join('').includes('voxfleet is running')) {
      const secrets = JSON.parse(await readFile(join(dataDir, 'secrets.json'), 'utf8')) as {
        apiKey: string;
      };
      stack.apiKey = secrets.apiKey;
      return stack;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`voxfleet start was not ready within 60 s:\n${output.join('')}`);
}

async function stopStack(stack: Stack | undefined): Promise<void> {
  const child = stack?.process;
  if (child === undefined || child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    // The CLI stops its services on SIGTERM; this only runs when it hangs.
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, 20_000);
  await exited;
  clearTimeout(timer);
}

describe('dashboard in headless chromium', { timeout: 240_000 }, () => {
  let dir: string;
  let stack: Stack | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let botId: string;
  const consoleErrors: string[] = [];
  /** URLs of requests that a test makes fail on purpose. */
  const expectedFailures = new Set<string>();

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: apt-get install -y chromium`);
    assert.ok(
      existsSync(join(ROOT, 'apps/ui/dist/index.html')),
      'apps/ui/dist is missing: run npm run build -w @voxfleet/ui',
    );
    dir = await mkdtemp(join(tmpdir(), 'voxui-test-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    stack = await startStack(join(dir, 'stack'));

    const bot = JSON.parse(await readFile(join(ROOT, 'examples/demo-bot.json'), 'utf8')) as object;
    const created = await fetch(`${stack.url}/v1/bots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': stack.apiKey },
      body: JSON.stringify(bot),
    });
    assert.equal(created.status, 201, await created.clone().text());
    botId = ((await created.json()) as { id: string }).id;

    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1366, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      // Chromium logs every 4xx response as a console error, including the 400 that the bot
      // test provokes on purpose; only that one is expected.
      const expected =
        message.text().startsWith('Failed to load resource') &&
        expectedFailures.has(message.location().url);
      if (!expected) consoleErrors.push(`${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
  });

  after(async () => {
    await context?.close();
    await stopStack(stack);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('login shows the workers', async () => {
    await page.goto(`${stack?.url}/`);
    await page.getByLabel('API key').waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'login.png') });
    await page.getByLabel('API key').fill(stack?.apiKey ?? '');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Fleet', level: 1 }).waitFor();
    await page
      .locator('tr[data-worker]')
      .nth(WORKERS - 1)
      .waitFor();
    const rows = await page.locator('tr[data-worker]').count();
    assert.equal(rows, WORKERS);
    await page.getByText('Live', { exact: true }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'fleet.png'), fullPage: true });
  });

  test('csv upload reports bad row', async () => {
    await page.getByRole('link', { name: 'Campaigns' }).click();
    await page.getByLabel('Name').fill('Browser test campaign');
    await page.getByLabel('Concurrency').fill('3');
    await page.getByRole('button', { name: 'Create campaign' }).click();
    await page.getByRole('heading', { name: 'Browser test campaign', level: 1 }).waitFor();

    await page.getByLabel('Contacts CSV').setInputFiles({
      name: 'contacts.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(CONTACTS_CSV),
    });
    await page.getByRole('button', { name: 'Upload' }).click();
    const report = page.getByTestId('import-report');
    await report.waitFor();
    assert.match(await report.innerText(), /3 imported, 1 rejected/);
    const errorRow = report.locator('tbody tr');
    assert.equal(await errorRow.count(), 1);
    assert.equal(await errorRow.locator('th').innerText(), '4');
    assert.match(await errorRow.locator('td').innerText(), /phone/);
    await page.screenshot({ path: join(SCREENSHOTS, 'campaign-import.png'), fullPage: true });
  });

  test('campaign runs to completion', async () => {
    await page.getByRole('button', { name: 'Start' }).click();
    await page
      .getByTestId('campaign-status')
      .filter({ hasText: /^completed$/ })
      .waitFor({ timeout: 120_000 });
    const progress = page.getByLabel('Campaign progress');
    assert.equal(await progress.getAttribute('value'), '3');
    assert.equal(await progress.getAttribute('max'), '3');
    assert.ok((await page.locator('svg rect.bar').count()) >= 1, 'outcome chart has no bar');
    await page.screenshot({ path: join(SCREENSHOTS, 'campaign.png'), fullPage: true });
  });

  test('call recording plays', async () => {
    await page.getByRole('link', { name: 'Calls of this campaign' }).click();
    await page.getByLabel('Status').selectOption('completed');
    await page.locator('tbody tr').first().waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'calls.png'), fullPage: true });

    await page.locator('tbody tr th a').first().click();
    await page.getByRole('heading', { name: 'Lifecycle' }).waitFor();
    const audio = page.locator('audio');
    await audio.waitFor();
    // The page functions are strings because this file is type-checked without the DOM
    // library, which the repository-wide tsconfig.json leaves out.
    await page.waitForFunction(
      "(() => { const a = document.querySelector('audio'); return a !== null && a.readyState >= 1 && a.duration > 0; })()",
    );
    const playing = (await page.evaluate(
      "(async () => { const a = document.querySelector('audio'); await a.play(); await new Promise((r) => setTimeout(r, 500)); return { readyState: a.readyState, currentTime: a.currentTime, duration: a.duration }; })()",
    )) as { readyState: number; currentTime: number; duration: number };
    assert.ok(playing.readyState >= 1, `readyState is ${playing.readyState}`);
    assert.ok(playing.duration > 0, `duration is ${playing.duration}`);
    assert.ok(playing.currentTime > 0, `currentTime stayed ${playing.currentTime}`);
    assert.ok((await page.locator('ol.transcript li').count()) > 0, 'transcript is empty');
    await page.screenshot({ path: join(SCREENSHOTS, 'call.png'), fullPage: true });
  });

  test('bot config error shown inline', async () => {
    await page.getByRole('link', { name: 'Bots' }).click();
    const editor = page.getByLabel('Runtime config (JSON)');
    const config = JSON.parse(await editor.inputValue()) as Record<string, unknown>;
    await editor.fill(JSON.stringify({ ...config, start: 'missing-node' }, null, 2));
    expectedFailures.add(`${stack?.url}/v1/bots/${botId}`);
    await page.getByRole('button', { name: 'Save' }).click();
    const details = page.locator('.error-details li');
    await details.first().waitFor();
    assert.match(await details.first().innerText(), /start/);
    assert.equal(await editor.getAttribute('aria-invalid'), 'true');
    await page.screenshot({ path: join(SCREENSHOTS, 'bots.png'), fullPage: true });
  });

  test('keyboard reaches skip link and navigation', async () => {
    await page.goto(`${stack?.url}/fleet`);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate('document.activeElement.textContent'), 'Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Campaigns', level: 1 }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/campaigns');
  });

  test('no console errors', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
