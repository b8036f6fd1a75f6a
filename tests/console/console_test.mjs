// The web console in a real browser (ctest console_browser_test): Playwright
// (playwright-core, console/package.json) drives Debian's Chromium headless against a real
// certkeeper-server on a temporary SQLite store, with two certkeeper-fleet processes:
//   - the fleet: 1,800 agents (--memory), online throughout: two thirds with channels
//     (a rotation reaches them at once), one third checking in every 4 s without a
//     channel (they follow over a few seconds, so the bar is seen moving);
//   - the offline share: 200 more agents that check in once and then go away, so they
//     are still pinned to the old certificate after the rotation (left behind).
// It logs in with `certmgr console-url`, checks the counts, runs `certmgr -c` and watches
// the counts change without a reload until the fleet is on the new certificate, pages,
// sorts and searches the left-behind list, downloads the CSV and compares it with
// `certmgr -l`, sends a command through the confirmation dialog, sees a page whose
// session is gone say so, and sees the login URL refused the second time. Screenshots go to $CK_TEST_OUTPUT_DIR (ctest:
// build/test-output/console/) and are listed at the end.
//
// Bounded: the whole run is cut at 120 s (more for a fleet above 4,000); every process it starts (server, fleets,
// browser) is stopped in `finally`, each server and fleet as a process group.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child, killAllNow, run, stopAll, tail } from './processes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
// playwright-core is a devDependency of the console (installed by scripts/setup).
const { chromium } = createRequire(join(repo, 'console', 'package.json'))('playwright-core');

const binDir = process.env.CK_BIN_DIR || join(repo, 'build', 'bin');
const outDir = process.env.CK_TEST_OUTPUT_DIR || join(binDir, '..', 'test-output', 'console');
const assets = process.env.CK_CONSOLE_ASSETS || join(binDir, '..', 'console', 'dist');
const chromiumPath = process.env.CK_CHROMIUM || '/usr/bin/chromium';
// The sanitizer trees run a smaller fleet (CK_CONSOLE_TEST_FLEET) to stay in the bound;
// a larger one (the 10,000, by hand) gets bounds that grow with it.
const FLEET = Number(process.env.CK_CONSOLE_TEST_FLEET || 1800);
const LIMIT_MS = Math.max(120_000, FLEET * 30);
const CONNECT_MS = Math.max(50_000, FLEET * 12);
const CONVERGE_MS = Math.max(40_000, FLEET * 10);
const POLLING = Math.round(FLEET / 3);
const CHANNELS = FLEET - POLLING;
const OFFLINE = 200;
const TOTAL = FLEET + OFFLINE;
const PASSWORD = 'Console-Browser-Test-Pass-2026!';

const began = Date.now();
const screenshots = [];
function step(text) {
  console.log(`[${((Date.now() - began) / 1000).toFixed(1)}s] ${text}`);
}

const dir = mkdtempSync(join(tmpdir(), 'ckc-'));
const env = { ...process.env, CERTKEEPER_STORE: `sqlite:${dir}/store/ck.db`, CERTKEEPER_CONFIG: '/dev/null' };
delete env.CERTKEEPER_ADMIN;
const adminSocket = `unix:${dir}/admin.sock`;
const bin = (name) => join(binDir, name);

