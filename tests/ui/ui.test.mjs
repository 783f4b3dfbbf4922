/*
 * Browser tests of the web UI: a real `sluice serve --no-cron` per test, Debian's chromium
 * driven by playwright-core, screenshots into build/ui-artifacts/ (see harness.mjs).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { Server, launchBrowser, openPage, screenshot } from './harness.mjs';

const T = { timeout: 90000 };
let browser;

before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/* Runs body(server) against a fresh server, always stopping it (and checking its exit). */
async function withServer(opts, body) {
  const server = await new Server(opts).start();
  try {
    await body(server);
  } catch (e) {
    e.message += '\n--- server log (tail) ---\n' + server.log.split('\n').slice(-30).join('\n');
    throw e;
  } finally {
    await server.close();
  }
}

function noProblems(page) {
  assert.deepEqual(page.problems, [], 'the page logged errors (a CSP violation shows up here)');
}

async function text(page, selector) {
  return (await page.locator(selector).textContent()).trim();
}

/* Waits until the element's text is exactly want. */
async function waitText(page, selector, want, timeout = 10000) {
  await page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent.trim() === w,
    [selector, want], { timeout });
}

const csv = (rows) => Buffer.from(rows.join('\n') + '\n');

describe('web UI', () => {
  test('uploads two files, sees them pending, processes them live without a reload', T, async () => {
    await withServer({}, async (server) => {
      const page = await openPage(browser, server);
      await page.locator('#up-files').setInputFiles([
        { name: 'machines.csv', mimeType: 'text/csv', buffer: csv(['code,name', 'M1,Pump', 'M2,Valve']) },
        { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello sluice\n') },
      ]);
      const rows = page.locator('#up-list li.done');
      await rows.nth(1).waitFor();
      for (const li of await rows.all()) {
        assert.match(await li.locator('.state').textContent(), /Queued as job [0-9a-f-]{36}/);
        assert.equal(await li.locator('progress').evaluate((p) => p.value), 1);
      }
      await waitText(page, '#q-pending', '2');
      await page.waitForFunction(() => document.querySelectorAll('#jobs-body tr[data-status="pending"]').length === 2);
      assert.equal(await text(page, '#q-next'), 'not scheduled');
      await screenshot(page, '01-uploaded-pending.png');

      await page.evaluate(() => { window.__sameDocument = true; });
      await page.getByRole('button', { name: 'Process now' }).click();
      await waitText(page, '#q-completed', '2');
      await waitText(page, '#q-pending', '0');
      await page.waitForFunction(() => document.querySelectorAll('#jobs-body tr[data-status="completed"]').length === 2);
      assert.match(await text(page, '#process-result'), /^Processed 2 jobs: 2 succeeded, 0 failed/);
      assert.notEqual(await text(page, '#q-last'), 'never');
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
      /* Statistics follow the change too (debounced): 2 jobs, all succeeded, a chart drawn. */
      await waitText(page, '#s-rate', '100 %');
      assert.equal(await text(page, '#s-total'), '2');
      assert.ok(await page.locator('#s-chart rect').count() > 0);
      /* The queue came only over the event stream: the page never polled the queue route. */
      assert.deepEqual(page.requests.filter((r) => r.includes('/api/integration/queue')), []);
      assert.equal(page.requests.filter((r) => r === 'GET /api/integration/events').length, 1);
      await screenshot(page, '02-processed-live.png');
      noProblems(page);
    });
  });

  test('a job shows its row errors, result and actions; keyboard opens and closes it', T, async () => {
    const schema = {
      processors: {
        machines: {
          import: {
            key: 'code',
            fields: {
              code: { type: 'string' }, name: { type: 'string', required: true },
              year: { type: 'integer' }, kind: { type: 'string', enum: ['preventive', 'corrective'] },
            },
          },
        },
      },
    };
    await withServer({ files: { 'sluice.json': JSON.stringify(schema) } }, async (server) => {
      const page = await openPage(browser, server);
      await page.getByRole('region', { name: 'Upload' }).getByLabel('Type', { exact: true }).fill('machines');
      await page.getByRole('region', { name: 'Upload' }).getByLabel('Tenant', { exact: true }).fill('plant-7');
      await page.locator('#up-files').setInputFiles([{
        name: 'machines.csv', mimeType: 'text/csv',
        buffer: csv(['code,name,year,kind', 'M1,Pump,2019,preventive', 'M2,Valve,soon,corrective', 'M3,,2020,sideways']),
      }]);
      await page.locator('#up-list li.done').waitFor();
      await page.getByRole('button', { name: 'Process now' }).click();
      await page.locator('#jobs-body tr[data-status="completed"]').waitFor();

      /* Filters: by type and tenant the job is there; by status failed it is not. */
      await page.locator('#f-status').selectOption('failed');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.locator('#jobs-empty').waitFor({ state: 'visible' });
      await page.locator('#f-status').selectOption('');
      await page.locator('#f-type').fill('machines');
      await page.locator('#f-tenant').fill('plant-7');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.locator('#jobs-body tr[data-status="completed"]').waitFor();

      const link = page.locator('#jobs-body button.job-link').first();
      await link.focus();
      await page.keyboard.press('Enter');
      const dialog = page.locator('#job-dialog');
      await dialog.waitFor({ state: 'visible' });
      await page.locator('#jd-errors-body tr').nth(1).waitFor();
      const errors = await page.locator('#jd-errors-body tr').evaluateAll((trs) =>
        trs.map((tr) => Array.from(tr.cells, (td) => td.textContent)));
      assert.equal(errors.length, 3, JSON.stringify(errors));
      const byField = Object.fromEntries(errors.map((e) => [e[1], e]));
      assert.equal(byField.year[0], '2');
      assert.equal(byField.year[2], 'soon');
      assert.equal(byField.name[0], '3');
      assert.equal(byField.kind[0], '3');
      assert.match(await text(page, '#jd-result'), /"errorRows": 2/);
      assert.equal(await page.locator('#jd-retry').isDisabled(), true);
      assert.equal(await page.locator('#jd-cancel').isDisabled(), true);
      const href = await page.locator('#jd-download').getAttribute('href');
      assert.match(href, /^\/api\/integration\/jobs\/[0-9a-f-]{36}\/file$/);
      const file = await page.evaluate(async (h) => (await fetch(h)).text(), href);
      assert.match(file, /^code,name,year,kind/);
      await screenshot(page, '03-job-row-errors.png');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      assert.equal(await page.evaluate(() => document.activeElement.classList.contains('job-link')), true,
        'focus goes back to the link that opened the job');
      noProblems(page);
    });
  });

  test('a file over the size limit shows its message; the others of the drop go through', T, async () => {
    await withServer({ env: { SLUICE_MAX_UPLOAD_BYTES: '1000' } }, async (server) => {
      const page = await openPage(browser, server);
      /* Dropped, not picked: a DataTransfer with two files lands on the drop zone. */
      const dt = await page.evaluateHandle(() => {
        const d = new DataTransfer();
        d.items.add(new File(['x'.repeat(5000)], 'big.csv', { type: 'text/csv' }));
        d.items.add(new File(['a,b\n1,2\n'], 'small.csv', { type: 'text/csv' }));
        return d;
      });
      await page.locator('#drop').dispatchEvent('drop', { dataTransfer: dt });
      const big = page.locator('#up-list li', { hasText: 'big.csv' });
      const small = page.locator('#up-list li', { hasText: 'small.csv' });
      await big.and(page.locator('.rejected')).waitFor();
      assert.match(await big.locator('.state').textContent(), /^Too large: file 'big.csv' is larger than the per-file limit/);
      await small.and(page.locator('.done')).waitFor();
      await waitText(page, '#q-pending', '1');
      /* A bad type is caught before anything is sent. */
      await page.getByRole('region', { name: 'Upload' }).getByLabel('Type', { exact: true }).fill('no spaces allowed');
      await page.locator('#up-files').setInputFiles([{ name: 'c.csv', mimeType: 'text/csv', buffer: Buffer.from('a\n') }]);
      assert.match(await text(page, '#up-msg'), /^Type: 1 to 64 characters/);
      assert.equal(await page.locator('#up-type').getAttribute('aria-invalid'), 'true');
      await screenshot(page, '04-rejected-upload.png');
      noProblems(page);
    });
  });

  test('Process now asks for the cron secret and keeps it only in the tab', T, async () => {
    const secret = 'tab-only-secret-42';
    await withServer({ env: { CRON_SECRET: secret } }, async (server) => {
      await server.upload([{ name: 'one.txt', data: '1' }]);
      const page = await openPage(browser, server);
      await waitText(page, '#q-pending', '1');
      assert.equal((await page.content()).includes(secret), false);
      await page.getByRole('button', { name: 'Process now' }).click();
      const input = page.getByLabel('Cron secret');
      await input.waitFor();
      assert.equal(await page.evaluate(() => document.activeElement.id), 'secret');
      await input.fill('wrong');
      await page.getByRole('button', { name: 'Run batch' }).click();
      await page.locator('#secret-why', { hasText: 'That secret was not accepted' }).waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.getItem('sluice.cronSecret')), null);
      await input.fill(secret);
      await page.getByRole('button', { name: 'Run batch' }).click();
      await page.locator('#process-result', { hasText: 'Processed 1 job' }).waitFor();
      await waitText(page, '#q-completed', '1');
      assert.equal(await page.locator('#secret-form').isHidden(), true);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('sluice.cronSecret')), secret);
      assert.equal(await page.evaluate(() => localStorage.length), 0);
      /* A second run uses the tab's secret without asking. */
      await server.upload([{ name: 'two.txt', data: '2' }]);
      await waitText(page, '#q-pending', '1');
      await page.getByRole('button', { name: 'Process now' }).click();
      await waitText(page, '#q-completed', '2');
      assert.equal(await page.locator('#secret-form').isHidden(), true);
      /* Another tab (a new context) knows nothing of it. */
      const other = await openPage(browser, server);
      assert.equal(await other.evaluate(() => sessionStorage.getItem('sluice.cronSecret')), null);
      noProblems(page);
    });
  });

  test('with SLUICE_API_TOKEN: the page asks for the token (again when wrong), then downloads with it', T, async () => {
    const token = 'ui-token-' + randomBytes(12).toString('hex');
    await withServer({ env: { SLUICE_API_TOKEN: token } }, async (server) => {
      /* every byte value, then random ones: the download must give back exactly these */
      const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(300000)]);
      const { jobIds: [id] } = await server.upload([{ name: 'payload.bin', data: bytes }]);
      const prompts = [];
      const answers = ['not-the-token', token];
      const urls = [];
      const page = await openPage(browser, server, { acceptDownloads: true }, {
        live: false,
        setup: (p) => {
          p.on('dialog', async (d) => {
            prompts.push(d.type() + ': ' + d.message());
            if (d.type() === 'prompt' && answers.length) await d.accept(answers.shift());
            else await d.dismiss();
          });
          p.on('request', (r) => urls.push({ url: r.url(), auth: r.headers().authorization }));
        },
      });
      /* Asked once, the wrong token refused and asked for again, then the queue comes live. */
      await page.locator('#live[data-state="live"]').waitFor({ timeout: 20000 });
      await waitText(page, '#q-pending', '1');
      await page.locator(`#jobs-body button.job-link[data-job-id="${id}"]`).waitFor();
      assert.equal(prompts.length, 2, prompts.join('\n'));
      assert.match(prompts[0], /^prompt: This server needs its API token/);
      assert.match(prompts[1], /^prompt: That API token was not accepted/);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('sluice.apiToken')), token);
      assert.equal(await page.evaluate(() => localStorage.length), 0);

      /* Download: the link holds no token; the file comes with the header and is saved whole. */
      await page.locator(`#jobs-body button.job-link[data-job-id="${id}"]`).click();
      await page.locator('#job-dialog').waitFor({ state: 'visible' });
      await waitText(page, '#jd-title', 'payload.bin');
      assert.equal(await page.locator('#jd-download').getAttribute('href'), `/api/integration/jobs/${id}/file`);
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#jd-download').click()]);
      assert.equal(download.suggestedFilename(), 'payload.bin');
      const saved = await readFile(await download.path());
      assert.equal(saved.length, bytes.length);
      assert.ok(saved.equals(bytes), 'the downloaded bytes differ from the uploaded ones');
      await page.locator('#jd-msg', { hasText: 'Downloaded payload.bin' }).waitFor();
      const fileRequests = urls.filter((r) => r.url.endsWith(`/api/integration/jobs/${id}/file`));
      assert.equal(fileRequests.length, 1, JSON.stringify(fileRequests));
      assert.equal(fileRequests[0].auth, 'Bearer ' + token);
      /* The token is in no URL but the live queue's (EventSource cannot send a header). */
      const leaks = urls.filter((r) => r.url.includes(token) && !new URL(r.url).pathname.endsWith('/events'));
      assert.deepEqual(leaks, []);
      assert.equal(server.log.includes(token), false, 'the token is in the server log');
      await screenshot(page, '07-token-download.png');
      noProblems(page);
    });
  });

  test('the live queue reconnects after a server restart', T, async () => {
    await withServer({}, async (server) => {
      const page = await openPage(browser, server);
      await waitText(page, '#q-pending', '0');
      await server.stop();
      await page.waitForFunction(() => document.getElementById('live').dataset.state !== 'live');
      assert.match(await text(page, '#live-text'), /Reconnecting|Offline/);
      await screenshot(page, '05-reconnecting.png');
      await server.start();
      await page.locator('#live[data-state="live"]').waitFor({ timeout: 20000 });
      await server.upload([{ name: 'after-restart.txt', data: 'x' }]);
      await waitText(page, '#q-pending', '1');
      await page.locator('#jobs-body tr[data-status="pending"]').waitFor();
      noProblems(page);
    });
  });

  test('readable on a phone (in dark mode): no sideways scrolling, every control labelled', T, async () => {
    await withServer({}, async (server) => {
      await server.upload([{ name: 'a-rather-long-file-name-for-a-small-screen.csv', data: 'a,b\n1,2\n' }]);
      const page = await openPage(browser, server, {
        viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, colorScheme: 'dark',
      });
      await waitText(page, '#q-pending', '1');
      await page.locator('#jobs-body tr').first().waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
      const unlabelled = await page.evaluate(() => Array.from(document.querySelectorAll('input, select, button'))
        .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label') && !c.textContent.trim())
        .map((c) => c.outerHTML));
      assert.deepEqual(unlabelled, []);
      await screenshot(page, '06-phone.png');
      noProblems(page);
    });
  });
});
