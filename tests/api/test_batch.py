"""GET/POST /api/cron/process-integration-jobs: batches, FIFO, fair share, retries, auth."""

import pytest

from conftest import SUMMARY_JOB_FIELDS, parse_iso, sha256_hex, utcnow

BATCH = "/api/cron/process-integration-jobs"


def assert_summary_consistent(s):
    assert s["processed"] == len(s["jobs"]), s
    assert s["processed"] == s["succeeded"] + s["failed"] + s["retried"], s
    assert isinstance(s["durationMs"], (int, float)) and s["durationMs"] >= 0, s
    assert isinstance(s["remaining"], int) and s["remaining"] >= 0, s
    for j in s["jobs"]:
        assert SUMMARY_JOB_FIELDS <= set(j), f"summary job lacks {SUMMARY_JOB_FIELDS - set(j)}: {j}"


def test_empty_queue_batch_processes_nothing(server):
    s = server.batch()
    assert_summary_consistent(s)
    assert (s["processed"], s["remaining"], s["jobs"]) == (0, 0, [])


def test_batch_completes_a_file_job_with_a_verified_result(server):
    data = b"id,name\n1,a\n2,b\n"
    job = server.upload_one("data.txt", data)
    s = server.batch()
    assert_summary_consistent(s)
    assert (s["processed"], s["succeeded"], s["failed"], s["retried"], s["remaining"]) == \
        (1, 1, 0, 0, 0), s
    sj = s["jobs"][0]
    assert (sj["id"], sj["status"], sj["error"]) == (job["id"], "completed", None), sj
    assert isinstance(sj["processingMs"], (int, float)) and sj["processingMs"] >= 0, sj

    done = server.job(job["id"])
    assert done["status"] == "completed", done
    assert done["result"] == {"sha256": sha256_hex(data), "size": len(data), "verified": True}
    assert done["error"] is None and done["nextAttemptAt"] is None, done
    created, started, completed = (parse_iso(done[k]) for k in
                                   ("createdAt", "startedAt", "completedAt"))
    assert created <= started <= completed <= utcnow(), done
    assert isinstance(done["processingMs"], (int, float)) and done["processingMs"] >= 0, done


def test_success_does_not_count_a_failed_attempt(server):
    # The contract counts attempts on failure ("Failure: attempts + 1"); a first-time success
    # keeps attempts at 0 (the crash test expects 1 after one lost lease and one success).
    job = server.upload_one("a.txt")
    s = server.batch()
    assert s["jobs"][0]["attempts"] == 0, s
    assert server.job(job["id"])["attempts"] == 0


@pytest.mark.parametrize("name", ["e.bin", "f.txt", "noext"])
def test_file_type_is_verified_by_the_file_processor(server, name):
    data = f"payload of {name}".encode()
    job = server.upload_one(name, data)
    assert job["type"] == "file", job
    server.batch()
    done = server.job(job["id"])
    assert done["status"] == "completed", done
    assert done["result"] == {"sha256": sha256_hex(data), "size": len(data), "verified": True}


@pytest.mark.parametrize("name,data,fmt", [
    ("a.csv", b"id,name\n1,a\n", "csv"),
    ("c.json", b'[{"id": 1, "name": "a"}]', "json"),
    ("d.ndjson", b'{"id": 1, "name": "a"}\n', "ndjson"),
])
def test_builtin_import_types_import_rows(server, name, data, fmt):
    job = server.upload_one(name, data)
    server.batch()
    done = server.job(job["id"])
    assert done["status"] == "completed", done
    r = done["result"]
    assert (r["format"], r["totalRows"], r["successRows"], r["created"]) == (fmt, 1, 1, 1), r


def test_post_works_like_get(server):
    job = server.upload_one()
    s = server.batch(method="POST")
    assert [j["id"] for j in s["jobs"]] == [job["id"]]


def test_fifo_default_batch_size_is_five(server):
    ids = [server.upload_one(f"f{i}.txt")["id"] for i in range(7)]
    s1 = server.batch()
    assert_summary_consistent(s1)
    assert [j["id"] for j in s1["jobs"]] == ids[:5], "the 5 oldest, oldest first"
    assert (s1["processed"], s1["succeeded"], s1["remaining"]) == (5, 5, 2), s1
    s2 = server.batch()
    assert [j["id"] for j in s2["jobs"]] == ids[5:]
    assert (s2["processed"], s2["remaining"]) == (2, 0), s2
    s3 = server.batch()
    assert s3["processed"] == 0, s3
    assert server.queue()["completed"] == 7


