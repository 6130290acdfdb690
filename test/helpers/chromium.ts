import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Test } from 'tap';

/** Debian's Chromium; the tests never download a browser. */
export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Only the loopback: any other host name fails to resolve (pages routed by a test never reach DNS).
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];

/**
 * Whether the browser tests can run. Outside CI a machine without Chromium skips them with the
 * reason printed; under CI (which installs Chromium, see .ci/run) a missing Chromium is a failure.
 */
export function requireChromium(t: Test): boolean {
  if (existsSync(CHROMIUM)) return true;
  const reason = `Chromium is not installed at ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`;
  if (process.env.CI) t.fail(reason);
  else t.plan(0, reason);
  return false;
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Messages of every alert/confirm/prompt any page opened (each is dismissed). */
  dialogs: string[];
  /** Uncaught page errors and Content-Security-Policy violations. */
  problems: string[];
  /** Closes Chromium; resolves to the number of its processes that had to be killed afterwards. */
  close(): Promise<number>;
}

/** The pids of processes started with this profile directory (Chromium and its helpers). */
async function processesUsing(profile: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(profile)) pids.push(Number(entry));
  }
  return pids;
}

function watch(page: Page, dialogs: string[], problems: string[]): void {
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    dialog.dismiss().catch(() => {});
  });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) problems.push(message.text());
  });
}

/**
 * A fresh headless Chromium with a profile of its own, for one test. It is closed at the end
 * of the test, and any process of it still alive then is killed.
 */
export async function openBrowser(t: Test): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'latchkey-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1024, height: 768 },
    timeout: 60_000,
  });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(20_000);
  const dialogs: string[] = [];
  const problems: string[] = [];
  context.on('page', (page) => watch(page, dialogs, problems));
  const page = context.pages()[0] ?? (await context.newPage());
  if (context.pages()[0] === page) watch(page, dialogs, problems);

  let closed: Promise<number> | undefined;
  const close = () => {
    closed ??= (async () => {
      await Promise.race([context.close().catch(() => {}), delay(10_000)]);
      let leftovers = await processesUsing(profile);
      for (let i = 0; i < 20 && leftovers.length > 0; i++) {
        await delay(100);
        leftovers = await processesUsing(profile);
      }
      for (const pid of leftovers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await rm(profile, { recursive: true, force: true });
      return leftovers.length;
    })();
    return closed;
  };
  t.teardown(close);
  return { context, page, dialogs, problems, close };
}

/**
 * A full-page screenshot. With SCREENSHOTS=1 it is written to docs/screenshots/<name>.png (the
 * images README shows); otherwise it is taken and checked to be a PNG, and not written, so that
 * running the suite leaves the work tree unchanged.
 */
export async function screenshot(t: Test, page: Page, name: string): Promise<void> {
  const write = Boolean(process.env.SCREENSHOTS);
  const dir = join(process.cwd(), 'docs', 'screenshots');
  if (write) await mkdir(dir, { recursive: true });
  const png = await page.screenshot({ fullPage: true, ...(write ? { path: join(dir, `${name}.png`) } : {}) });
  t.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `screenshot of ${name}`);
}
