"""The cron scheduler in `sluice serve`: vercel.json crons, once per slot, no pile-up, continuous mode.

These servers start WITHOUT `--no-cron` (the conftest's servers always pass it), so this file has
its own server class and factory: `CronServer` writes `vercel.json` into its working directory
before the start and leaves the scheduler on. Schedules use the six-field (seconds) extension so
that a test waits seconds, not minutes.

Slot log lines look like:
    cron slot 2026-11-30T07:39:11.000Z GET /api/cron/process-integration-jobs: fired, status 200 in 2ms
"""

import json
import os
import re
import subprocess
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from conftest import (
    BIN,
    READY_TIMEOUT,
    Server,
    child_env,
    free_port,
    parse_iso,
    sanitizer_report,
    utcnow,
    wait_for,
)

BATCH = "/api/cron/process-integration-jobs"
EVERY_SECOND = {"crons": [{"path": BATCH, "schedule": "*/1 * * * * *"}]}
NO_CRONS = {"crons": []}

SLOT_RE = re.compile(r"cron slot (\S+Z) GET (\S+): (.*)$", re.M)
SKIPPED_BUSY = "skipped: the previous batch is still running"


class CronServer(Server):
    """A Server whose `sluice serve` runs the scheduler (no `--no-cron`)."""

    def __init__(self, workdir: Path, env=None, vercel=None):
        super().__init__(workdir, env)
        if vercel is not None:
            self.write("vercel.json", vercel if isinstance(vercel, str) else json.dumps(vercel))

    def start(self, env=None, host="127.0.0.1", extra_args=()):
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
                    [BIN, "serve", "--port", str(self.port), "--host", host, *extra_args],
                    cwd=self.workdir, env=self.full_env(), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT,
                )
            if self._wait_ready():
                return self
            if "in use" not in self.log().lower() or attempt == 2:
                break
        pytest.fail(
            f"sluice serve did not become ready (exit code {self.proc.poll()}):\n{self.log()}"
        )

    def slots(self):
        """[(slot_iso, path, outcome)] from this server's logs (every run)."""
        return SLOT_RE.findall(self.log(all_runs=True))

    def fired(self):
        return [(s, p) for s, p, what in self.slots() if what.startswith("fired")]


@pytest.fixture
def make_cron_server(tmp_path):
    """Factory: make_cron_server(vercel=None, env=None, start=True, extra_args=()) -> CronServer.

    `vercel` (dict or raw text) is written as vercel.json before the start; None writes nothing,
    so the default crontab applies. Teardown stops every server and fails on sanitizer reports.
    """
    servers = []

    def factory(vercel=None, env=None, start=True, extra_args=()):
        srv = CronServer(tmp_path / f"cron{len(servers)}", env, vercel)
        servers.append(srv)
        if start:
            srv.start(extra_args=extra_args)
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


def wait_completed(srv, job_id, timeout):
    def probe():
        j = srv.job(job_id)
        return j if j["status"] == "completed" else None

    return wait_for(
        probe, timeout=timeout, interval=0.05,
        what=lambda: f"job {job_id} completed; it is {srv.job(job_id)}\n--- log ---\n"
                     f"{srv.log_tail()}",
    )


# ----------------------------------------------------------------------------- firing on time

def test_every_second_schedule_processes_uploads_without_a_manual_call(make_cron_server):
    srv = make_cron_server(EVERY_SECOND)
    job = srv.upload_one("a.csv", b"id,name\n1,alpha\n")
    assert job["status"] == "pending"
    done = wait_completed(srv, job["id"], timeout=5)
    assert done["attempts"] == 0, done

    # The firing is in the log, with its slot, path and status.
    wait_for(lambda: srv.fired(), timeout=3, what="a 'fired' cron log line")
    lines = [w for _, p, w in srv.slots() if p == BATCH and w.startswith("fired")]
    assert any(re.match(r"fired, status 200 in \d+ms", w) for w in lines), srv.log_tail()

    # The queue route shows when the cron last ran and when it runs next.
    before = utcnow()
    q = srv.queue()
    after = utcnow()
    assert q["lastRunAt"] is not None and q["nextRunAt"] is not None, q
    last, nxt = parse_iso(q["lastRunAt"]), parse_iso(q["nextRunAt"])
    assert last <= after, q
    assert last >= parse_iso(done["createdAt"]) - timedelta(seconds=1), (q, done)
    assert nxt > before - timedelta(milliseconds=250), f"nextRunAt is not in the future: {q}"
    assert nxt <= after + timedelta(seconds=1, milliseconds=250), q
    assert nxt.microsecond // 1000 == 0, f"an every-second slot falls on a whole second: {q}"


