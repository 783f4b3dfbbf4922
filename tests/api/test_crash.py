"""Process life cycle: SIGTERM, kill -9 during a job (lease rescue), durability across restarts."""

import json
import signal
import time

from conftest import sha256_hex


def test_sigterm_when_idle_exits_zero_quickly(server):
    server.queue()
    t0 = time.monotonic()
    code = server.stop(timeout=8)
    elapsed = time.monotonic() - t0
    assert code == 0, f"exit code {code} on SIGTERM\n{server.log()}"
    assert elapsed < 5, f"took {elapsed:.1f}s to exit on SIGTERM"


def test_jobs_and_blobs_survive_a_restart(server):
    data = b"durable bytes 44aa\n"
    job = server.upload_one("keep.csv", data)
    done = server.upload_one("done.txt", b"done 44aa")
    server.batch(limit=1)
    server.restart()
    assert server.job(job["id"])["status"] == "completed"
    assert server.job(done["id"])["status"] == "pending"
    r = server.get(f"/api/integration/jobs/{job['id']}/file")
    assert (r.status_code, r.content) == (200, data)
    q = server.queue()
    assert (q["completed"], q["pending"], q["total"]) == (1, 1, 2), q
    assert server.batch()["processed"] == 1


def test_kill_during_a_job_then_lease_expiry_rescues_it(make_server):
    srv = make_server(env={"SLUICE_TEST_PROCESS_DELAY_MS": "4000",
                           "SLUICE_JOB_TIMEOUT_SECONDS": "2"})
    data = b"crash me 9e0f\n"
    job = srv.upload_one("crash.txt", data)
    t, res = srv.batch_in_thread()
    srv.wait_processing(1)
    # The heartbeat keeps the lease while the job runs longer than the timeout.
    time.sleep(0.2)
    srv.kill()
    killed_at = time.monotonic()
    t.join(30)

    srv.start(env={"SLUICE_JOB_TIMEOUT_SECONDS": "2"})
    j = srv.job(job["id"])
    assert j["status"] == "processing", f"right after restart the job keeps its lease: {j}"

    time.sleep(max(0.0, killed_at + 2.5 - time.monotonic()))
    s = srv.batch()
    assert job["id"] in [x["id"] for x in s["jobs"]], f"the expired lease was not rescued: {s}"
    j = srv.job(job["id"])
    assert j["status"] == "completed", j
    assert j["attempts"] == 1, f"the lost attempt must be counted once: {j}"
    assert j["result"] == {"sha256": sha256_hex(data), "size": len(data), "verified": True}, j

    s = srv.batch()
    assert s["processed"] == 0, f"nothing may be finalised twice: {s}"
    q = srv.queue()
    assert (q["completed"], q["processing"], q["total"]) == (1, 0, 1), q


def test_sigterm_during_a_slow_job_exits_zero_and_loses_nothing(make_server):
    srv = make_server(env={"SLUICE_TEST_PROCESS_DELAY_MS": "1500"})
    job = srv.upload_one("slow.txt", b"slow 17c2")
    t, res = srv.batch_in_thread()
    srv.wait_processing(1)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    code = srv.proc.wait(timeout=12 + 5)
    elapsed = time.monotonic() - t0
    assert code == 0, f"exit code {code}\n{srv.log()}"
    assert elapsed <= 12, f"took {elapsed:.1f}s (grace 10 s + 2 s)"
    t.join(30)

    srv.start(env={})
    status = srv.job(job["id"])["status"]
    assert status in ("completed", "pending"), f"after a graceful stop the job is {status}"
    srv.batch()
    j = srv.job(job["id"])
    assert j["status"] == "completed", j


def test_sigterm_past_the_grace_releases_the_job(make_server):
    srv = make_server(env={"SLUICE_TEST_PROCESS_DELAY_MS": "5000",
                           "SLUICE_SHUTDOWN_GRACE_SECONDS": "1"})
    job = srv.upload_one("long.txt", b"long 2b7d")
    t, res = srv.batch_in_thread()
    srv.wait_processing(1)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    code = srv.proc.wait(timeout=10)
    elapsed = time.monotonic() - t0
    assert code == 0, f"exit code {code}\n{srv.log()}"
    assert elapsed <= 3, f"took {elapsed:.1f}s (grace 1 s + 2 s)"
    t.join(30)

    srv.start(env={})
    j = srv.job(job["id"])
    assert j["status"] == "pending", f"a job cut off at shutdown must be released: {j}"
    s = srv.batch()
    assert [x["id"] for x in s["jobs"]] == [job["id"]], s
    assert srv.job(job["id"])["status"] == "completed"


def test_heartbeat_keeps_the_lease_of_a_long_job(make_server):
    # The job (2.5 s) stays within its timeout (2 s) plus the last lease renewal (2 s), so it
    # is live all along; past one lease length, only the heartbeat keeps it.
    srv = make_server(env={"SLUICE_TEST_PROCESS_DELAY_MS": "2500",
                           "SLUICE_JOB_TIMEOUT_SECONDS": "2"})
    job = srv.upload_one("long.txt", b"long a81c")
    t, res = srv.batch_in_thread()
    srv.wait_processing(1)
    time.sleep(2.2)  # past one lease length: only the heartbeat keeps it
    cp = srv.cli("process", "--json", env={"SLUICE_TEST_PROCESS_DELAY_MS": "0"})
    assert cp.returncode == 0, cp.err
    other = json.loads(cp.stdout)
    assert other["processed"] == 0, f"another process took a job under a live lease: {other}"
    t.join(30)
    s = srv.check(res["response"], 200)
    assert [(x["id"], x["status"]) for x in s["jobs"]] == [(job["id"], "completed")], s
    j = srv.job(job["id"])
    assert (j["status"], j["attempts"]) == ("completed", 0), j