def test_batch_size_from_environment(make_server):
    srv = make_server(env={"SLUICE_BATCH_SIZE": "2"})
    ids = [srv.upload_one(f"f{i}.txt")["id"] for i in range(3)]
    s = srv.batch()
    assert [j["id"] for j in s["jobs"]] == ids[:2]
    assert s["remaining"] == 1, s


def test_limit_parameter(server):
    ids = [server.upload_one(f"f{i}.txt")["id"] for i in range(4)]
    s = server.batch(limit=3)
    assert [j["id"] for j in s["jobs"]] == ids[:3]
    assert s["remaining"] == 1, s
    s = server.batch(limit=100)
    assert [j["id"] for j in s["jobs"]] == ids[3:]


def test_limit_above_batch_size_is_allowed(server):
    ids = [server.upload_one(f"f{i}.txt")["id"] for i in range(7)]
    s = server.batch(limit=10)
    assert [j["id"] for j in s["jobs"]] == ids
    assert s["remaining"] == 0


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5", ""])
def test_invalid_limit_is_400(server, limit):
    server.upload_one()
    server.check_error(server.get(f"{BATCH}?limit={limit}"), 400)
    assert server.queue()["pending"] == 1, "a rejected batch must not process anything"


def test_fair_share_round_robin_between_tenants(server):
    a = [server.upload_one(f"a{i}.txt", tenant="A")["id"] for i in range(3)]
    b = [server.upload_one(f"b{i}.txt", tenant="B")["id"] for i in range(3)]
    s = server.batch(limit=4)
    assert [j["id"] for j in s["jobs"]] == [a[0], b[0], a[1], b[1]], \
        f"A={a}\nB={b}\nbatch={[j['id'] for j in s['jobs']]}"
    assert s["remaining"] == 2, s
    s = server.batch()
    assert [j["id"] for j in s["jobs"]] == [a[2], b[2]]


def test_fair_share_orders_tenants_by_their_oldest_job(server):
    b0 = server.upload_one("b0.txt", tenant="B")["id"]
    a = [server.upload_one(f"a{i}.txt", tenant="A")["id"] for i in range(3)]
    b1 = server.upload_one("b1.txt", tenant="B")["id"]
    s = server.batch(limit=3)
    assert [j["id"] for j in s["jobs"]] == [b0, a[0], b1]


def test_unknown_type_fails_and_retries_until_max_attempts(make_server):
    srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "3", "SLUICE_RETRY_BASE_MS": "0"})
    job = srv.upload_one("x.bin", type="nosuch")

    s = srv.batch()
    assert_summary_consistent(s)
    assert (s["processed"], s["succeeded"], s["retried"], s["failed"]) == (1, 0, 1, 0), s
    sj = s["jobs"][0]
    assert (sj["status"], sj["attempts"]) == ("pending", 1), sj
    assert "nosuch" in (sj["error"] or ""), sj
    j = srv.job(job["id"])
    assert (j["status"], j["attempts"]) == ("pending", 1), j
    assert j["nextAttemptAt"] is not None, j
    parse_iso(j["nextAttemptAt"])
    assert "nosuch" in (j["error"] or ""), j

    s = srv.batch()
    assert (s["retried"], s["jobs"][0]["attempts"]) == (1, 2), s

    s = srv.batch()
    assert (s["processed"], s["failed"], s["retried"]) == (1, 1, 0), s
    j = srv.job(job["id"])
    assert (j["status"], j["attempts"]) == ("failed", 3), j
    assert "nosuch" in (j["error"] or ""), j
    assert srv.batch()["processed"] == 0, "a failed job is not taken again"


def test_retry_backoff_makes_the_job_not_due(make_server):
    srv = make_server(env={"SLUICE_RETRY_BASE_MS": "60000"})
    job = srv.upload_one("x.bin", type="nosuch")
    s = srv.batch()
    assert s["retried"] == 1, s
    j = srv.job(job["id"])
    assert (j["status"], j["attempts"]) == ("pending", 1), j
    assert parse_iso(j["nextAttemptAt"]) > utcnow(), j
    s = srv.batch()
    assert s["processed"] == 0, f"a job waiting for its retry must not be taken: {s}"
    assert srv.job(job["id"])["attempts"] == 1


def test_a_failing_job_does_not_stop_the_others(make_server):
    srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "1"})
    ok1 = srv.upload_one("a.txt")["id"]
    bad = srv.upload_one("b.txt", type="nosuch")["id"]
    ok2 = srv.upload_one("c.txt")["id"]
    s = srv.batch()
    assert_summary_consistent(s)
    assert [(j["id"], j["status"]) for j in s["jobs"]] == \
        [(ok1, "completed"), (bad, "failed"), (ok2, "completed")], s
    assert (s["succeeded"], s["failed"], s["retried"]) == (2, 1, 0), s


