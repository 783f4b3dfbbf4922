"""GET /api/integration/queue and GET /api/integration/stats."""

from datetime import date, timedelta

import pytest

from conftest import QUEUE_FIELDS, STATS_FIELDS, STATUSES, parse_iso, utcnow


def assert_queue_shape(q):
    assert QUEUE_FIELDS <= set(q), f"queue lacks {QUEUE_FIELDS - set(q)}: {q}"
    for k in STATUSES + ("total",):
        assert isinstance(q[k], int) and q[k] >= 0, (k, q)
    assert q["total"] == sum(q[k] for k in STATUSES), q
    assert isinstance(q["isProcessing"], bool), q
    assert isinstance(q["processingJobs"], list), q
    for k in ("oldestPendingAt", "lastRunAt", "nextRunAt"):
        if q[k] is not None:
            parse_iso(q[k])


def test_empty_queue(server):
    q = server.queue()
    assert_queue_shape(q)
    expected = {"pending": 0, "processing": 0, "completed": 0, "failed": 0, "total": 0,
                "isProcessing": False, "oldestPendingAt": None, "nextJob": None,
                "lastRunAt": None, "processingJobs": []}
    assert {k: q[k] for k in expected} == expected


def test_queue_after_uploads(server):
    first = server.upload_one("first.csv", b"1")
    server.upload_one("second.txt", b"2")
    server.upload([("third.json", b"[]"), ("fourth.txt", b"4")])
    q = server.queue()
    assert_queue_shape(q)
    assert (q["pending"], q["total"], q["processing"], q["completed"], q["failed"]) == \
        (4, 4, 0, 0, 0), q
    assert q["nextJob"] == {"id": first["id"], "fileName": "first.csv", "type": "csv",
                            "createdAt": first["createdAt"]}
    assert q["oldestPendingAt"] == first["createdAt"], q


def test_queue_tenant_filter(server):
    server.upload_one("a1.txt", tenant="A")
    server.upload_one("a2.txt", tenant="A")
    b = server.upload_one("b1.txt", tenant="B")
    qa, qb, qc = server.queue(tenant="A"), server.queue(tenant="B"), server.queue(tenant="C")
    assert (qa["pending"], qa["total"]) == (2, 2), qa
    assert (qb["pending"], qb["total"]) == (1, 1), qb
    assert qb["nextJob"]["id"] == b["id"], qb
    assert (qc["total"], qc["nextJob"]) == (0, None), qc
    assert server.queue()["total"] == 3


def test_queue_after_a_batch(make_server):
    srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "1"})
    srv.upload_one("ok.txt")
    srv.upload_one("bad.txt", type="nosuch")
    left = srv.upload_one("left.txt")
    before = utcnow().replace(microsecond=0)
    srv.batch(limit=2)
    q = srv.queue()
    assert_queue_shape(q)
    assert (q["pending"], q["completed"], q["failed"], q["total"]) == (1, 1, 1, 3), q
    assert q["nextJob"]["id"] == left["id"], q
    assert q["lastRunAt"] is not None, q
    assert before <= parse_iso(q["lastRunAt"]) <= utcnow(), (before, q)
    assert q["isProcessing"] is False and q["processingJobs"] == [], q


def test_queue_while_a_slow_batch_runs(make_server):
    srv = make_server(env={"SLUICE_TEST_PROCESS_DELAY_MS": "1500"})
    job = srv.upload_one("slow.csv", b"1")
    srv.upload_one("waiting.txt")
    t, res = srv.batch_in_thread(params={"limit": 1})
    q = srv.wait_processing(1)
    assert_queue_shape(q)
    assert (q["processing"], q["pending"], q["isProcessing"]) == (1, 1, True), q
    assert len(q["processingJobs"]) == 1, q
    pj = q["processingJobs"][0]
    assert {k: pj[k] for k in ("id", "fileName", "type")} == \
        {"id": job["id"], "fileName": "slow.csv", "type": "csv"}, pj
    assert parse_iso(pj["startedAt"]) >= parse_iso(job["createdAt"]), pj
    running = srv.job(job["id"])
    assert running["status"] == "processing" and running["startedAt"], running
    t.join(30)
    assert "response" in res, res
    q = srv.queue()
    assert (q["processing"], q["completed"], q["isProcessing"], q["processingJobs"]) == \
        (0, 1, False, []), q


# ------------------------------------------------------------------ stats

