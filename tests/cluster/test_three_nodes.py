"""Three `sluice serve` nodes on one PostgreSQL schema and one bucket prefix.

- Every job is processed exactly once when all three run batches at the same time.
- A node killed (kill -9) in the middle of a batch: the jobs it had claimed are taken by the other
  nodes once their lease has expired, and are completed exactly once in the store.
- Each cron slot fires on one node only.

Side effects are observed through a `command` processor that appends a line to a shared file
(see `side_effect_script` in conftest.py).
"""

import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import (
    BATCH,
    command_processor,
    file_part,
    parse_iso,
    process_alive,
    read_side_log,
    sha256_hex,
    side_effect_script,
    text_part,
    wait_for,
)


def upload_files(node, files, type_):
    """One upload request of [(name, bytes)] with `type_`; returns its jobs."""
    parts = [text_part("type", type_)] + [file_part(name, data) for name, data in files]
    return node.check(node.upload_raw(parts), 202)["jobs"]


def all_jobs(node, **filters):
    """Every job of the store, through the list route's pages."""
    out, cursor = [], None
    while True:
        params = dict(filters, limit=200)
        if cursor:
            params["cursor"] = cursor
        page = node.jobs(**params)
        out += page["jobs"]
        cursor = page["nextCursor"]
        if not cursor:
            return out


def batches_at_once(nodes, limit):
    """One batch request on each node, all released together; [(node index, t_sent, t_received,
    summary)]. A 409 (a batch of that node still running) cannot happen: each round waits for
    every answer before the next."""
    barrier = threading.Barrier(len(nodes))

    def one(i):
        barrier.wait(timeout=30)
        t_sent = time.time()
        s = nodes[i].batch(limit=limit)
        return i, t_sent, time.time(), s

    with ThreadPoolExecutor(len(nodes)) as ex:
        return [f.result() for f in [ex.submit(one, i) for i in range(len(nodes))]]


# ----------------------------------------------------------------------------- exactly once

N_FILES = 1000
FILES_PER_REQUEST = 10