def test_file_processor_detects_a_corrupted_blob(make_server):
    # Inline storage off, so the file lands in the blob folder where the test can damage it.
    srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "1", "SLUICE_INLINE_MAX_BYTES": "0"})
    data = b"original bytes 31c9\n"
    job = srv.upload_one("a.txt", data)
    blobs = srv.find_blob(data)
    assert len(blobs) == 1, srv.blob_files()
    blobs[0].write_bytes(b"tampered bytes 31c9\n")
    s = srv.batch()
    assert s["failed"] == 1, s
    j = srv.job(job["id"])
    assert j["status"] == "failed" and j["error"], j


def test_second_batch_while_one_runs_is_409(make_server):
    srv = make_server(env={"SLUICE_TEST_PROCESS_DELAY_MS": "1500"})
    job = srv.upload_one()
    t, res = srv.batch_in_thread()
    srv.wait_processing(1)
    srv.check_error(srv.get(BATCH), 409, "batch_running")
    srv.check_error(srv.post(BATCH), 409, "batch_running")
    t.join(30)
    assert "response" in res, f"first batch request failed: {res}"
    s = srv.check(res["response"], 200)
    assert [j["id"] for j in s["jobs"]] == [job["id"]]
    assert s["jobs"][0]["processingMs"] >= 1400, s
    assert s["durationMs"] >= 1400, s
    # Once it has finished, batches run again.
    assert srv.batch()["processed"] == 0


# ------------------------------------------------------------------ authorisation

def assert_secret_required(srv, secret):
    job = srv.upload_one()
    srv.check_error(srv.get(BATCH), 401, "unauthorized")
    srv.check_error(srv.get(BATCH, headers={"Authorization": "Bearer wrong"}), 401,
                    "unauthorized")
    srv.check_error(srv.get(BATCH, headers={"Authorization": f"Bearer {secret}x"}), 401)
    srv.check_error(srv.post(BATCH, headers={"Authorization": secret}), 401)
    assert srv.job(job["id"])["status"] == "pending", "an unauthorised call must not process"
    s = srv.batch(headers={"Authorization": f"Bearer {secret}"})
    assert [j["id"] for j in s["jobs"]] == [job["id"]]


def test_cron_secret_from_environment(make_server):
    srv = make_server(env={"CRON_SECRET": "s3cr3t-env"})
    assert_secret_required(srv, "s3cr3t-env")


def test_cron_secret_from_env_local_file(make_server):
    srv = make_server(files={".env.local": "# local settings\n\nCRON_SECRET=s3cr3t-local\n"})
    assert_secret_required(srv, "s3cr3t-local")


def test_cron_secret_from_dotenv_file(make_server):
    srv = make_server(files={".env": "CRON_SECRET=s3cr3t-dotenv\n"})
    assert_secret_required(srv, "s3cr3t-dotenv")


def test_secret_precedence_process_env_then_env_local_then_dotenv(make_server):
    files = {".env": "CRON_SECRET=from-dotenv\n", ".env.local": "CRON_SECRET=from-local\n"}
    srv = make_server(files=files)
    bearer = lambda s: {"Authorization": f"Bearer {s}"}  # noqa: E731
    srv.check_error(srv.get(BATCH, headers=bearer("from-dotenv")), 401)
    srv.batch(headers=bearer("from-local"))

    srv.restart(env={"CRON_SECRET": "from-process"})
    srv.check_error(srv.get(BATCH, headers=bearer("from-local")), 401)
    srv.check_error(srv.get(BATCH, headers=bearer("from-dotenv")), 401)
    srv.batch(headers=bearer("from-process"))


def test_without_secret_loopback_is_allowed(server):
    assert server.batch()["processed"] == 0


def non_loopback_ipv4():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.123", 9))  # no packet is sent for UDP connect
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def test_without_secret_a_non_loopback_caller_is_401(make_server):
    ip = non_loopback_ipv4()
    if ip is None:
        pytest.skip("no non-loopback IPv4 address on this machine")
    srv = make_server(start=False)
    srv.start(host="0.0.0.0")
    import requests
    r = requests.get(f"http://{ip}:{srv.port}{BATCH}", timeout=30)
    srv.check_error(r, 401, "unauthorized")
    r = requests.get(f"http://{ip}:{srv.port}/api/integration/queue", timeout=30)
    srv.check(r, 200)