def assert_stats_shape(s, days):
    assert STATS_FIELDS <= set(s), f"stats lacks {STATS_FIELDS - set(s)}: {s}"
    assert s["days"] == days, s
    since = parse_iso(s["since"])
    now = utcnow()
    assert abs((now - since) - timedelta(days=days)) <= timedelta(days=1), (now, s["since"])
    assert set(s["byStatus"]) >= set(STATUSES), s
    assert s["total"] == sum(s["byStatus"][k] for k in STATUSES), s
    for t, row in s["byType"].items():
        assert set(row) >= {"total", *STATUSES}, (t, row)
        assert row["total"] == sum(row[k] for k in STATUSES), (t, row)
    # One entry per UTC date from since's date to today, inclusive, in order.
    first, today = since.date(), utcnow().date()
    dates = [d["date"] for d in s["daily"]]
    expected = [(first + timedelta(days=i)).isoformat()
                for i in range((today - first).days + 1)]
    if dates != expected and today != now.date():  # the date changed during the request
        expected = expected[:-1]
    assert dates == expected, f"daily dates {dates}\nexpected {expected}"
    for d in s["daily"]:
        assert set(d) >= {"date", "created", "completed", "failed"}, d
        date.fromisoformat(d["date"])
    return s


def test_stats_with_no_jobs(server):
    s = assert_stats_shape(server.stats(days=7), 7)
    assert s["total"] == 0 and s["byType"] == {}, s
    assert s["byStatus"] == {"pending": 0, "processing": 0, "completed": 0, "failed": 0}
    assert s["successRate"] is None, s
    assert all((d["created"], d["completed"], d["failed"]) == (0, 0, 0) for d in s["daily"]), s


def test_stats_default_days_is_7(server):
    assert_stats_shape(server.stats(), 7)


@pytest.mark.parametrize("days", [1, 30, 365])
def test_stats_valid_days(server, days):
    s = assert_stats_shape(server.stats(days=days), days)
    assert len(s["daily"]) in (days + 1, days), len(s["daily"])


@pytest.mark.parametrize("days", ["0", "366", "abc", "1.5", "-1", "", "7x"])
def test_stats_invalid_days_is_400(server, days):
    server.check_error(server.get(f"/api/integration/stats?days={days}"), 400)


def test_stats_counts_and_success_rate(make_server):
    srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "1"})
    srv.upload([("a.csv", b"1"), ("b.csv", b"2"), ("c.txt", b"3")])
    srv.upload_one("d.bin", type="nosuch")
    srv.batch()
    srv.upload_one("e.csv", b"5")  # stays pending
    s = assert_stats_shape(srv.stats(days=7), 7)
    assert s["total"] == 5, s
    assert s["byStatus"] == {"pending": 1, "processing": 0, "completed": 3, "failed": 1}, s
    zero = {"total": 0, "pending": 0, "processing": 0, "completed": 0, "failed": 0}
    assert s["byType"] == {
        "csv": {**zero, "total": 3, "completed": 2, "pending": 1},
        "file": {**zero, "total": 1, "completed": 1},
        "nosuch": {**zero, "total": 1, "failed": 1},
    }, s["byType"]
    assert s["successRate"] == pytest.approx(0.75), s
    for k in ("averageProcessingTimeMs", "p50ProcessingTimeMs", "p95ProcessingTimeMs",
              "averageWaitTimeMs"):
        assert isinstance(s[k], (int, float)) and s[k] >= 0, (k, s)
    today = [d for d in s["daily"] if d["date"] == utcnow().date().isoformat()]
    assert len(today) == 1, s["daily"]
    assert (today[0]["created"], today[0]["completed"], today[0]["failed"]) == (5, 3, 1), today
    assert sum(d["created"] for d in s["daily"]) == 5


def test_stats_success_rate_null_while_nothing_finished(server):
    server.upload_one()
    s = server.stats()
    assert (s["total"], s["successRate"]) == (1, None), s


def test_stats_tenant_filter(server):
    server.upload_one("a.csv", b"1", tenant="A")
    server.upload_one("b.csv", b"2", tenant="A")
    server.upload_one("c.txt", b"3", tenant="B")
    sa = server.stats(days=7, tenant="A")
    assert (sa["total"], set(sa["byType"])) == (2, {"csv"}), sa
    sb = server.stats(days=7, tenant="B")
    assert (sb["total"], set(sb["byType"])) == (1, {"file"}), sb