def metrics(node):
    """A node's /metrics samples as {(name, ((label, value), ...) sorted): value}."""
    r = requests.get(node.url("/metrics"), timeout=30)
    assert r.status_code == 200, r.text[:200]
    out = {}
    for line in r.text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        assert m, line
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def test_a_thousand_jobs_on_three_nodes_complete_exactly_once(cluster):
    side = cluster.root / "side.log"
    conf = {"processors": {"sidefx": command_processor(side_effect_script(side))}}
    # Half the files are stored inline with their job (PostgreSQL), half in the bucket.
    nodes = cluster.add_nodes(3, env={"SLUICE_INLINE_MAX_BYTES": "256"}, sluice_json=conf)

    # 1,000 files, 10 per request, requests round-robin over the nodes, 6 requests at a time.
    run = uuid.uuid4().hex[:8]
    files = [
        (f"f{i:04d}.dat", (f"file {i} of run {run}\n" * (2 if i % 2 else 20)).encode())
        for i in range(N_FILES)
    ]
    chunks = [files[k:k + FILES_PER_REQUEST] for k in range(0, N_FILES, FILES_PER_REQUEST)]
    with ThreadPoolExecutor(6) as ex:
        answers = list(ex.map(
            lambda ic: (ic[0] % 3, upload_files(nodes[ic[0] % 3], ic[1], "sidefx")),
            enumerate(chunks),
        ))
    uploaded = {}  # job id -> (node index, sha256)
    for node_i, jobs in answers:
        for j in jobs:
            uploaded[j["id"]] = (node_i, j["sha256"])
    assert len(uploaded) == N_FILES
    expected_sha = {sha256_hex(data) for _, data in files}
    assert {sha for _, sha in uploaded.values()} == expected_sha
    for n in nodes:
        q = n.queue()
        assert (q["pending"], q["total"]) == (N_FILES, N_FILES), f"{n.name}: {q}"

    # Batches of up to 100 on all three nodes at once, until nothing is left.
    results = []
    deadline = time.monotonic() + 300
    while True:
        rnd = batches_at_once(nodes, limit=100)
        results += rnd
        if all(s["processed"] == 0 for _, _, _, s in rnd):
            q = nodes[0].queue()
            if q["pending"] == 0 and q["processing"] == 0:
                break
        assert time.monotonic() < deadline, (
            f"queue not empty after 300 s: {nodes[0].queue()}\n{cluster.logs()}"
        )

    # Every job was claimed by exactly one batch on one node, and succeeded.
    claimed = Counter()
    by_node = {}
    for node_i, _, _, s in results:
        assert (s["failed"], s["retried"]) == (0, 0), s
        assert s["succeeded"] == s["processed"] == len(s["jobs"]), s
        for j in s["jobs"]:
            assert (j["status"], j["attempts"]) == ("completed", 0), (node_i, j)
            claimed[j["id"]] += 1
            by_node[j["id"]] = node_i
    twice = {k: n for k, n in claimed.items() if n != 1}
    assert not twice, f"jobs in more than one batch: {twice}"
    assert set(claimed) == set(uploaded)
    # Every node did work (three batches at once take three full batches while 300 are due), and
    # files uploaded on one node were processed on another.
    per_node = Counter(by_node.values())
    assert sorted(per_node) == [0, 1, 2], f"every node should have processed jobs: {per_node}"
    moved = sum(1 for jid, (up_i, _) in uploaded.items() if by_node[jid] != up_i)
    assert moved > 0, "no job was processed on another node than the one it was uploaded to"

    # The side effect ran exactly once per job, on the node whose batch reported it, and the
    # processor read the job's own bytes (from the shared bucket or the job row).
    lines = read_side_log(side)
    assert len(lines) == N_FILES, f"{len(lines)} side-effect lines for {N_FILES} jobs"
    per_job = Counter(ln.job for ln in lines)
    assert set(per_job) == set(uploaded) and set(per_job.values()) == {1}, \
        {k: n for k, n in per_job.items() if n != 1}
    pid_of = {i: n.pid for i, n in enumerate(nodes)}
    for ln in lines:
        assert ln.node == pid_of[by_node[ln.job]], f"{ln} ran on another node than its batch's"
        assert ln.sha == uploaded[ln.job][1], f"the processor of {ln.job} read other bytes: {ln}"

    # The store agrees, seen from every node.
    for n in nodes:
        q = n.queue()
        assert (q["completed"], q["pending"], q["processing"], q["failed"], q["total"]) == \
            (N_FILES, 0, 0, 0, N_FILES), f"{n.name}: {q}"
    done = all_jobs(nodes[1], status="completed")
    assert len(done) == N_FILES and {j["id"] for j in done} == set(uploaded)
    assert all(j["attempts"] == 0 and j["completedAt"] for j in done)

    # /metrics: every node reports the cluster's jobs; the event counters, added up over the
    # nodes, count each upload and each job once.
    scraped = [metrics(n) for n in nodes]
    for n, m in zip(nodes, scraped):
        assert m.get(("sluice_jobs", (("status", "completed"), ("type", "sidefx")))) == N_FILES, \
            f"{n.name}: {[(k, v) for k, v in m.items() if k[0] == 'sluice_jobs']}"
    def total(name, *labels):
        return sum(m.get((name, tuple(labels)), 0) for m in scraped)
    assert total("sluice_upload_files_total") == N_FILES
    assert total("sluice_uploads_total") == len(chunks)
    assert total("sluice_jobs_processed_total", ("outcome", "completed")) == N_FILES
    assert total("sluice_job_processing_seconds_count") == N_FILES
    assert total("sluice_batch_runs_total") == len(results)
    assert all(m.get(("sluice_jobs_processed_total", (("outcome", "completed"),)), 0) > 0
               for m in scraped), "every node ran jobs, and says so"


# ----------------------------------------------------------------------------- kill -9

LEASE_S = 3  # SLUICE_JOB_TIMEOUT_SECONDS: the lease, and each job's timeout
JOB_S = 0.5  # how long each job's processor sleeps
CLAIMED = 6  # jobs the doomed node claims in one batch (6 x 0.5 s: it dies half-way)
LATER = 4  # jobs uploaded after the claim, free for the other nodes at once


