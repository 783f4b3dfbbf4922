/*
 * sluice web UI: upload, live queue, jobs and statistics, in plain JavaScript.
 *
 * The queue arrives over Server-Sent Events (GET /api/integration/events): one `queue` event on
 * connect and one after every change. Each event also refreshes the jobs list, the open job and
 * the statistics (debounced), so nothing here polls the server on a timer; the only timer ticks
 * the clock shown in the countdowns. EventSource reconnects by itself after a drop (the server
 * sends `retry:`); if the browser gives up, we open a new one.
 *
 * Every text from the server (file names, messages, values) goes in with textContent, never as
 * HTML. The cron secret, when the server asks for one, lives in sessionStorage: this tab only.
 * So does the API token (SLUICE_API_TOKEN): when the API answers 401 `unauthorized` the page asks
 * for it once, then sends it as a Bearer header on fetch and XHR, and as `?token=` on the
 * EventSource URL (EventSource cannot send headers). It is never sent to the cron route, which
 * has its own secret. A link cannot send a header either, so with a token the job's Download
 * fetches the file with it and saves it from a blob: URL: the token stays out of every other URL
 * (server logs, history, Referer).
 */
'use strict';

(function () {
  const API = '/api/integration';
  const CRON = '/api/cron/process-integration-jobs';
  const SECRET_KEY = 'sluice.cronSecret';
  const TOKEN_KEY = 'sluice.apiToken';
  const NAME_RE = /^[A-Za-z0-9_.-]+$/;
  const UPLOADS_AT_ONCE = 2;
  const STATUSES = ['pending', 'processing', 'completed', 'failed'];

  const $ = (id) => document.getElementById(id);

  /* ---- small helpers ------------------------------------------------------------------- */

  /* Creates an element: el('td', {className: 'num'}, 'text', child, ...). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k in node && typeof v !== 'string') node[k] = v;
      else if (k === 'className' || k === 'textContent' || k === 'title' || k === 'href') node[k] = v;
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    for (const c of children) node.append(c instanceof Node ? c : String(c));
    return node;
  }

  function setMsg(node, text, kind) {
    node.textContent = text || '';
    node.classList.remove('ok', 'warn', 'err');
    if (kind) node.classList.add(kind);
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return '–';
    if (n < 1024) return n + ' B';
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return v.toFixed(v < 10 ? 1 : 0) + ' ' + units[i];
  }

  function fmtMs(ms) {
    if (ms === null || ms === undefined || ms < 0) return '–';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
    const s = Math.round(ms / 1000);
    if (s < 3600) return Math.floor(s / 60) + ' min ' + String(s % 60).padStart(2, '0') + ' s';
    return Math.floor(s / 3600) + ' h ' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + ' min';
  }

  function pad(n) { return String(n).padStart(2, '0'); }

  /* A local date and time, "2026-11-30 08:39:11". */
  function fmtTime(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
      pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }

  /* "in 1 min 05 s", "12 s ago". */
  function fmtRelative(iso, now) {
    if (!iso) return '–';
    const diff = new Date(iso).getTime() - now;
    const abs = Math.abs(diff);
    let text;
    if (abs < 1000) return diff >= 0 ? 'now' : 'just now';
    if (abs < 60000) text = Math.floor(abs / 1000) + ' s';
    else if (abs < 3600000) text = Math.floor(abs / 60000) + ' min ' + pad(Math.floor((abs % 60000) / 1000)) + ' s';
    else if (abs < 86400000) text = Math.floor(abs / 3600000) + ' h ' + pad(Math.floor((abs % 3600000) / 60000)) + ' min';
    else text = Math.floor(abs / 86400000) + ' d ' + Math.floor((abs % 86400000) / 3600000) + ' h';
    return diff >= 0 ? 'in ' + text : text + ' ago';
  }

  /* A <time> that keeps itself relative: the clock tick rewrites every [data-rel]. */
  function timeEl(iso, countdown) {
    if (!iso) return document.createTextNode('–');
    const t = el('time', { dateTime: iso, title: fmtTime(iso) + ' (' + iso + ')' });
    t.dataset.rel = countdown ? 'countdown' : 'ago';
    t.textContent = fmtRelative(iso, Date.now());
    return t;
  }

  function tickClocks() {
    const now = Date.now();
    for (const t of document.querySelectorAll('time[data-rel]')) {
      const text = fmtRelative(t.dateTime, now);
      if (t.dataset.rel === 'countdown' && new Date(t.dateTime).getTime() <= now) t.textContent = 'due now';
      else if (t.textContent !== text) t.textContent = text;
    }
  }

  /* ---- API token ------------------------------------------------------------------------- */

  const auth = { asking: false };

  function apiToken() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  function setApiToken(value) {
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage disabled: the token is asked again next time */ }
  }

  /* The API answered 401 unauthorized: ask for the token once (however many requests failed),
   * then load everything again with it. A rejected stored token is forgotten first. */
  function needToken(sent) {
    if (sent && sent === apiToken()) setApiToken(null);
    if (auth.asking || apiToken()) return;
    auth.asking = true;
    setTimeout(() => {
      const value = window.prompt(sent ? 'That API token was not accepted; enter the server\'s SLUICE_API_TOKEN.'
        : 'This server needs its API token (SLUICE_API_TOKEN). It is kept only in this browser tab.');
      auth.asking = false;
      if (!value) return;
      setApiToken(value);
      refreshJobs(true);
      loadStats();
      if (live.source) live.source.close();
      connect();
    }, 0);
  }

  /* fetch that never throws: {ok, status, body, headers, message}. */
  async function call(method, path, opts) {
    opts = opts || {};
    const headers = Object.assign({}, opts.headers || {});
    const token = path.startsWith(CRON) ? null : apiToken();
    if (token && !headers.Authorization) headers.Authorization = 'Bearer ' + token;
    let res;
    try {
      res = await fetch(path, { method, headers, body: opts.body, cache: 'no-store' });
    } catch (e) {
      return { ok: false, status: 0, body: null, message: 'The server cannot be reached (' + e.message + ').' };
    }
    let body = null;
    const type = res.headers.get('Content-Type') || '';
    if (type.startsWith('application/json')) {
      try { body = await res.json(); } catch (e) { body = null; }
    }
    const message = body && body.error && body.error.message ? body.error.message
      : (res.ok ? '' : 'HTTP ' + res.status);
    if (res.status === 401 && !path.startsWith(CRON) && body && body.error && body.error.code === 'unauthorized') needToken(token);
    return { ok: res.ok, status: res.status, body, headers: res.headers, message };
  }

  function badge(status) {
    return el('span', { className: 'badge b-' + status }, status);
  }

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => { timer = null; fn(); }, ms);
    };
  }

  /* ---- live queue ------------------------------------------------------------------------ */

  const live = { source: null, everConnected: false, retryTimer: null };

  function setLive(state, text) {
    $('live').dataset.state = state;
    $('live-text').textContent = text;
  }

  function renderQueue(q) {
    for (const s of STATUSES) {
      const node = $('q-' + s);
      const text = String(q[s]);
      if (node.textContent !== text && node.textContent !== '–') {
        const card = node.parentElement;
        card.classList.remove('flash');
        void card.offsetWidth; /* restart the animation */
        card.classList.add('flash');
      }
      node.textContent = text;
    }
    $('q-processing-card').classList.toggle('busy', !!q.isProcessing);
    $('q-summary').textContent = STATUSES.map((s) => q[s] + ' ' + s).join(', ') +
      (q.isProcessing ? '; a batch is running' : '');
    $('q-total').textContent = String(q.total);
    $('q-next').replaceChildren(q.nextRunAt ? timeEl(q.nextRunAt, true)
      : el('span', { className: 'hint', title: 'This server runs no cron (started with --no-cron, or no entry for the batch route).' }, 'not scheduled'));
    $('q-last').replaceChildren(q.lastRunAt ? timeEl(q.lastRunAt, false) : 'never');
    $('q-oldest').replaceChildren(q.oldestPendingAt ? timeEl(q.oldestPendingAt, false) : '–');
    const next = q.nextJob;
    $('q-nextjob').replaceChildren(next ? jobLink(next.id, next.fileName) : '–');
    if (next) $('q-nextjob').append(el('span', { className: 'sub' }, next.type + ' · created ' + fmtTime(next.createdAt)));
    const running = q.processingJobs || [];
    $('q-running').hidden = running.length === 0;
    $('q-running-list').replaceChildren(...running.map((j) =>
      el('li', {}, jobLink(j.id, j.fileName), ' (' + j.type + ', started ', timeEl(j.startedAt, false), ')')));
  }

  const refreshAfterChange = debounce(() => {
    refreshJobs();
    refreshOpenJob();
  }, 200);
  const refreshStatsSoon = debounce(() => loadStats(), 400);

  function connect() {
    if (live.retryTimer) { clearTimeout(live.retryTimer); live.retryTimer = null; }
    const token = apiToken();
    const es = new EventSource('/api/integration/events' + (token ? '?token=' + encodeURIComponent(token) : ''));
    live.source = es;
    es.addEventListener('queue', (e) => {
      let q;
      try { q = JSON.parse(e.data); } catch (err) { return; }
      setLive('live', 'Live');
      renderQueue(q);
      refreshAfterChange();
      refreshStatsSoon();
    });
    es.addEventListener('open', () => {
      live.everConnected = true;
      setLive('live', 'Live');
    });
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        /* The browser gave up (e.g. an error status): open a new one ourselves. */
        es.close();
        setLive('offline', 'Offline: retrying…');
        live.retryTimer = setTimeout(connect, 3000);
      } else {
        setLive('reconnecting', live.everConnected ? 'Reconnecting…' : 'Connecting…');
      }
    });
  }

  /* ---- Process now ----------------------------------------------------------------------- */

  function secret() {
    try { return sessionStorage.getItem(SECRET_KEY); } catch (e) { return null; }
  }

  function setSecret(value) {
    try {
      if (value) sessionStorage.setItem(SECRET_KEY, value);
      else sessionStorage.removeItem(SECRET_KEY);
    } catch (e) { /* storage disabled: the secret is asked again next time */ }
  }

  function summaryText(b) {
    const parts = [b.succeeded + ' succeeded', b.failed + ' failed', b.retried + ' retried'];
    return 'Processed ' + b.processed + ' job' + (b.processed === 1 ? '' : 's') + ': ' +
      parts.join(', ') + '; ' + b.remaining + ' due left (' + fmtMs(b.durationMs) + ').';
  }

  async function processNow() {
    const button = $('process-now');
    const out = $('process-result');
    const headers = {};
    const s = secret();
    if (s) headers.Authorization = 'Bearer ' + s;
    button.disabled = true;
    setMsg(out, 'Running a batch…');
    const r = await call('POST', CRON, { headers });
    button.disabled = false;
    if (r.ok) {
      $('secret-form').hidden = true;
      setMsg(out, summaryText(r.body), r.body.failed > 0 || r.body.retried > 0 ? 'warn' : 'ok');
      return;
    }
    if (r.status === 401 && !s && /loopback/.test(r.message)) {
      /* No secret is set on the server: only a browser on its own machine may run a batch. */
      setMsg(out, 'The batch did not run: ' + r.message, 'err');
      return;
    }
    if (r.status === 401) {
      if (s) setSecret(null);
      askSecret(s ? 'That secret was not accepted; enter the server\'s CRON_SECRET.'
        : 'This server needs its cron secret (CRON_SECRET) to run a batch.');
      setMsg(out, '');
      return;
    }
    if (r.status === 409) setMsg(out, 'A batch is already running; its results will show here as they come.', 'warn');
    else setMsg(out, 'The batch did not run: ' + r.message, 'err');
  }

  function askSecret(why) {
    setMsg($('secret-why'), why, 'warn');
    $('secret-form').hidden = false;
    $('secret').value = '';
    $('secret').focus();
  }

  function wireProcess() {
    $('process-now').addEventListener('click', processNow);
    $('secret-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const value = $('secret').value;
      if (!value) return;
      setSecret(value);
      $('secret').value = '';
      $('secret-form').hidden = true;
      processNow();
    });
    $('secret-cancel').addEventListener('click', () => {
      $('secret-form').hidden = true;
      $('process-now').focus();
    });
  }

  /* ---- upload ---------------------------------------------------------------------------- */

  const uploads = { queue: [], active: 0 };

  function rejectionText(xhr) {
    let message = '';
    try {
      const body = JSON.parse(xhr.responseText);
      message = body && body.error && body.error.message ? body.error.message : '';
    } catch (e) { /* not JSON */ }
    switch (xhr.status) {
      case 413: return 'Too large: ' + (message || 'the file is over the server\'s size limit.');
      case 415: return 'Not accepted: ' + (message || 'the server does not accept this upload.');
      case 429: {
        const after = xhr.getResponseHeader('Retry-After');
        return 'Rate limited: ' + (message || 'too many uploads.') +
          (after ? ' Try again in ' + after + ' s.' : ' Try again shortly.');
      }
      case 401: return 'Not authorised: ' + (message || 'the server needs its API token.');
      case 400: return 'Rejected: ' + (message || 'the server could not read the upload.');
      case 507: return 'No space: ' + (message || 'the server has no room for this file.');
      case 0: return 'Upload cut off: the server closed the connection (the file may be over its size limit) or cannot be reached.';
      default: return 'Failed (HTTP ' + xhr.status + '): ' + (message || xhr.statusText || 'unknown error');
    }
  }

  function uploadRow(file) {
    const progress = el('progress', { max: 1, value: 0 });
    const state = el('p', { className: 'state' }, 'Waiting…');
    const li = el('li', { className: 'upload' },
      el('span', { className: 'name' }, file.name), el('span', { className: 'size' }, fmtBytes(file.size)),
      progress, state);
    progress.setAttribute('aria-label', 'Upload progress of ' + file.name);
    $('up-list').prepend(li);
    return { file, li, progress, state };
  }

  function fieldsValid() {
    const type = $('up-type').value.trim();
    const tenant = $('up-tenant').value.trim();
    let problem = '';
    $('up-type').removeAttribute('aria-invalid');
    $('up-tenant').removeAttribute('aria-invalid');
    if (type && (type.length > 64 || !NAME_RE.test(type))) {
      problem = 'Type: 1 to 64 characters of A-Z a-z 0-9 _ . -';
      $('up-type').setAttribute('aria-invalid', 'true');
    } else if (tenant && (tenant.length > 128 || !NAME_RE.test(tenant))) {
      problem = 'Tenant: 1 to 128 characters of A-Z a-z 0-9 _ . -';
      $('up-tenant').setAttribute('aria-invalid', 'true');
    }
    setMsg($('up-msg'), problem, problem ? 'err' : null);
    return problem ? null : { type, tenant };
  }

  function addFiles(fileList) {
    const files = Array.from(fileList || []);
    if (files.length === 0) return;
    const fields = fieldsValid();
    if (!fields) return;
    for (const file of files) {
      const item = uploadRow(file);
      item.fields = fields;
      uploads.queue.push(item);
    }
    setMsg($('up-msg'), files.length + ' file' + (files.length === 1 ? '' : 's') + ' queued for upload.');
    pumpUploads();
  }

  function pumpUploads() {
    while (uploads.active < UPLOADS_AT_ONCE && uploads.queue.length > 0) {
      uploads.active++;
      send(uploads.queue.shift()).finally(() => {
        uploads.active--;
        pumpUploads();
      });
    }
  }

  /* One file per request, so each has its own progress and its own answer. */
  function send(item) {
    return new Promise((resolve) => {
      const form = new FormData();
      if (item.fields.type) form.append('type', item.fields.type);
      if (item.fields.tenant) form.append('tenant', item.fields.tenant);
      form.append('files', item.file, item.file.name);
      const xhr = new XMLHttpRequest();
      item.li.classList.remove('rejected', 'done');
      item.li.querySelector('button.retry-upload')?.remove();
      item.state.textContent = 'Uploading…';
      xhr.upload.addEventListener('progress', (e) => {
        if (!e.lengthComputable) return;
        item.progress.value = e.loaded / e.total;
        const sent = Math.min(e.loaded, item.file.size);
        item.state.textContent = 'Uploading… ' + fmtBytes(sent) + ' of ' + fmtBytes(item.file.size) +
          ' (' + Math.floor((100 * e.loaded) / e.total) + '%)';
      });
      const token = apiToken();
      xhr.addEventListener('load', () => {
        if (xhr.status === 401) needToken(token);
        if (xhr.status === 202) accepted(item, xhr);
        else rejected(item, rejectionText(xhr));
        resolve();
      });
      xhr.addEventListener('error', () => { rejected(item, rejectionText({ status: 0 })); resolve(); });
      xhr.addEventListener('abort', () => { rejected(item, 'Upload cancelled.'); resolve(); });
      xhr.open('POST', API + '/upload');
      if (token) xhr.setRequestHeader('Authorization', 'Bearer ' + token);
      xhr.send(form);
    });
  }

  function accepted(item, xhr) {
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* fall through */ }
    item.progress.value = 1;
    item.li.classList.add('done');
    const job = body && body.jobs && body.jobs[0];
    if (!job) {
      item.state.textContent = 'Accepted.';
      return;
    }
    item.li.dataset.jobId = job.id;
    item.state.replaceChildren('Queued as job ', jobLink(job.id, job.id), ' (' + job.type + ').');
  }

  function rejected(item, text) {
    item.li.classList.add('rejected');
    item.progress.value = 0;
    item.state.textContent = text;
    const again = el('button', { type: 'button', className: 'retry-upload' }, 'Try again');
    again.addEventListener('click', () => {
      item.fields = fieldsValid() || item.fields;
      uploads.queue.push(item);
      pumpUploads();
    });
    item.li.append(again);
  }

  function wireUpload() {
    const input = $('up-files');
    input.addEventListener('change', () => {
      addFiles(input.files);
      input.value = '';
    });
    const drop = $('drop');
    for (const name of ['dragenter', 'dragover']) {
      drop.addEventListener(name, (e) => {
        e.preventDefault();
        drop.classList.add('over');
      });
    }
    for (const name of ['dragleave', 'drop']) {
      drop.addEventListener(name, () => drop.classList.remove('over'));
    }
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      addFiles(e.dataTransfer && e.dataTransfer.files);
    });
    /* A file dropped outside the zone must not navigate away from the page. */
    window.addEventListener('dragover', (e) => e.preventDefault());
    window.addEventListener('drop', (e) => e.preventDefault());
    $('upload-form').addEventListener('submit', (e) => e.preventDefault());
  }

  /* ---- jobs ------------------------------------------------------------------------------ */

  const jobs = { rows: [], cursor: null, filter: {}, seq: 0 };

  function jobLink(id, text) {
    const b = el('button', { type: 'button', className: 'link job-link' }, text || id);
    b.dataset.jobId = id;
    return b;
  }

  function jobQuery(limit, cursor) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(jobs.filter)) if (v) p.set(k, v);
    p.set('limit', String(limit));
    if (cursor) p.set('cursor', cursor);
    return API + '/jobs?' + p.toString();
  }

  function jobRow(j) {
    const status = el('td', {}, badge(j.status));
    if (j.status === 'pending' && j.nextAttemptAt) status.append(el('span', { className: 'sub' }, 'retry ', timeEl(j.nextAttemptAt, true)));
    if (j.status === 'failed' && j.error) status.append(el('span', { className: 'sub' }, j.error));
    const tr = el('tr', {},
      el('td', {}, jobLink(j.id, j.fileName), el('span', { className: 'sub' }, fmtBytes(j.size))),
      status,
      el('td', {}, j.type),
      el('td', { className: 'opt' }, j.tenant),
      el('td', { className: 'opt num' }, j.attempts + '/' + j.maxAttempts),
      el('td', {}, timeEl(j.createdAt, false)),
      el('td', { className: 'opt num' }, fmtMs(j.processingMs)));
    tr.dataset.jobId = j.id;
    tr.dataset.status = j.status;
    return tr;
  }

  function renderJobs() {
    $('jobs-body').replaceChildren(...jobs.rows.map(jobRow));
    $('jobs-empty').hidden = jobs.rows.length > 0;
    $('jobs-more').hidden = !jobs.cursor;
  }

  /* Loads the first page (or as many rows as are shown, after a change), replacing the list. */
  async function refreshJobs(reset) {
    const seq = ++jobs.seq;
    const limit = reset ? 50 : Math.min(200, Math.max(50, jobs.rows.length));
    const r = await call('GET', jobQuery(limit, null));
    if (seq !== jobs.seq) return; /* a newer load overtook this one */
    if (!r.ok) {
      setMsg($('jobs-msg'), 'Cannot load jobs: ' + r.message, 'err');
      return;
    }
    setMsg($('jobs-msg'), '');
    jobs.rows = r.body.jobs;
    jobs.cursor = r.body.nextCursor;
    renderJobs();
  }

  async function loadMoreJobs() {
    const seq = ++jobs.seq;
    const r = await call('GET', jobQuery(50, jobs.cursor));
    if (seq !== jobs.seq) return;
    if (!r.ok) {
      setMsg($('jobs-msg'), 'Cannot load more jobs: ' + r.message, 'err');
      return;
    }
    jobs.rows = jobs.rows.concat(r.body.jobs);
    jobs.cursor = r.body.nextCursor;
    renderJobs();
  }

  function wireJobs() {
    const form = $('job-filters');
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const type = $('f-type').value.trim();
      const tenant = $('f-tenant').value.trim();
      for (const [v, what] of [[type, 'Type'], [tenant, 'Tenant']]) {
        if (v && !NAME_RE.test(v)) {
          setMsg($('jobs-msg'), what + ' may hold only A-Z a-z 0-9 _ . -', 'err');
          return;
        }
      }
      jobs.filter = { status: $('f-status').value, type, tenant };
      refreshJobs(true);
    });
    form.addEventListener('reset', () => {
      jobs.filter = {};
      setTimeout(() => refreshJobs(true), 0);
    });
    $('jobs-more').addEventListener('click', loadMoreJobs);
    /* Any job link anywhere opens the detail view. */
    document.addEventListener('click', (e) => {
      const link = e.target.closest && e.target.closest('button.job-link');
      if (link) openJob(link.dataset.jobId, link);
    });
  }

  /* ---- job detail ------------------------------------------------------------------------ */

  const detail = { id: null, job: null, errorsCursor: null, opener: null, seq: 0 };

  function field(name, value) {
    return [el('dt', {}, name), el('dd', {}, value)];
  }

  function renderJob(j) {
    detail.job = j;
    $('jd-title').textContent = j.fileName;
    const dl = $('jd-fields');
    dl.replaceChildren();
    const add = (name, value) => {
      const div = el('div', {}, ...field(name, value));
      dl.append(div);
    };
    add('Status', badge(j.status));
    add('Id', j.id);
    add('Type', j.type);
    add('Tenant', j.tenant);
    add('Size', fmtBytes(j.size) + ' · ' + j.contentType);
    add('Attempts', j.attempts + ' of ' + j.maxAttempts);
    add('Created', fmtTime(j.createdAt));
    add('Started', fmtTime(j.startedAt));
    add('Completed', fmtTime(j.completedAt));
    if (j.nextAttemptAt) add('Next attempt', timeEl(j.nextAttemptAt, true));
    add('Processing time', fmtMs(j.processingMs));
    add('Upload', j.uploadId);
    add('SHA-256', j.sha256);
    if (j.error) add('Last error', j.error);
    $('jd-result').textContent = j.result === null || j.result === undefined ? '(none yet)' : JSON.stringify(j.result, null, 2);
    $('jd-download').href = API + '/jobs/' + encodeURIComponent(j.id) + '/file';
    $('jd-download').setAttribute('download', j.fileName);
    $('jd-retry').disabled = j.status !== 'failed';
    $('jd-cancel').disabled = j.status !== 'pending';
    $('jd-retry').title = j.status === 'failed' ? '' : 'Only a failed job can be retried.';
    $('jd-cancel').title = j.status === 'pending' ? '' : 'Only a pending job can be cancelled.';
  }

  function errorRow(e) {
    const value = e.value === null || e.value === undefined ? '' : typeof e.value === 'string' ? e.value : JSON.stringify(e.value);
    return el('tr', {}, el('td', { className: 'num' }, String(e.row)), el('td', {}, e.field || ''),
      el('td', {}, value), el('td', {}, e.message));
  }

  async function loadErrors(more) {
    const id = detail.id;
    const p = new URLSearchParams({ limit: '100' });
    if (more && detail.errorsCursor) p.set('cursor', detail.errorsCursor);
    const r = await call('GET', API + '/jobs/' + encodeURIComponent(id) + '/errors?' + p.toString());
    if (id !== detail.id) return;
    if (!r.ok) {
      setMsg($('jd-msg'), 'Cannot load the row errors: ' + r.message, 'err');
      return;
    }
    const body = $('jd-errors-body');
    if (!more) body.replaceChildren();
    body.append(...r.body.errors.map(errorRow));
    detail.errorsCursor = r.body.nextCursor;
    $('jd-errors').hidden = body.children.length === 0;
    $('jd-errors-none').hidden = body.children.length > 0;
    $('jd-errors-more').hidden = !detail.errorsCursor;
  }

  async function openJob(id, opener) {
    detail.id = id;
    detail.opener = opener || document.activeElement;
    detail.errorsCursor = null;
    setMsg($('jd-msg'), 'Loading…');
    $('jd-errors-body').replaceChildren();
    const r = await call('GET', API + '/jobs/' + encodeURIComponent(id));
    if (id !== detail.id) return;
    const dialog = $('job-dialog');
    if (!dialog.open) dialog.showModal();
    if (!r.ok) {
      $('jd-title').textContent = 'Job ' + id;
      $('jd-fields').replaceChildren();
      $('jd-result').textContent = '';
      setMsg($('jd-msg'), r.status === 404 ? 'This job no longer exists (it was cancelled).' : 'Cannot load the job: ' + r.message, 'err');
      $('jd-retry').disabled = true;
      $('jd-cancel').disabled = true;
      return;
    }
    setMsg($('jd-msg'), '');
    renderJob(r.body);
    loadErrors(false);
  }

  /* After a queue change: the open job may have moved on. */
  async function refreshOpenJob() {
    const dialog = $('job-dialog');
    if (!dialog.open || !detail.id || !detail.job) return;
    const id = detail.id;
    const before = detail.job.status;
    const r = await call('GET', API + '/jobs/' + encodeURIComponent(id));
    if (id !== detail.id || !r.ok) return;
    renderJob(r.body);
    if (r.body.status !== before) loadErrors(false);
  }

  async function retryJob() {
    const id = detail.id;
    const r = await call('POST', API + '/jobs/' + encodeURIComponent(id) + '/retry');
    if (r.ok) {
      renderJob(r.body);
      setMsg($('jd-msg'), 'The job is pending again and will run in the next batch.', 'ok');
    } else {
      setMsg($('jd-msg'), 'Cannot retry: ' + r.message, 'err');
    }
  }

  async function cancelJob() {
    const id = detail.id;
    if (!window.confirm('Cancel this job? Its record and its file are removed.')) return;
    const r = await call('DELETE', API + '/jobs/' + encodeURIComponent(id));
    if (r.ok || r.status === 204) {
      setMsg($('jd-msg'), 'Cancelled: the job and its file are removed.', 'ok');
      $('jd-retry').disabled = true;
      $('jd-cancel').disabled = true;
      $('jd-download').removeAttribute('href');
      detail.job = null;
      refreshJobs();
    } else {
      setMsg($('jd-msg'), 'Cannot cancel: ' + r.message, 'err');
    }
  }

  /* The Download link: a plain link when the tab has no API token (the browser streams the file
   * to disk). With one, the file route needs it as a Bearer header, which a link cannot send: the
   * file is fetched with it and saved from a blob: URL under its own name, so the token never goes
   * into a URL. The whole file then passes through the tab's memory. */
  async function downloadFile(e) {
    const token = apiToken();
    const job = detail.job;
    const link = $('jd-download');
    if (!token || !job) return; /* the link does it */
    e.preventDefault();
    if (link.getAttribute('aria-busy') === 'true') return;
    link.setAttribute('aria-busy', 'true');
    setMsg($('jd-msg'), 'Downloading ' + job.fileName + '…');
    try {
      const res = await fetch(link.getAttribute('href'), {
        headers: { Authorization: 'Bearer ' + token }, cache: 'no-store',
      });
      if (!res.ok) {
        let body = null;
        try { body = await res.json(); } catch (err) { body = null; }
        if (res.status === 401) needToken(token);
        const why = body && body.error && body.error.message ? body.error.message : 'HTTP ' + res.status;
        setMsg($('jd-msg'), 'Cannot download the file: ' + why, 'err');
        return;
      }
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const save = el('a', { href: url, download: job.fileName, hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000); /* long after the download has begun */
      setMsg($('jd-msg'), 'Downloaded ' + job.fileName + ' (' + fmtBytes(blob.size) + ').', 'ok');
    } catch (err) {
      setMsg($('jd-msg'), 'Cannot download the file: the server cannot be reached (' + err.message + ').', 'err');
    } finally {
      link.removeAttribute('aria-busy');
    }
  }

  function wireDetail() {
    const dialog = $('job-dialog');
    $('jd-close').addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      detail.id = null;
      detail.job = null;
      if (detail.opener && document.contains(detail.opener)) detail.opener.focus();
    });
    /* A click on the backdrop (outside the box) closes it too. */
    dialog.addEventListener('click', (e) => {
      if (e.target !== dialog) return;
      const r = dialog.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) dialog.close();
    });
    $('jd-download').addEventListener('click', downloadFile);
    $('jd-retry').addEventListener('click', retryJob);
    $('jd-cancel').addEventListener('click', cancelJob);
    $('jd-errors-more').addEventListener('click', () => loadErrors(true));
  }

  /* ---- statistics ------------------------------------------------------------------------ */

  const stats = { seq: 0, daily: null }; /* daily: the last figures, redrawn on a resize */

  function pct(v) {
    return v === null || v === undefined ? '–' : (100 * v).toFixed(v === 1 ? 0 : 1) + ' %';
  }

  function renderStatusBar(byStatus, total) {
    const bar = $('s-status-bar');
    bar.replaceChildren();
    let x = 0;
    for (const s of STATUSES) {
      const w = total > 0 ? (100 * byStatus[s]) / total : 0;
      if (w > 0) bar.append(svg('rect', { x, y: 0, width: w, height: 6, class: 'f-' + s }, svg('title', {}, byStatus[s] + ' ' + s)));
      x += w;
    }
    $('s-status').replaceChildren(...STATUSES.map((s) => el('li', { className: 'l-' + s },
      s + ': ' + byStatus[s] + (total > 0 ? ' (' + Math.round((100 * byStatus[s]) / total) + ' %)' : ''))));
  }

  function renderTypes(byType) {
    const names = Object.keys(byType).sort();
    const list = $('type-list');
    const known = new Set(Array.from(list.options).map((o) => o.value));
    for (const n of names) if (!known.has(n)) list.append(el('option', { value: n }));
    $('s-types-body').replaceChildren(...(names.length ? names.map((n) => {
      const t = byType[n];
      return el('tr', {}, el('th', { scope: 'row' }, n), el('td', { className: 'num' }, t.total),
        el('td', { className: 'num' }, t.pending), el('td', { className: 'num' }, t.processing),
        el('td', { className: 'num' }, t.completed), el('td', { className: 'num' }, t.failed));
    }) : [el('tr', {}, el('td', { colSpan: 6, className: 'empty' }, 'No jobs in this period.'))]));
  }

  /* The daily chart: per day a "created" bar and a "completed + failed" stacked bar. */
  function renderChart(daily) {
    const chart = $('s-chart');
    /* Drawn at the element's own width, so text keeps its size on a phone and on a wide screen. */
    const W = Math.max(280, Math.round(chart.getBoundingClientRect().width) || 640);
    const H = 220, left = 36, right = 8, top = 10, bottom = 26;
    chart.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    chart.replaceChildren();
    const max = Math.max(1, ...daily.map((d) => Math.max(d.created, d.completed + d.failed)));
    const plotW = W - left - right, plotH = H - top - bottom;
    const slot = plotW / Math.max(1, daily.length);
    const barW = Math.max(0.5, (slot * 0.8) / 2);
    const y = (v) => top + plotH - (plotH * v) / max;
    chart.append(svg('line', { x1: left, y1: top + plotH, x2: W - right, y2: top + plotH, class: 'axis' }));
    chart.append(svg('line', { x1: left, y1: top, x2: left, y2: top + plotH, class: 'axis' }));
    chart.append(svg('text', { x: left - 4, y: top + 4, 'text-anchor': 'end', class: 'tick' }, String(max)));
    chart.append(svg('text', { x: left - 4, y: top + plotH, 'text-anchor': 'end', class: 'tick' }, '0'));
    daily.forEach((d, i) => {
      const x0 = left + i * slot + slot * 0.1;
      const g = svg('g', {}, svg('title', {}, d.date + ': ' + d.created + ' created, ' + d.completed + ' completed, ' + d.failed + ' failed'));
      g.append(svg('rect', { x: x0, y: y(d.created), width: barW, height: top + plotH - y(d.created), class: 'f-created' }));
      g.append(svg('rect', { x: x0 + barW, y: y(d.completed), width: barW, height: top + plotH - y(d.completed), class: 'f-completed' }));
      g.append(svg('rect', { x: x0 + barW, y: y(d.completed + d.failed), width: barW, height: y(d.completed) - y(d.completed + d.failed), class: 'f-failed' }));
      chart.append(g);
    });
    const labels = daily.length <= 1 ? [0] : [0, Math.floor((daily.length - 1) / 2), daily.length - 1];
    for (const i of new Set(labels)) {
      if (!daily[i]) continue;
      const x = left + i * slot + slot / 2;
      const anchor = daily.length > 1 && i === daily.length - 1 ? 'end' : daily.length > 1 && i === 0 ? 'start' : 'middle';
      chart.append(svg('text', { x: anchor === 'start' ? left : anchor === 'end' ? W - right : x, y: H - 8, 'text-anchor': anchor, class: 'tick' }, daily[i].date));
    }
    const sum = (k) => daily.reduce((a, d) => a + d[k], 0);
    $('s-chart-desc').textContent = 'Bar chart over ' + daily.length + ' days: ' + sum('created') + ' created, ' +
      sum('completed') + ' completed, ' + sum('failed') + ' failed.';
    $('s-daily-body').replaceChildren(...daily.slice().reverse().map((d) => el('tr', {},
      el('td', {}, d.date), el('td', { className: 'num' }, d.created), el('td', { className: 'num' }, d.completed),
      el('td', { className: 'num' }, d.failed))));
  }

  async function loadStats() {
    const seq = ++stats.seq;
    const days = $('s-days').value;
    const r = await call('GET', API + '/stats?days=' + encodeURIComponent(days));
    if (seq !== stats.seq) return;
    if (!r.ok) {
      setMsg($('stats-msg'), 'Cannot load statistics: ' + r.message, 'err');
      return;
    }
    setMsg($('stats-msg'), '');
    const s = r.body;
    $('s-total').textContent = String(s.total);
    $('s-rate').textContent = pct(s.successRate);
    $('s-avg').textContent = fmtMs(s.averageProcessingTimeMs);
    $('s-p50').textContent = fmtMs(s.p50ProcessingTimeMs);
    $('s-p95').textContent = fmtMs(s.p95ProcessingTimeMs);
    $('s-wait').textContent = fmtMs(s.averageWaitTimeMs);
    renderStatusBar(s.byStatus, s.total);
    renderTypes(s.byType);
    stats.daily = s.daily;
    renderChart(s.daily);
  }

  /* ---- start ----------------------------------------------------------------------------- */

  function start() {
    wireProcess();
    wireUpload();
    wireJobs();
    wireDetail();
    $('s-days').addEventListener('change', loadStats);
    window.addEventListener('resize', debounce(() => { if (stats.daily) renderChart(stats.daily); }, 200));
    setInterval(tickClocks, 1000);
    refreshJobs(true);
    loadStats();
    connect();
  }

  start();
})();
