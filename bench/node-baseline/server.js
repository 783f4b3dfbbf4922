'use strict';
/*
 * The baseline of bench/upload.sh: what the seed's hosted stack does in its upload route
 * (POST /api/integration/upload), on one Node.js process. Each file part of a multipart body is
 * streamed to a folder (fs.createWriteStream, never fsynced), then one pending job row per file is
 * inserted into a better-sqlite3 database (WAL, the library's default synchronous, which in WAL
 * mode is NORMAL: commits are not fsynced either), and the route answers 202 with the job ids.
 * So it acknowledges before anything is durable; sluice acknowledges only after the blobs and the
 * job rows are (the comparison the benchmark's goal is about).
 *
 * Env: PORT (default 3100), DATA_DIR (default ./data). GET /healthz answers 200 once ready.
 */
const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const busboy = require('busboy');
const Database = require('better-sqlite3');

const port = Number(process.env.PORT || 3100);
const dataDir = path.resolve(process.env.DATA_DIR || './data');
const blobDir = path.join(dataDir, 'blobs');
fs.mkdirSync(blobDir, { recursive: true });

const db = new Database(path.join(dataDir, 'jobs.db'));
db.pragma('journal_mode = WAL');
db.exec(`CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, upload_id TEXT NOT NULL, tenant TEXT NOT NULL, type TEXT NOT NULL,
  status TEXT NOT NULL, file_name TEXT NOT NULL, content_type TEXT NOT NULL,
  blob_key TEXT NOT NULL, size INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER,
  completed_at INTEGER, error TEXT, result TEXT);
  CREATE INDEX IF NOT EXISTS jobs_status_created ON jobs(status, created_at);`);
const insertJob = db.prepare(`INSERT INTO jobs (id, upload_id, tenant, type, status, file_name,
  content_type, blob_key, size, max_attempts, created_at)
  VALUES (@id, @uploadId, @tenant, @type, 'pending', @fileName, @contentType, @blobKey, @size,
  3, @createdAt)`);
const insertJobs = db.transaction((jobs) => { for (const j of jobs) insertJob.run(j); });

function typeFor(name) {
  const ext = path.extname(name).toLowerCase();
  if (ext === '.csv' || ext === '.tsv') return 'csv';
  if (ext === '.xlsx' || ext === '.xls') return 'sheet';
  if (ext === '.json') return 'json';
  if (ext === '.ndjson' || ext === '.jsonl') return 'ndjson';
  return 'file';
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function fail(res, status, code, message) {
  if (!res.headersSent) reply(res, status, { error: { code, message } });
}

function upload(req, res) {
  let bb;
  try {
    bb = busboy({ headers: req.headers });
  } catch (e) {
    return fail(res, 415, 'unsupported_media_type', e.message);
  }
  const uploadId = crypto.randomUUID();
  const dir = path.join(blobDir, uploadId);
  const fields = { type: '', tenant: 'default' };
  const files = [];
  let made = false;
  bb.on('field', (name, value) => { if (name in fields) fields[name] = value; });
  bb.on('file', (name, stream, info) => {
    if (!made) { fs.mkdirSync(dir, { recursive: true }); made = true; }
    const f = { id: crypto.randomUUID(), fileName: path.basename(info.filename || 'file'),
                contentType: info.mimeType || 'application/octet-stream', size: 0 };
    const out = fs.createWriteStream(path.join(dir, f.id));
    f.done = new Promise((resolve, reject) => { out.on('finish', resolve); out.on('error', reject); });
    stream.on('data', (chunk) => { f.size += chunk.length; });
    stream.pipe(out);
    files.push(f);
  });
  bb.on('error', (e) => fail(res, 400, 'invalid_request', e.message));
  bb.on('close', async () => {
    if (files.length === 0) return fail(res, 400, 'no_file', 'the upload holds no file part');
    try {
      await Promise.all(files.map((f) => f.done));
      const createdAt = Date.now();
      const jobs = files.map((f) => ({
        id: f.id, uploadId, tenant: fields.tenant, type: fields.type || typeFor(f.fileName),
        fileName: f.fileName, contentType: f.contentType, blobKey: `${uploadId}/${f.id}`,
        size: f.size, createdAt }));
      insertJobs(jobs);
      reply(res, 202, { uploadId, jobIds: jobs.map((j) => j.id), jobs: jobs.map((j) => ({
        id: j.id, uploadId, tenant: j.tenant, type: j.type, status: 'pending', fileName: j.fileName,
        contentType: j.contentType, size: j.size, attempts: 0, maxAttempts: 3,
        createdAt: new Date(j.createdAt).toISOString(), startedAt: null, completedAt: null,
        nextAttemptAt: null, processingMs: null, error: null, result: null })) });
    } catch (e) {
      fail(res, 500, 'internal_error', e.message);
    }
  });
  req.pipe(bb);
}

http.createServer((req, res) => {
  const url = req.url.split('?')[0];
  if (req.method === 'POST' && url === '/api/integration/upload') return upload(req, res);
  if (req.method === 'GET' && url === '/healthz') return reply(res, 200, { status: 'ok' });
  fail(res, 404, 'not_found', 'no such route');
}).listen(port, '127.0.0.1');