def test_a_killed_nodes_claimed_jobs_complete_elsewhere_after_the_lease(cluster):
    """At-least-once, precisely: the store records exactly one completion per job, and counts
    the attempt the dead node lost. The side effect of that lost attempt is not undone: the
    processor of the killed node runs in its own process group and may finish (and log `done`)
    after its node died, so a job whose attempt was cut off can see its side effect twice.
    Jobs the dead node had claimed but not started run exactly once, on another node."""
    side = cluster.root / "side.log"
    conf = {"processors": {"slow": command_processor(side_effect_script(side, sleep_s=JOB_S))}}
    env = {"SLUICE_JOB_TIMEOUT_SECONDS": str(LEASE_S)}
    a, b, c = cluster.add_nodes(3, env=env, sluice_json=conf)

    first = upload_files(b, [(f"a{i}.txt", f"claimed by a {i}\n".encode())
                             for i in range(CLAIMED)], "slow")
    a_ids = [j["id"] for j in first]
    t_claim = time.time()  # the claim happens after this: its leases end after t_claim + LEASE_S
    t, res = a.batch_in_thread(params={"limit": CLAIMED})

    def a_lines(what):
        return [ln for ln in read_side_log(side) if ln.node == a.pid and ln.what == what]

    # Kill a once it has finished two jobs and started the third.
    wait_for(lambda: len(a_lines("start")) >= 3, timeout=20,
             what=lambda: f"node a starting its third job\n{cluster.logs()}")
    a.kill()
    t_kill = time.time()
    t.join(30)
    assert "response" not in res, f"the killed node answered its batch: {res}"
    q = b.queue()
    assert q["pending"] == 0 and q["processing"] + q["completed"] == CLAIMED, \
        f"node a should hold every job: {q}"

    later = upload_files(c, [(f"l{i}.txt", f"later {i}\n".encode()) for i in range(LATER)], "slow")
    later_ids = [j["id"] for j in later]
    all_ids = a_ids + later_ids

    # b and c run batches side by side until every job is completed.
    results = []

    def finished():
        results.extend(batches_at_once([b, c], limit=2))
        q = b.queue()
        return q if q["completed"] == len(all_ids) else None

    wait_for(finished, timeout=LEASE_S + 60, interval=0.1,
             what=lambda: f"every job completed: {b.queue()}\n{cluster.logs()}")

    # Nothing of a's was taken while its lease could still hold.
    for node_i, t_sent, t_recv, s in results:
        taken = [j["id"] for j in s["jobs"] if j["id"] in a_ids]
        if taken:
            assert t_recv >= t_claim + LEASE_S, (
                f"{'bc'[node_i]} took {taken} {t_claim + LEASE_S - t_recv:.2f}s before their "
                f"lease could end: {s}"
            )
    # Each job's completion is recorded once: by a before it died, or by exactly one batch
    # of b or c.
    elsewhere = Counter(j["id"] for _, _, _, s in results for j in s["jobs"]
                        if j["status"] == "completed")
    assert set(elsewhere.values()) <= {1}, elsewhere
    jobs = {jid: b.job(jid) for jid in all_ids}
    assert all(j["status"] == "completed" for j in jobs.values()), jobs
    done_by_a = [jid for jid in a_ids if jid not in elsewhere]
    rescued = [jid for jid in a_ids if jid in elsewhere]
    assert set(later_ids) <= set(elsewhere), elsewhere
    assert len(done_by_a) >= 2 and rescued, (done_by_a, rescued)
    # a completed its first jobs in order; every job it had not finished went to b or c.
    assert done_by_a == a_ids[:len(done_by_a)], (done_by_a, a_ids)
    for jid in done_by_a:
        j = jobs[jid]
        assert j["attempts"] == 0 and parse_iso(j["completedAt"]).timestamp() <= t_kill, j
    for jid in rescued:
        # The lost attempt is counted, whether a had started the job or only claimed it, and
        # the job was claimed again (startedAt) only after a's lease had run out.
        j = jobs[jid]
        assert j["attempts"] == 1, j
        assert parse_iso(j["startedAt"]).timestamp() >= t_claim + LEASE_S - 0.002, j
    for jid in later_ids:
        assert jobs[jid]["attempts"] == 0, jobs[jid]
    rescues = sum(int(m) for n in (b, c) for m in
                  re.findall(r"rescued (\d+) job\(s\) whose lease expired", n.log()))
    assert rescues == len(rescued), f"{rescues} rescued in the logs, {len(rescued)} expected"

    # Side effects. Let the processor a left running (if any) finish first.
    finished_on_a = {ln.pid for ln in a_lines("done")}
    for ln in a_lines("start"):
        if ln.pid not in finished_on_a:
            wait_for(lambda: not process_alive(ln.pid), timeout=JOB_S + 10,
                     what=f"the orphaned processor {ln.pid} of node a to end")
    lines = read_side_log(side)
    live = {b.pid: "b", c.pid: "c"}
    assert {ln.node for ln in lines} <= {a.pid, b.pid, c.pid}, lines
    cut_off = []
    for jid in all_ids:
        mine = [ln for ln in lines if ln.job == jid]
        on_a = [ln.what for ln in mine if ln.node == a.pid]
        on_bc = [ln.what for ln in mine if ln.node in live]
        if jid in done_by_a:
            assert (on_a, on_bc) == (["start", "done"], []), mine
        elif on_a:
            # The attempt a's death cut off: started on a, maybe finished by its orphan.
            cut_off.append(jid)
            assert on_a in (["start"], ["start", "done"]), mine
            assert on_bc == ["start", "done"], mine
        else:
            assert on_bc == ["start", "done"], mine
    assert len(cut_off) <= 1, f"a ran one job at a time, yet several were cut off: {cut_off}"


