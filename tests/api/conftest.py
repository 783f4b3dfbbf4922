"""Black-box API tests for sluice: fixtures and helpers.

Every test gets its own temporary working directory and its own `sluice serve` process on a free
port of 127.0.0.1, with `SLUICE_DATA_DIR=<tmp>/data`. The binary comes from `SLUICE_BIN`
(default `<repo>/build/sluice`). Only the standard library, pytest and requests are used.

With `SLUICE_TEST_DATABASE_URL=postgres://...` set, every server directory gets its own empty
schema in that database (made with psql) and `DATABASE_URL` pointing at it, so the same tests run
on the PostgreSQL store. With `SLUICE_TEST_BLOB_URL=s3://bucket[/prefix]` set (and the `AWS_*`
variables, which pass through to the servers), every server directory gets its own prefix
`s3://bucket[/prefix]/<uuid>` as `SLUICE_BLOB_URL`, and the blob helpers (`blob_files`,
`find_blob`) look at the objects under it through the S3 API instead of `data/blobs`.
`make api-pg` runs the suite that way, on a throwaway PostgreSQL cluster and s3rver.

Helpers live on the `Server` object (so they benefit from pytest's assertion rewriting in this
conftest) and every failing check prints the request, the expected and actual answer, and the
tail of the server's log.
"""

import hashlib
import hmac
import os
import re
import signal
import socket
import subprocess
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SLUICE_BIN") or str(REPO / "build" / "sluice")

# Variables the outer environment must not leak into the server under test.
SCRUB_NAMES = {"CRON_SECRET", "DATABASE_URL", "PORT", "HOST"}
SCRUB_PREFIXES = ("SLUICE_",)

# The PostgreSQL server to run against instead of SQLite (each Server gets a fresh schema).
PG_URL = os.environ.get("SLUICE_TEST_DATABASE_URL") or None
# The S3 bucket (and prefix) to store blobs in instead of a folder (each Server gets a prefix).
BLOB_URL = os.environ.get("SLUICE_TEST_BLOB_URL") or None
# For skip markers: the store is not a SQLite file in the data dir, or blobs are not files there.
ON_PG = PG_URL is not None
ON_S3 = BLOB_URL is not None

READY_TIMEOUT = 10.0  # s, from spawn to the first 200 of /healthz
STOP_TIMEOUT = 10.0  # s, SIGTERM to exit in fixture teardown
HTTP_TIMEOUT = 30.0  # s, any single request

ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
SANITIZER_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)|runtime error:|"
    r"SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)"
)

JOB_FIELDS = {
    "id", "uploadId", "tenant", "type", "status", "fileName", "contentType", "size", "sha256",
    "attempts", "maxAttempts", "createdAt", "startedAt", "completedAt", "nextAttemptAt",
    "processingMs", "error", "result",
}
SUMMARY_FIELDS = {"processed", "succeeded", "failed", "retried", "remaining", "durationMs", "jobs"}
SUMMARY_JOB_FIELDS = {"id", "status", "attempts", "processingMs", "error"}
QUEUE_FIELDS = {
    "pending", "processing", "completed", "failed", "total", "isProcessing", "oldestPendingAt",
    "nextJob", "lastRunAt", "nextRunAt", "processingJobs",
}
STATS_FIELDS = {
    "days", "since", "total", "byStatus", "byType", "successRate", "averageProcessingTimeMs",
    "p50ProcessingTimeMs", "p95ProcessingTimeMs", "averageWaitTimeMs", "daily",
}
STATUSES = ("pending", "processing", "completed", "failed")


# ----------------------------------------------------------------------------- small utilities

