"""The sluice CLI, run with the server's working directory and environment."""

import json
import re

import pytest

from conftest import QUEUE_FIELDS, STATS_FIELDS, SUMMARY_FIELDS, describe_cli, sha256_hex


def run_ok(srv, *args, **kw):
    cp = srv.cli(*args, **kw)
    assert cp.returncode == 0, describe_cli(cp)
    return cp


def run_json(srv, *args):
    cp = run_ok(srv, *args)
    try:
        return json.loads(cp.out)
    except ValueError:
        pytest.fail(f"stdout is not JSON\n{describe_cli(cp)}")


def assert_usage_error(cp, codes=(2,)):
    assert cp.returncode in codes, describe_cli(cp)
    lines = [ln for ln in cp.err.splitlines() if ln.strip()]
    assert lines, f"expected a message on stderr\n{describe_cli(cp)}"


def test_process_json_runs_one_batch_on_the_store(server):
    data = b"cli batch 0c4d\n"
    job = server.upload_one("cli.txt", data)
    other = server.upload_one("other.txt")
    s = run_json(server, "process", "--json")
    assert SUMMARY_FIELDS <= set(s), s
    assert (s["processed"], s["succeeded"], s["failed"], s["remaining"]) == (2, 2, 0, 0), s
    assert [j["id"] for j in s["jobs"]] == [job["id"], other["id"]]
    j = server.job(job["id"])
    assert j["status"] == "completed", j
    assert j["result"] == {"sha256": sha256_hex(data), "size": len(data), "verified": True}
    assert server.batch()["processed"] == 0


def test_process_limit(server):
    ids = [server.upload_one(f"f{i}.txt")["id"] for i in range(3)]
    s = run_json(server, "process", "--limit", "1", "--json")
    assert [j["id"] for j in s["jobs"]] == ids[:1]
    assert s["remaining"] == 2, s


def test_process_without_a_server(make_server):
    srv = make_server()
    job = srv.upload_one()
    assert srv.stop() == 0
    s = run_json(srv, "process", "--json")
    assert [j["id"] for j in s["jobs"]] == [job["id"]]
    srv.start()
    assert srv.job(job["id"])["status"] == "completed"


def test_status_json_matches_the_queue_route(server):
    server.upload_one("a.txt", tenant="A")
    server.upload_one("b.txt", tenant="B")
    server.batch(limit=1)
    q = run_json(server, "status", "--json")
    assert QUEUE_FIELDS <= set(q), q
    route = server.queue()
    keys = ("pending", "processing", "completed", "failed", "total", "oldestPendingAt",
            "nextJob")
    assert {k: q[k] for k in keys} == {k: route[k] for k in keys}


def test_stats_json_matches_the_stats_route(server):
    server.upload([("a.csv", b"1"), ("b.txt", b"2")])
    server.batch(limit=1)
    s = run_json(server, "stats", "--days", "7", "--json")
    assert STATS_FIELDS <= set(s), s
    route = server.stats(days=7)
    keys = ("days", "total", "byStatus", "byType", "successRate")
    assert {k: s[k] for k in keys} == {k: route[k] for k in keys}
    assert [d["date"] for d in s["daily"]] == [d["date"] for d in route["daily"]]


def test_status_and_stats_print_tables(server):
    server.upload_one()
    cp = run_ok(server, "status")
    assert cp.out.strip(), describe_cli(cp)
    assert "pending" in cp.out.lower(), describe_cli(cp)
    cp = run_ok(server, "stats", "--days", "7")
    assert cp.out.strip(), describe_cli(cp)


def test_upload_to_a_running_server(server):
    f1 = server.write("one.txt", "first file\n")
    f2 = server.write("two.txt", "second file\n")
    cp = run_ok(server, "upload", "--server", server.url(""), "--type", "csv", str(f1), str(f2))
    lines = [ln.strip() for ln in cp.out.splitlines() if ln.strip()]
    assert len(lines) == 2, describe_cli(cp)
    for line, name, content in zip(lines, ("one.txt", "two.txt"),
                                   (b"first file\n", b"second file\n")):
        j = server.job(line)
        assert (j["type"], j["fileName"], j["sha256"]) == ("csv", name, sha256_hex(content)), j


def test_migrate(make_server):
    srv = make_server(start=False)
    run_ok(srv, "migrate")
    run_ok(srv, "migrate")  # idempotent
    srv.start()
    assert srv.queue()["total"] == 0


def test_version(make_server):
    srv = make_server(start=False)
    cp = run_ok(srv, "version")
    assert re.search(r"\d+\.\d+", cp.out), describe_cli(cp)


@pytest.mark.parametrize("args", [["--help"], ["process", "--help"], ["serve", "--help"]])
def test_help(make_server, args):
    srv = make_server(start=False)
    cp = run_ok(srv, *args, timeout=10)
    assert cp.out.strip(), describe_cli(cp)


@pytest.mark.parametrize("args", [
    ["frobnicate"], ["process", "--bogus"], ["status", "--nope"], ["serve", "--bogus"],
    ["process", "--limit"],
])
def test_bad_usage_exits_2(make_server, args):
    srv = make_server(start=False)
    cp = srv.cli(*args, timeout=10)
    assert_usage_error(cp)


def test_stats_days_0_is_refused(make_server):
    srv = make_server(start=False)
    cp = srv.cli("stats", "--days", "0", "--json", timeout=10)
    assert_usage_error(cp, codes=(1, 2))
    assert cp.out.strip() == "", describe_cli(cp)


def test_cli_process_never_takes_the_job_the_server_holds(make_server):
    srv = make_server(env={"SLUICE_TEST_PROCESS_DELAY_MS": "1500"})
    a = srv.upload_one("a.txt")
    b = srv.upload_one("b.txt")
    t, res = srv.batch_in_thread(params={"limit": 1})
    srv.wait_processing(1)
    s_cli = run_json(srv, "process", "--json")
    t.join(30)
    s_srv = srv.check(res["response"], 200)
    assert [j["id"] for j in s_srv["jobs"]] == [a["id"]], s_srv
    assert [j["id"] for j in s_cli["jobs"]] == [b["id"]], s_cli
    for j in (a, b):
        got = srv.job(j["id"])
        assert (got["status"], got["attempts"]) == ("completed", 0), got