async function certmgr(...args) {
  const r = await run([bin('certmgr'), ...args], env);
  assert.equal(r.code, 0, `certmgr ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return r.out;
}

// certmgr -c: a new current certificate; returns its fingerprint.
async function rotate() {
  const out = await certmgr('-c', PASSWORD);
  const m = /generated ([0-9a-f]{64})/.exec(out);
  assert.ok(m, `certmgr -c printed no fingerprint: ${out}`);
  return m[1];
}

async function startServer() {
  const server = new Child(
    'certkeeper-server',
    [
      bin('certkeeper-server'),
      '--listen', '127.0.0.1:0',
      '--metrics-listen', '127.0.0.1:0',
      '--admin-listen', adminSocket,
      '--console-listen', '127.0.0.1:0',
      '--console-assets', assets,
      '--state-dir', `${dir}/server`,
      '--log-level', 'warn',
    ],
    env,
  );
  const agents = /listening on (\S+) \(agents\)/.exec(await server.waitForLine(/\(agents\)/, 20_000))[1];
  const console_ = /listening on (\S+) \(console\)/.exec(await server.waitForLine(/\(console\)/, 20_000))[1];
  return { server, agentUrl: `https://${agents}`, consoleUrl: `http://${console_}` };
}

function startFleet(name, agentUrl, n, prefix, extra) {
  return new Child(
    name,
    [
      bin('certkeeper-fleet'),
      '--server', agentUrl,
      '-n', String(n),
      '--memory',
      '--id-prefix', prefix,
      '--agent-key', `${dir}/OfcNTCer.dat`,
      '--server-ca', `${dir}/server/server-tls.crt`,
      '--progress', '0.5',
      ...extra,
    ],
    env,
  );
}

// The value of a data-testid element's data-value, as a number.
async function count(page, id) {
  return Number(await page.getAttribute(`[data-testid="${id}"]`, 'data-value'));
}

async function shot(page, name) {
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  screenshots.push(path);
}

// Waits until `fn()` is truthy (polled every 100 ms), or fails with `what`.
async function until(fn, what, ms = 20_000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function stragglerState(page) {
  return page.evaluate(() => {
    const total = document.querySelector('[data-testid="straggler-total"]');
    const rows = [...document.querySelectorAll('[data-testid="straggler-row"]')];
    return {
      loading: total?.dataset.loading === 'yes',
      total: total?.dataset.total === '' ? null : Number(total?.dataset.total),
      ids: rows.map((r) => r.dataset.agentId),
      reasons: [...document.querySelectorAll('[data-testid="straggler-reason"]')].map((e) => e.textContent),
      info: document.querySelector('[data-testid="pager-info"]')?.dataset.page,
    };
  });
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  step(`temporary folder ${dir}; screenshots in ${outDir}`);
  const first = await rotate();
  await certmgr('-e', `${dir}/OfcNTCer.dat`);
  const { agentUrl, consoleUrl } = await startServer();
  step(`server: agents ${agentUrl}, console ${consoleUrl}`);

  // The offline share checks in once (pinned to the first certificate) and goes away.
  const offline = startFleet('offline share', agentUrl, OFFLINE, 'kiosk-',
    ['--checkin-interval', '2', '--spread', '2', '--until-converged', 'current', '--duration', '30']);
  const done = await offline.exited;
  assert.equal(done.code, 0, `the offline share did not converge: ${tail(offline.out)}${tail(offline.err)}`);
  step(`the offline share (${OFFLINE} agents) checked in and left`);
  const fleets = [
    startFleet('fleet (channels)', agentUrl, CHANNELS, 'pos-', ['--checkin-interval', '2', '--spread', '2']),
    startFleet('fleet (polling)', agentUrl, POLLING, 'till-', ['--no-channel', '--checkin-interval', '4', '--spread', '3']),
  ];
  const onFirst = (n) => new RegExp(`^progress: ${n}/${n} agents on current ${first.slice(0, 16)}`);
  await Promise.all([fleets[0].waitForLine(onFirst(CHANNELS), CONNECT_MS), fleets[1].waitForLine(onFirst(POLLING), CONNECT_MS)]);
  step(`${OFFLINE} agents checked in once and left; ${FLEET} agents online on ${first.slice(0, 16)}`);

  const url = (await certmgr('console-url', '--server-admin', adminSocket)).trim();
  assert.match(url, new RegExp(`^${consoleUrl}/login\\?token=[A-Za-z0-9_-]{43}$`));

  // Playwright passes --no-sandbox unless chromiumSandbox is set: Chromium's sandbox
  // cannot run as root (tests run as root in CI), so it is on only for other users.
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    chromiumSandbox: process.getuid() !== 0,
    args: ['--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));

    // Log in: the one-time URL trades its token for the session cookie and lands on /.
    const login = await page.goto(url);
    assert.equal(new URL(page.url()).pathname, '/', `after login the browser is at ${page.url()}`);
    assert.equal(login.status(), 200);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === 'ck_console');
    assert.ok(session, 'no ck_console cookie after login');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    await until(async () => (await count(page, 'count-total')) === TOTAL, `${TOTAL} endpoints on the overview`);
    assert.equal(await count(page, 'count-current'), TOTAL);
    assert.equal(await count(page, 'count-behind'), 0);
    assert.equal(await page.textContent('[data-testid="current-fingerprint"]'), first);
    assert.equal(await page.getAttribute('[data-testid="bar-current"]', 'data-count'), String(TOTAL));
    await until(async () => (await page.getAttribute('[data-testid="live-status"]', 'data-status')) === 'live', 'the live indicator');
    await shot(page, '01-overview-before-rotation');
    step(`logged in; overview shows ${TOTAL} endpoints, all on the current certificate`);

    // Record every state the overview shows from now on, and mark the document: a reload
    // would lose both.
    await page.evaluate(() => {
      window.__ckNoReload = true;
      window.__ckSeen = [];
      const read = () => {
        const v = (id) => document.querySelector(`[data-testid="${id}"]`)?.dataset.value;
        const state = `${document.querySelector('[data-testid="current-fingerprint"]')?.textContent}|${v('count-current')}|${v('count-behind')}`;
        if (window.__ckSeen[window.__ckSeen.length - 1] !== state) window.__ckSeen.push(state);
      };
      read();
      new MutationObserver(read).observe(document.getElementById('app'), { subtree: true, childList: true, characterData: true, attributes: true });
    });

    const second = await rotate();
    step(`certmgr -c: ${second.slice(0, 16)} is current; watching the overview converge`);
    await until(async () => (await page.textContent('[data-testid="current-fingerprint"]')) === second, 'the new certificate on the overview');
    await until(async () => (await count(page, 'count-current')) > 0, 'the first endpoints on the new certificate');
    await shot(page, '02-overview-during-rotation');
    await until(
      async () => (await count(page, 'count-current')) === FLEET && (await count(page, 'count-behind')) === OFFLINE,
      `${FLEET} current and ${OFFLINE} behind`,
      CONVERGE_MS,
    );
    const seen = await page.evaluate(() => window.__ckSeen);
    assert.equal(await page.evaluate(() => window.__ckNoReload), true, 'the page was reloaded');
    const after = seen.filter((s) => s.startsWith(second));
    step(`states shown without reload after the rotation (fingerprint|current|behind): ${after.map((s) => s.slice(65)).join(' → ')}`);
    assert.ok(seen.includes(`${first}|${TOTAL}|0`), `the state before the rotation was not shown: ${seen}`);
    assert.equal(after[after.length - 1], `${second}|${FLEET}|${OFFLINE}`);
    // The polling third follows over seconds: the bar was seen between the two ends.
    assert.ok(
      after.some((st) => {
        const n = Number(st.split('|')[1]);
        return n > 0 && n < FLEET;
      }),
      `no state between 0 and ${FLEET} on the new certificate was shown: ${after}`,
    );
    assert.equal(await page.getAttribute('[data-testid="bar-current"]', 'data-count'), String(FLEET));
    assert.equal(await page.getAttribute('[data-testid="bar-retired"]', 'data-count'), String(OFFLINE));
    await shot(page, '03-overview-after-rotation');

    // Endpoints left behind: paged, sorted and searched by the server.
    await page.click('[data-testid="nav-stragglers"]');
    let s = await until(async () => {
      const st = await stragglerState(page);
      return !st.loading && st.total !== null && st.ids.length > 0 && st;
    }, 'the left-behind list');
    assert.equal(s.total, OFFLINE);
    const kiosk = (i) => `kiosk-${String(i).padStart(6, '0')}`;
    assert.deepEqual(s.ids, Array.from({ length: 50 }, (_, i) => kiosk(i)));
    assert.ok(s.reasons.every((r) => r === 'retired'), `reasons: ${s.reasons}`);
    await shot(page, '04-left-behind-page-1');
    await page.click('[data-testid="pager-next"]');
    s = await until(async () => {
      const st = await stragglerState(page);
      return !st.loading && st.ids[0] === kiosk(50) && st;
    }, 'page 2 of the left-behind list');
    assert.deepEqual(s.ids, Array.from({ length: 50 }, (_, i) => kiosk(50 + i)));
    await page.click('[data-testid="sort-agent_id"]'); // ascending → descending, back to page 1
    s = await until(async () => {
      const st = await stragglerState(page);
      return !st.loading && st.ids[0] === kiosk(OFFLINE - 1) && st;
    }, 'the list sorted by agent id, descending');
    assert.equal(s.info, '1');
    await page.fill('[data-testid="search"]', 'kiosk-00015');
    s = await until(async () => {
      const st = await stragglerState(page);
      return !st.loading && st.total === 10 && st;
    }, 'the search for kiosk-00015');
    assert.deepEqual([...s.ids].sort(), Array.from({ length: 10 }, (_, i) => kiosk(150 + i)));
    await shot(page, '05-left-behind-search');
    step('left-behind list: 200 rows over 4 pages, sorted both ways, searched');

    // The CSV download equals certmgr -l.
    await page.fill('[data-testid="search"]', '');
    await until(async () => (await stragglerState(page)).total === OFFLINE, 'the cleared search');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="csv-link"]')]);
    const downloaded = join(dir, 'console.csv');
    await download.saveAs(downloaded);
    assert.equal(download.suggestedFilename(), 'stragglers.csv');
    await certmgr('-l', join(dir, 'certmgr.csv'));
    const csv = readFileSync(downloaded, 'utf8');
    assert.equal(csv, readFileSync(join(dir, 'certmgr.csv'), 'utf8'), 'the console CSV differs from certmgr -l');
    assert.equal(csv.trim().split('\n').length, OFFLINE + 1, 'a header and one row per endpoint left behind');
    step('CSV download equals certmgr -l');

    // Audit log and agents; a command sent through the confirmation dialog.
    await page.click('[data-testid="nav-audit"]');
    await until(async () => (await page.locator('[data-testid="audit-row"][data-action="generate"]').count()) >= 2, 'two generate entries in the audit log');
    await shot(page, '06-audit-log');
    await page.click('[data-testid="nav-agents"]');
    await until(async () => (await page.locator('[data-testid="agent-row"]').count()) > 0, 'agent rows');
    await page.fill('[data-testid="send-to"]', 'pos-000000');
    await page.click('[data-testid="send-review"]');
    await page.waitForSelector('[data-testid="send-confirm"][open]');
    await shot(page, '07-send-command-confirm');
    await page.click('[data-testid="send-confirm-button"]');
    const result = await page.waitForSelector('[data-testid="send-result"]');
    assert.match(await result.textContent(), /^Queued ping/);
    await shot(page, '08-agents');
    step('audit log shown; ping sent to pos-000000 after confirmation');

    assert.deepEqual(problems, [], 'errors in the page');

    // A page whose session is gone says so (and how to get a new link) on its next request.
    await context.clearCookies();
    await page.click('[data-testid="nav-stragglers"]');
    await page.waitForSelector('[data-testid="session-ended"]', { timeout: 10_000 });
    assert.match(await page.textContent('[data-testid="session-ended"]'), /certmgr console-url/);
    await shot(page, '09-session-ended');

    // The login URL works once: a second browser (no cookie) is refused, and without a
    // session nothing but the login page is served.
    const stranger = await browser.newContext();
    const again = await stranger.newPage();
    const refused = await again.goto(url);
    assert.equal(refused.status(), 403);
    assert.match(await again.textContent('body'), /already used or has expired/);
    await shot(again, '10-login-url-used-twice');
    const api = await stranger.request.get(`${consoleUrl}/api/overview`, { maxRedirects: 0 });
    assert.equal(api.status(), 401);
    step('the login URL is refused the second time; the API refuses a browser without a session');
  } finally {
    await closeBrowser();
  }
  await Promise.all(fleets.map((f) => f.stop()));
}

let browser = null;
async function closeBrowser() {
  const b = browser;
  browser = null;
  if (b) await Promise.race([b.close(), new Promise((r) => setTimeout(r, 10_000))]);
}

const watchdog = setTimeout(() => {
  console.error(`console_browser_test: over ${LIMIT_MS / 1000} s, stopping`);
  cleanup().finally(() => process.exit(1));
}, LIMIT_MS);

// Once, however many callers (main's finally, the watchdog, a signal) ask for it.
let cleaning = null;
function cleanup() {
  cleaning ??= (async () => {
    await closeBrowser();
    await stopAll();
  })();
  return cleaning;
}
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`console_browser_test: ${signal}, stopping`);
    cleanup().finally(() => process.exit(1));
  });
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`FAILED: ${e.stack || e.message}`);
} finally {
  clearTimeout(watchdog);
  await cleanup();
  for (const p of screenshots) console.log(`screenshot: ${p}`);
  if (failed) {
    console.error(`kept for inspection: ${dir}`);
  } else {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(failed ? '0 passed, 1 failed' : '1 passed, 0 failed');
process.exit(failed ? 1 : 0);