def test_kill_9_during_a_batch_under_load_loses_nothing(cluster):
    """The same kill while clients keep uploading to and reading from the other nodes: no
    request of theirs fails, and every job, the killed node's and the load's, completes exactly
    once in the store, the killed node's unfinished ones after one counted attempt."""
    side = cluster.root / "side.log"
    conf = {"processors": {"slow": command_processor(side_effect_script(side, sleep_s=JOB_S))}}
    a, b, c = cluster.add_nodes(3, env={"SLUICE_JOB_TIMEOUT_SECONDS": str(LEASE_S)},
                                sluice_json=conf)
    doomed = [j["id"] for j in upload_files(b, [(f"d{i}.txt", b"doomed %d" % i)
                                                for i in range(CLAIMED)], "slow")]
    t, res = a.batch_in_thread(params={"limit": CLAIMED})

    stop, failures, loaded = threading.Event(), [], []

    def load(k):  # uploads of the built-in `file` type, and reads, until told to stop
        node = (b, c)[k % 2]
        i = 0
        while not stop.is_set():
            try:
                r = node.upload_raw([file_part(f"load{k}-{i}.txt", b"load %d %d" % (k, i))])
                if r.status_code != 202:
                    failures.append((node.name, r.status_code, r.text[:200]))
                else:
                    loaded.extend(j["id"] for j in r.json()["jobs"])
                for path in ("/api/integration/queue", "/api/integration/stats", "/metrics"):
                    r = node.get(path)
                    if r.status_code != 200:
                        failures.append((node.name, path, r.status_code))
            except requests.RequestException as e:
                failures.append((node.name, repr(e)))
            i += 1

    with ThreadPoolExecutor(4) as ex:
        loaders = [ex.submit(load, k) for k in range(4)]
        wait_for(lambda: len([ln for ln in read_side_log(side) if ln.node == a.pid
                              and ln.what == "start"]) >= 2, timeout=20,
                 what=lambda: f"node a starting its second job\n{cluster.logs()}")
        a.kill()
        t.join(30)
        # b and c work through everything while the load goes on, then a little longer
        def doomed_done():
            batches_at_once([b, c], limit=50)
            return all(b.job(i)["status"] == "completed" for i in doomed)

        wait_for(doomed_done, timeout=LEASE_S + 60, interval=0.1,
                 what=lambda: f"node a's jobs completed elsewhere: {b.queue()}")
        stop.set()
        for f in loaders:
            f.result(timeout=60)
    assert not failures, f"requests that failed under load: {failures[:10]}"
    assert loaded, "the load uploaded nothing"

    def drained():
        batches_at_once([b, c], limit=100)
        q = c.queue()
        return q if q["pending"] == q["processing"] == 0 else None

    q = wait_for(drained, timeout=120, interval=0.1, what=lambda: f"an empty queue: {c.queue()}")
    assert q["failed"] == 0 and q["completed"] == q["total"] == len(doomed) + len(loaded), q
    done = {j["id"]: j for j in all_jobs(b, status="completed")}
    assert set(done) == set(doomed) | set(loaded)
    assert all(done[i]["attempts"] == 0 for i in loaded), "the load's jobs ran once each"
    assert all(done[i]["attempts"] <= 1 for i in doomed)
    assert any(done[i]["attempts"] == 1 for i in doomed), "some of a's jobs were rescued"


# ----------------------------------------------------------------------------- cron slots

SLOT_RE = re.compile(r"cron slot (\S+Z) GET (\S+): (.*)$", re.M)
BATCH_ACCESS_RE = re.compile(r" GET /api/cron/process-integration-jobs(?:\?\S*)? (\d{3}) ")