def test_default_crontab_next_run_is_the_next_even_minute(make_cron_server):
    srv = make_cron_server(vercel=None)
    assert not (srv.workdir / "vercel.json").exists()
    before = utcnow()
    q = srv.queue()
    nxt = parse_iso(q["nextRunAt"])
    assert nxt.second == 0 and nxt.microsecond == 0, q
    assert nxt.minute % 2 == 0, q
    assert before - timedelta(seconds=1) < nxt <= before + timedelta(seconds=121), q
    assert "cron: GET /api/cron/process-integration-jobs on '*/2 * * * *'" in srv.log(), \
        srv.log_tail()


def test_no_cron_flag_gives_null_next_run(make_server):
    srv = make_server()  # the conftest's servers run with --no-cron
    q = srv.queue()
    assert q["nextRunAt"] is None, q
    assert "cron slot" not in srv.log()


def test_empty_crons_list_means_no_scheduler(make_cron_server):
    srv = make_cron_server(NO_CRONS)
    q = srv.queue()
    assert q["nextRunAt"] is None, q
    job = srv.upload_one("a.txt", b"nobody will process me")
    time.sleep(1.2)
    assert srv.job(job["id"])["status"] == "pending"


# ----------------------------------------------------------------------------- once per slot

def test_two_servers_on_one_store_fire_each_slot_once(make_cron_server, tmp_path):
    # One store for both: a shared data dir (SQLite file and blob folder), and on PostgreSQL/S3
    # the same schema and prefix.
    shared = tmp_path / "shared-data"
    env = {"SLUICE_DATA_DIR": str(shared)}
    a = make_cron_server(EVERY_SECOND, env=env)
    b = make_cron_server(EVERY_SECOND, env=env, start=False)
    b.database_url, b.blob_url = a.database_url, a.blob_url
    b.start()
    assert a.port != b.port
    # Both share one store: a job uploaded to one is seen by the other.
    probe = a.upload_one("shared.txt", b"seen by both 2f7c")
    assert b.job(probe["id"])["id"] == probe["id"]
    both_up = time.time()
    time.sleep(4)
    both_down = time.time()
    assert a.stop() == 0, a.log_tail()
    assert b.stop() == 0, b.log_tail()

    # The process that records a slot first logs its outcome (fired, or skipped because its own
    # batch was still running); the other one skips it silently. So across both logs, every slot
    # has exactly one line.
    slots_a, slots_b = a.slots(), b.slots()
    lines = slots_a + slots_b
    assert {p for _, p, _ in lines} == {BATCH}, lines
    per_slot = Counter(slot for slot, _, _ in lines)
    dup = {k: n for k, n in per_slot.items() if n != 1}
    assert not dup, (
        f"slots handled more than once across both servers: {dup}\n"
        f"--- a ---\n{a.log()}\n--- b ---\n{b.log()}"
    )
    # Not zero times either: every slot while both were up was handled by one of them, and
    # fired (a slot at the very end may meet a server on its way out, hence only these).
    first, last = int(both_up) + 1, int(both_down) - 1
    expected = {s * 1000 for s in range(first, last + 1)}
    by_ms = {int(parse_iso(s).timestamp() * 1000 + 0.5): w for s, _, w in lines}
    assert expected <= set(by_ms), f"slots nobody handled: {sorted(expected - set(by_ms))}\n{lines}"
    assert len(expected) >= 3, (both_up, both_down)
    bad = {ms: by_ms[ms] for ms in expected
           if not (by_ms[ms].startswith("fired, status 200") or by_ms[ms] == SKIPPED_BUSY)}
    assert not bad, f"slots that did not fire: {bad}\n{lines}"


# ----------------------------------------------------------------------------- continuous mode

@pytest.mark.parametrize("how", ["flag", "env"])
def test_continuous_mode_runs_jobs_without_cron(make_cron_server, how):
    if how == "flag":
        srv = make_cron_server(NO_CRONS, extra_args=("--continuous",))
    else:
        srv = make_cron_server(NO_CRONS, env={"SLUICE_WORKER": "continuous"})
    # The worker logs its start just after the server is ready.
    wait_for(lambda: "continuous worker on" in srv.log(), timeout=5,
             what=lambda: f"'continuous worker on' in the log\n{srv.log_tail()}")
    q = srv.queue()
    assert q["nextRunAt"] is None, q  # no cron at all
    t0 = time.monotonic()
    jobs = srv.upload([("a.csv", b"id,name\n1,a\n"), ("b.json", b'[{"x": 1}]')])["jobs"]
    for j in jobs:
        done = wait_completed(srv, j["id"], timeout=2)
        assert done["attempts"] == 0, done
    assert time.monotonic() - t0 < 2.5
    assert "cron slot" not in srv.log()