def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_iso(s: str) -> datetime:
    assert isinstance(s, str) and ISO_RE.match(s), f"not an ISO 8601 UTC time with ms and Z: {s!r}"
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(extra=None) -> dict:
    """The outer environment without sluice's own variables, plus `extra` (None deletes)."""
    env = {
        k: v for k, v in os.environ.items()
        if k not in SCRUB_NAMES and not k.startswith(SCRUB_PREFIXES)
    }
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def fresh_database_url():
    """A DATABASE_URL to a new, empty schema of PG_URL's database."""
    schema = "sl_api_" + uuid.uuid4().hex[:16]
    cp = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", PG_URL, "-c", f"CREATE SCHEMA {schema}"],
        capture_output=True, text=True, timeout=30,
    )
    assert cp.returncode == 0, f"cannot create schema {schema} on {PG_URL}: {cp.stderr}"
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def fresh_blob_url():
    """A SLUICE_BLOB_URL to a new, empty prefix below BLOB_URL."""
    assert BLOB_URL.startswith("s3://"), f"SLUICE_TEST_BLOB_URL must be s3://...: {BLOB_URL}"
    return f"{BLOB_URL.rstrip('/')}/{uuid.uuid4().hex}"


# ----------------------------------------------------------------------------- S3, for the tests

def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(method, host, cpath, cquery, payload_hash, amz_date, region, key_id, secret,
                  token=None):
    """The headers of a SigV4-signed S3 request (host included), for an already canonical path
    and query string."""
    day = amz_date[:8]
    headers = {"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    canonical = "\n".join([
        method, cpath, cquery, "".join(f"{n}:{headers[n]}\n" for n in names),
        ";".join(names), payload_hash,
    ])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join([
        "AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest(),
    ])
    k = _sign(("AWS4" + secret).encode(), day)
    for part in (region, "s3", "aws4_request"):
        k = _sign(k, part)
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return headers


class S3:
    """A minimal S3 client (path-style, SigV4) for looking at what a server stored: `list` here,
    get, put and head through S3Blob. Configured from the same AWS_* variables as sluice."""

    def __init__(self):
        self.endpoint = os.environ.get("AWS_ENDPOINT_URL_S3", "").rstrip("/")
        self.region = os.environ.get("AWS_REGION") or "us-east-1"
        if not self.endpoint:
            self.endpoint = f"https://s3.{self.region}.amazonaws.com"
        self.key_id = os.environ.get("AWS_ACCESS_KEY_ID", "")
        self.secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
        self.token = os.environ.get("AWS_SESSION_TOKEN")

    def request(self, method, bucket, key="", query=None, data=b""):
        path = "/" + bucket + ("/" + key if key else "")
        cpath = quote(path, safe="/-_.~")
        query = query or {}
        cquery = "&".join(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items())
        )
        headers = sigv4_headers(
            method, urlsplit(self.endpoint).netloc, cpath, cquery, hashlib.sha256(data).hexdigest(),
            datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"), self.region, self.key_id,
            self.secret, self.token,
        )
        del headers["host"]
        url = self.endpoint + cpath + ("?" + cquery if cquery else "")
        return requests.request(method, url, headers=headers, data=data, timeout=HTTP_TIMEOUT)

    def list(self, bucket, prefix):
        """Every key below prefix (ListObjectsV2, all pages)."""
        keys, token = [], None
        while True:
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            r = self.request("GET", bucket, query=q)
            assert r.status_code == 200, f"S3 list {bucket}/{prefix}: {r.status_code} {r.text}"
            root = ElementTree.fromstring(r.content)
            ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
            keys += [e.text for e in root.iter(f"{ns}Key")]
            token = root.findtext(f"{ns}NextContinuationToken")
            if root.findtext(f"{ns}IsTruncated") != "true" or not token:
                return sorted(keys)


class S3Blob:
    """One stored object, with the few Path methods the tests use on blob files."""

    def __init__(self, s3, bucket, key):
        self.s3, self.bucket, self.key = s3, bucket, key

    def __repr__(self):
        return f"s3://{self.bucket}/{self.key}"

    def __eq__(self, other):
        return isinstance(other, S3Blob) and (self.bucket, self.key) == (other.bucket, other.key)

    def __hash__(self):
        return hash((self.bucket, self.key))

    def __lt__(self, other):
        return self.key < other.key

    def read_bytes(self):
        r = self.s3.request("GET", self.bucket, self.key)
        assert r.status_code == 200, f"S3 GET {self}: {r.status_code} {r.text}"
        return r.content

    def write_bytes(self, data):
        r = self.s3.request("PUT", self.bucket, self.key, data=data)
        assert r.status_code == 200, f"S3 PUT {self}: {r.status_code} {r.text}"

    def exists(self):
        r = self.s3.request("HEAD", self.bucket, self.key)
        assert r.status_code in (200, 404), f"S3 HEAD {self}: {r.status_code}"
        return r.status_code == 200