def test_each_cron_slot_fires_on_one_node_only(cluster):
    every_second = {"crons": [{"path": BATCH, "schedule": "* * * * * *"}]}
    nodes = cluster.add_nodes(3, vercel_json=every_second, cron=True)
    for n in nodes:
        q = n.queue()
        assert q["nextRunAt"] is not None, f"{n.name} runs no scheduler: {q}"
    # A job uploaded while they run is processed by a cron firing, once.
    job = nodes[0].upload_one("cron.txt", b"processed by whichever node wins the slot")
    t_up = time.time()
    wait_for(lambda: nodes[2].job(job["id"])["status"] == "completed", timeout=10,
             what=lambda: f"the job completed by a cron firing\n{cluster.logs()}")
    time.sleep(6)  # the window observed: at least five whole slots (a duration, not a check)
    t_down = time.time()
    j = nodes[1].job(job["id"])
    assert (j["status"], j["attempts"]) == ("completed", 0), j
    for n in nodes:
        assert n.stop() == 0, n.log_tail()

    # Each slot is logged by the node that recorded it first (fired, or skipped because its
    # own batch was still running); the others skip it without a line.
    slots = {}
    for i, n in enumerate(nodes):
        for slot, path, what in SLOT_RE.findall(n.log()):
            assert path == BATCH, (slot, path, what)
            assert slot not in slots, (
                f"slot {slot} handled twice: {slots[slot]} and {(i, what)}\n{cluster.logs()}"
            )
            slots[slot] = (i, what)
    window = range(int(t_up) + 1, int(t_down))  # whole seconds while all three ran
    in_window = {s: v for s, v in slots.items() if int(parse_iso(s).timestamp()) in window}
    assert len(in_window) == len(window) >= 5, (
        f"{len(window)} slots in the window, {len(in_window)} handled: {sorted(in_window)}"
    )
    fired = {s: v for s, v in in_window.items() if v[1].startswith("fired, status 200")}
    assert len(fired) == len(in_window), f"slots not fired: {in_window}"

    # The batch route was called once per fired slot in all, not once per node and slot.
    calls = sum(len(BATCH_ACCESS_RE.findall(n.log())) for n in nodes)
    fired_all = sum(1 for _, what in slots.values() if what.startswith("fired"))
    assert calls == fired_all, f"{calls} batch calls for {fired_all} fired slots\n{cluster.logs()}"


# ----------------------------------------------------------------------------- bugs these found
# Both failed before their fixes: queued jobs' leases were not renewed (src/core/batch.c), and
# claims running at once chose their candidates before locking them (src/store/postgres_claim.c).

def test_a_live_nodes_queued_jobs_keep_their_lease(cluster):
    """A batch runs its claimed jobs one after another; the ones still waiting their turn must
    not be taken by another node while the node that holds them is alive."""
    side = cluster.root / "side.log"
    conf = {"processors": {"slow": command_processor(side_effect_script(side, sleep_s=1))}}
    a, b = cluster.add_nodes(2, env={"SLUICE_JOB_TIMEOUT_SECONDS": "2"}, sluice_json=conf)
    files = [(f"q{i}.txt", b"queued %d" % i) for i in range(5)]
    ids = [j["id"] for j in upload_files(a, files, "slow")]
    t, res = a.batch_in_thread(params={"limit": len(ids)})
    a.wait_processing(1)
    others = []
    while t.is_alive():  # b keeps running batches while a works through its 5 s batch
        others.append(b.batch(limit=len(ids)))
        time.sleep(0.05)
    t.join(30)
    s = a.check(res["response"], 200)
    stolen = [j["id"] for o in others for j in o["jobs"]]
    assert not stolen, (
        f"node b took jobs node a held: {stolen}\na's batch: {s}\n"
        f"side effects: {read_side_log(side)}\n{cluster.logs()}"
    )
    assert [(j["id"], j["status"]) for j in s["jobs"]] == [(i, "completed") for i in ids], s
    runs = Counter(ln.job for ln in read_side_log(side) if ln.what == "start")
    assert runs == Counter(ids), runs


def test_three_batches_at_once_take_three_full_batches(cluster):
    """With at least 300 jobs due, three batches of 100 started together on three nodes take 300
    different jobs between them."""
    nodes = cluster.add_nodes(3)
    files = [(f"c{i:04d}.txt", b"claim %d" % i) for i in range(1500)]  # the built-in `file` type
    with ThreadPoolExecutor(6) as ex:
        list(ex.map(lambda k: upload_files(nodes[k % 3], files[k * 50:(k + 1) * 50], "file"),
                    range(30)))
    rounds = []
    for _ in range(5):
        rnd = batches_at_once(nodes, limit=100)
        rounds.append([s["processed"] for _, _, _, s in rnd])
    assert all(sum(r) == 300 for r in rounds), (
        f"jobs taken per node in each round (1,500 due at the start): {rounds}"
    )


