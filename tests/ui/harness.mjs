/*
 * harness: what the browser tests share: a real `sluice serve` in a fresh temporary folder,
 * Debian's chromium driven by playwright-core (never a downloaded browser), and screenshots.
 *
 * SLUICE_BIN names the binary (default ../../build/sluice); SLUICE_UI_ARTIFACTS the folder for
 * screenshots (default ../../build/ui-artifacts); CHROMIUM the browser (default /usr/bin/chromium).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.SLUICE_BIN || path.resolve(here, '../../build/sluice');
export const ARTIFACTS = process.env.SLUICE_UI_ARTIFACTS || path.resolve(here, '../../build/ui-artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/* Flags for a closed network: no background fetches, no sign-in, no first-run pages. */
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
];

/* Variables of the outer environment that must not reach the server under test. */
function childEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SLUICE_') || ['CRON_SECRET', 'DATABASE_URL', 'PORT', 'HOST'].includes(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/*
 * One working directory and (at most) one `sluice serve --no-cron` on it. start() picks a free
 * port (port 0) the first time and keeps it across restarts, so a page can reconnect.
 */
export class Server {
  constructor({ env = {}, files = {} } = {}) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'sluice-ui-'));
    this.env = { SLUICE_DATA_DIR: path.join(this.dir, 'data'), ...env };
    /* upload() and json() send the API token when the server has one */
    this.auth = env.SLUICE_API_TOKEN ? { Authorization: 'Bearer ' + env.SLUICE_API_TOKEN } : {};
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(this.dir, name), text);
    this.port = 0;
    this.proc = null;
    this.log = '';
    this.starts = 0; /* "listening on" lines seen so far: the log is kept across restarts */
  }

  async start() {
    const proc = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(this.port), '--no-cron'], {
      cwd: this.dir, env: childEnv(this.env), stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const onData = (d) => { this.log += d.toString(); };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 15000;
    for (;;) {
      const m = this.log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/g);
      if (m && m.length > this.starts) {
        this.port = Number(m[m.length - 1].split(':').pop());
        break;
      }
      if (proc.exitCode !== null) throw new Error('sluice serve exited at start:\n' + this.log);
      if (Date.now() > deadline) throw new Error('sluice serve did not start:\n' + this.log);
      await sleep(20);
    }
    this.starts++;
    return this;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /* SIGTERM and wait; a server that does not exit within 10 s is killed and reported. */
  async stop() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const res = await Promise.race([proc.exited, sleep(10000).then(() => null)]);
    if (!res) {
      proc.kill('SIGKILL');
      await proc.exited;
      throw new Error('sluice serve did not exit within 10 s of SIGTERM:\n' + this.log);
    }
    if (res.code !== 0) throw new Error(`sluice serve exited with ${res.code ?? res.signal}:\n` + this.log);
    if (/AddressSanitizer|LeakSanitizer|runtime error:/.test(this.log)) {
      throw new Error('sanitizer report in the server log:\n' + this.log);
    }
  }

  async close() {
    try {
      await this.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /* Uploads files straight to the API (not through the page); returns the 202 body. */
  async upload(files, fields = {}) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    for (const f of files) form.append('files', new Blob([f.data]), f.name);
    const res = await fetch(this.url + '/api/integration/upload', { method: 'POST', body: form, headers: this.auth });
    if (res.status !== 202) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
    return res.json();
  }

  async json(p) {
    const res = await fetch(this.url + p, { headers: this.auth });
    return res.json();
  }
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/*
 * A new page in its own context (fresh storage), recording console errors, page errors and the
 * requests it makes. Messages for failed loads (a 413, a 401, a refused connection) are the
 * expected side of some tests and are kept apart; anything else, e.g. a CSP violation, fails.
 * `setup(page)` runs before the page loads (e.g. to answer its dialogs); with `live: false` the
 * page is not waited for to go live (it cannot before it has the API token).
 */
export async function openPage(browser, server, options = {}, { setup = null, live = true } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.problems = [];
  page.requests = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    if (/Failed to load resource|net::ERR_/.test(text)) return;
    page.problems.push('console: ' + text);
  });
  page.on('pageerror', (e) => page.problems.push('page error: ' + e.message));
  page.on('request', (r) => page.requests.push(r.method() + ' ' + new URL(r.url()).pathname));
  if (setup) await setup(page);
  await page.goto(server.url + '/');
  if (live) await page.locator('#live[data-state="live"]').waitFor();
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