def s3_blobs(blob_url):
    """The objects below an s3://bucket[/prefix] URL."""
    rest = blob_url[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    s3 = S3()
    return [S3Blob(s3, bucket, k) for k in s3.list(bucket, prefix + "/" if prefix else "")]


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Polls `predicate` until it returns a truthy value; fails with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            desc = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout}s waiting for {desc} (last value: {last!r})")
        time.sleep(interval)


def files_under(path: Path):
    """Every regular file below `path` (recursively); empty when `path` does not exist."""
    if not path.exists():
        return []
    return sorted(p for p in path.rglob("*") if p.is_file())


def multipart(parts, boundary=None):
    """Builds a multipart/form-data body.

    `parts` is a list of dicts: {"name": str, "data": bytes|str, "filename": str|None,
    "content_type": str|None}. Names and file names are written raw (UTF-8), so tests can send
    path separators and control characters exactly as a client might.
    Returns (body, content_type_header).
    """
    boundary = boundary or ("sluiceTestBoundary" + uuid.uuid4().hex)
    out = bytearray()
    for p in parts:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = b'Content-Disposition: form-data; name="' + p["name"].encode() + b'"'
        if p.get("filename") is not None:
            disp += b'; filename="' + p["filename"].encode("utf-8") + b'"'
        out += disp + b"\r\n"
        if p.get("content_type"):
            out += b"Content-Type: " + p["content_type"].encode() + b"\r\n"
        out += b"\r\n"
        data = p.get("data", b"")
        out += data.encode() if isinstance(data, str) else data
        out += b"\r\n"
    out += b"--" + boundary.encode() + b"--\r\n"
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def file_part(filename, data, content_type=None, name="files"):
    return {"name": name, "filename": filename, "data": data, "content_type": content_type}


def text_part(name, value):
    return {"name": name, "data": value}


def sanitizer_report(text: str):
    m = SANITIZER_RE.search(text or "")
    return text[max(0, m.start() - 200):m.start() + 3000] if m else None


# ----------------------------------------------------------------------------- the server