# ----------------------------------------------------------------------------- no pile-up

def test_slow_batch_makes_the_next_slot_skipped_not_doubled(make_cron_server):
    srv = make_cron_server(EVERY_SECOND, env={"SLUICE_TEST_PROCESS_DELAY_MS": "2500"})
    job = srv.upload_one("slow.txt", b"takes a while")
    wait_for(
        lambda: SKIPPED_BUSY in srv.log(), timeout=6, interval=0.1,
        what=lambda: f"a '{SKIPPED_BUSY}' log line\n{srv.log_tail()}",
    )
    done = wait_completed(srv, job["id"], timeout=6)
    assert done["status"] == "completed" and done["attempts"] == 0, done
    # It ran once: one start and one completion in the log.
    log = srv.log()
    assert log.count(f"job {job['id']} completed") == 1, srv.log_tail()
    skipped = [s for s, p, w in srv.slots() if w == SKIPPED_BUSY]
    fired = [s for s, p, w in srv.slots() if w.startswith("fired")]
    assert skipped and not set(skipped) & set(fired), (skipped, fired)


# ----------------------------------------------------------------------------- start-up errors

BAD_CONFIGS = [
    pytest.param(
        '{"crons": [{"path": "/api/cron/process-integration-jobs", "schedule": "61 * * * *"}]}',
        ["crons[0].schedule", "minute field", "61"], id="bad-schedule",
    ),
    pytest.param(
        '{"crons": [{"path": "/ok", "schedule": "* * * * *"},'
        ' {"path": "api/cron/process-integration-jobs", "schedule": "*/2 * * * *"}]}',
        ["crons[1].path"], id="path-without-slash",
    ),
    pytest.param(
        '{\n  "crons": [\n    {"path": "/a", "schedule": "* * * * *"},\n  ]\n}\n',
        ["vercel.json", "line"], id="broken-json",
    ),
]


@pytest.mark.parametrize("text,parts", BAD_CONFIGS)
def test_invalid_vercel_json_stops_start_up(tmp_path, text, parts):
    work = tmp_path / "w"
    work.mkdir()
    (work / "vercel.json").write_text(text)
    port = free_port()
    try:
        cp = subprocess.run(
            [BIN, "serve", "--port", str(port), "--host", "127.0.0.1"],
            cwd=work, env=child_env({"SLUICE_DATA_DIR": str(work / "data")}),
            stdin=subprocess.DEVNULL, capture_output=True, timeout=READY_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("sluice serve kept running with an invalid vercel.json")
    err = cp.stderr.decode("utf-8", "replace")
    assert sanitizer_report(err) is None, err
    assert cp.returncode == 1, f"exit {cp.returncode}\n--- stderr ---\n{err}"
    for part in parts:
        assert part in err, f"stderr lacks {part!r}:\n{err}"
    assert "vercel.json" in err, err
    # One line on standard error, and nothing served.
    assert len([ln for ln in err.splitlines() if ln.strip()]) == 1, err
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)


# ----------------------------------------------------------------------------- CRON_SECRET

def test_scheduler_sends_the_cron_secret(make_cron_server):
    secret = "s3cret-for-the-scheduler"
    srv = make_cron_server(EVERY_SECOND, env={"CRON_SECRET": secret})
    # The route demands the secret ...
    srv.check_error(srv.get(BATCH), 401)
    # ... and the scheduler's own calls get through.
    job = srv.upload_one("a.txt", b"processed by the scheduler with the secret")
    wait_completed(srv, job["id"], timeout=5)
    # a slot's line is written once its call has answered, just after the job completed
    wait_for(lambda: [w for _, p, w in srv.slots() if w.startswith("fired, status 200")],
             timeout=10, what=lambda: f"a slot fired with status 200\n{srv.log_tail()}")
    fired = [w for _, p, w in srv.slots() if w.startswith("fired")]
    assert fired and all(w.startswith("fired, status 200") for w in fired), srv.log_tail()