class Server:
    """One sluice working directory and (at most) one running `sluice serve` on it."""

    # `sluice serve` runs without its cron scheduler (--no-cron) unless this is True.
    cron = False

    def __init__(self, workdir: Path, env=None, database_url=None, blob_url=None):
        """`database_url`/`blob_url` share another server's schema/prefix (PostgreSQL/S3 runs);
        by default each Server gets fresh ones."""
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = workdir / "data"
        self.env = dict(env or {})
        self.database_url = database_url or (fresh_database_url() if PG_URL else None)
        self.blob_url = blob_url or (fresh_blob_url() if BLOB_URL else None)
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.log_path = None
        self.logs = []  # every log file this directory's servers wrote, oldest first
        self.runs = 0

    # --- lifecycle

    def full_env(self, extra=None):
        env = {"SLUICE_DATA_DIR": str(self.data_dir)}
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if self.blob_url:
            env["SLUICE_BLOB_URL"] = self.blob_url
        env.update(self.env)
        env.update(extra or {})
        return child_env(env)

    def start(self, env=None, host="127.0.0.1", extra_args=()):
        """Starts `sluice serve`; `env` (when given) replaces the test's extra variables."""
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        if env is not None:
            self.env = dict(env)
        if not os.access(BIN, os.X_OK):
            pytest.fail(f"sluice binary not found or not executable: {BIN} (set SLUICE_BIN)")
        self.host = host
        for attempt in range(3):
            self.runs += 1
            self.port = free_port()
            self.log_path = self.workdir / f"server-{self.runs}.log"
            self.logs.append(self.log_path)
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    [BIN, "serve", "--port", str(self.port), "--host", host,
                     *(() if self.cron else ("--no-cron",)), *extra_args],
                    cwd=self.workdir, env=self.full_env(), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT,
                )
            if self._wait_ready():
                return self
            # It exited before it was ready; a port stolen between probe and bind is retried.
            if "in use" not in self.log().lower() or attempt == 2:
                break
        pytest.fail(
            f"sluice serve did not become ready (exit code {self.proc.poll()}):\n{self.log()}"
        )

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = requests.get(self.url("/healthz"), timeout=1)
                if r.status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.03)
        self.kill()
        pytest.fail(f"sluice serve not ready within {READY_TIMEOUT}s:\n{self.log()}")

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit code (kills and fails if it does not exit)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"server did not exit within {timeout}s of SIGTERM:\n{self.log()}")

    def kill(self):
        """SIGKILL (kill -9) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, env=None):
        code = self.stop()
        assert code == 0, f"server exited {code} on SIGTERM:\n{self.log()}"
        return self.start(env=env)

    def log(self, all_runs=False):
        paths = self.logs if all_runs else ([self.log_path] if self.log_path else [])
        out = []
        for p in paths:
            try:
                out.append(p.read_text(errors="replace"))
            except OSError:
                pass
        return "\n".join(out)

    def log_tail(self, n=40):
        lines = self.log().splitlines()
        return "\n".join(lines[-n:])

    # --- HTTP

    def url(self, path):
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}{path}"

    def request(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return requests.request(method, self.url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def _describe(self, r):
        body = r.content[:2000].decode("utf-8", "replace")
        return (
            f"{r.request.method} {r.request.url}\n"
            f"  got status {r.status_code}, Content-Type {r.headers.get('Content-Type')!r}\n"
            f"  body: {body}\n--- server log (tail) ---\n{self.log_tail()}"
        )

    def check(self, r, status):
        """Asserts the status; returns the parsed JSON body (or None for empty bodies)."""
        assert r.status_code == status, f"expected status {status}\n{self._describe(r)}"
        if not r.content:
            return None
        ctype = r.headers.get("Content-Type", "")
        assert ctype.startswith("application/json"), (
            f"expected application/json\n{self._describe(r)}"
        )
        try:
            return r.json()
        except ValueError:
            pytest.fail(f"body is not JSON\n{self._describe(r)}")

    def check_error(self, r, status, code=None):
        """Asserts a contract error: status, JSON content type, {"error": {"code", "message"}}."""
        body = self.check(r, status)
        assert isinstance(body, dict) and isinstance(body.get("error"), dict), (
            f"expected an error body {{\"error\": {{...}}}}\n{self._describe(r)}"
        )
        err = body["error"]
        assert isinstance(err.get("code"), str) and re.match(r"^[a-z][a-z0-9_]*$", err["code"]), (
            f"error.code must be a snake_case string\n{self._describe(r)}"
        )
        assert isinstance(err.get("message"), str) and err["message"].strip(), (
            f"error.message must be a non-empty string\n{self._describe(r)}"
        )
        if code is not None:
            assert err["code"] == code, f"expected error code {code!r}\n{self._describe(r)}"
        return err

    # --- API helpers

    def upload_raw(self, parts, headers=None):
        body, ctype = multipart(parts)
        h = {"Content-Type": ctype}
        h.update(headers or {})
        return self.post("/api/integration/upload", data=body, headers=h)

    def upload(self, files, type=None, tenant=None, status=202):
        """Uploads `files` ([(name, bytes[, content_type])] or one such tuple); returns the body."""
        if isinstance(files, tuple):
            files = [files]
        parts = []
        if type is not None:
            parts.append(text_part("type", type))
        if tenant is not None:
            parts.append(text_part("tenant", tenant))
        for f in files:
            parts.append(file_part(f[0], f[1], f[2] if len(f) > 2 else None))
        r = self.upload_raw(parts)
        return self.check(r, status)

    def upload_one(self, name="a.txt", data=None, **kw):
        """Uploads one file and returns its job."""
        data = data if data is not None else f"content of {name} {uuid.uuid4()}".encode()
        body = self.upload([(name, data)], **kw)
        assert len(body["jobs"]) == 1, body
        return body["jobs"][0]

    def batch(self, limit=None, method="GET", headers=None, status=200):
        path = "/api/cron/process-integration-jobs"
        if limit is not None:
            path += f"?limit={limit}"
        r = self.request(method, path, headers=headers or {})
        body = self.check(r, status)
        if status == 200:
            assert SUMMARY_FIELDS <= set(body), f"summary lacks {SUMMARY_FIELDS - set(body)}: {body}"
        return body

    def job(self, job_id, status=200):
        return self.check(self.get(f"/api/integration/jobs/{job_id}"), status)

    def jobs(self, **params):
        return self.check(self.get("/api/integration/jobs", params=params), 200)

    def queue(self, **params):
        return self.check(self.get("/api/integration/queue", params=params), 200)

    def stats(self, **params):
        return self.check(self.get("/api/integration/stats", params=params), 200)

    def wait_processing(self, n=1, timeout=15.0):
        """Polls the queue until `n` jobs are processing; returns that queue snapshot."""
        def probe():
            q = self.queue()
            return q if q["processing"] >= n else None
        return wait_for(probe, timeout=timeout, interval=0.05, what=f"{n} job(s) processing")

    def batch_in_thread(self, **kw):
        """Fires one batch request in a background thread; returns (thread, result dict)."""
        result = {}

        def run():
            try:
                result["response"] = self.request(
                    "GET", "/api/cron/process-integration-jobs", **kw
                )
            except requests.RequestException as e:
                result["exception"] = e

        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t, result

    # --- disk

    def blob_files(self):
        """The stored blobs: files under data/blobs, or objects under the S3 prefix."""
        url = self.env.get("SLUICE_BLOB_URL") or self.blob_url
        if url and url.startswith("s3://"):
            return s3_blobs(url)
        return files_under(self.data_dir / "blobs")

    def tmp_files(self):
        return files_under(self.data_dir / "tmp")

    def find_blob(self, data: bytes):
        """Paths of the blob files whose content is exactly `data`."""
        return [p for p in self.blob_files() if p.read_bytes() == data]

    # --- CLI

    def cli(self, *args, env=None, timeout=30, input=None):
        """Runs the binary with this directory as cwd and the server's environment."""
        if not os.access(BIN, os.X_OK):
            pytest.fail(f"sluice binary not found or not executable: {BIN} (set SLUICE_BIN)")
        try:
            cp = subprocess.run(
                [BIN, *args], cwd=self.workdir, env=self.full_env(env), input=input,
                capture_output=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"`sluice {' '.join(args)}` did not exit within {timeout}s: {e}")
        cp.out = cp.stdout.decode("utf-8", "replace")
        cp.err = cp.stderr.decode("utf-8", "replace")
        rep = sanitizer_report(cp.err)
        assert rep is None, f"sanitizer report from `sluice {' '.join(args)}`:\n{rep}"
        return cp

    def write(self, name, text):
        p = self.workdir / name
        p.write_text(text)
        return p


def describe_cli(cp):
    return (
        f"argv: {cp.args}\nexit: {cp.returncode}\n--- stdout ---\n{cp.out}\n--- stderr ---\n{cp.err}"
    )


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(env=None, files=None, start=True) -> Server in a fresh directory.

    `files` maps names to text written in the working directory before the start (e.g. `.env`).
    Each call gets its own directory; use server.restart()/stop()/kill()/start() to cycle one.
    Teardown stops every server and fails on any sanitizer report in its logs.
    """
    servers = []

    def factory(env=None, files=None, start=True, host="127.0.0.1"):
        srv = Server(tmp_path / f"srv{len(servers)}", env)
        servers.append(srv)
        for name, text in (files or {}).items():
            srv.write(name, text)
        if start:
            srv.start(host=host)
        return srv

    yield factory

    reports = []
    for srv in servers:
        try:
            srv.stop()
        finally:
            srv.kill()
        rep = sanitizer_report(srv.log(all_runs=True))
        if rep:
            reports.append(f"{srv.workdir}:\n{rep}")
    if reports:
        pytest.fail("sanitizer report in server log:\n" + "\n".join(reports))


@pytest.fixture
def server(make_server):
    """A running server with the defaults."""
    return make_server()
