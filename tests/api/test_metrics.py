"""GET /metrics: the Prometheus text exposition (format 0.0.4).

Gauges of the queue come from the store (the same on every node sharing it); counters and
histograms count what this process did. Each test reads the exposition with a small parser that
also checks the format's rules (HELP/TYPE before samples, cumulative histogram buckets).
"""

import re

import conftest

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(srv, headers=None):
    """Returns {(name, frozenset(labels)): value} and {name: type}, checking the format."""
    r = srv.get("/metrics", headers=headers or {})
    assert r.status_code == 200, f"{r.status_code} {r.text[:300]}\n{srv.log_tail()}"
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    samples, types, helped = {}, {}, set()
    for line in r.text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("counter", "gauge", "histogram"), line
            assert name in helped, f"TYPE before HELP: {line}"
            types[name] = kind
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels = m.group(1), frozenset(LABEL_RE.findall(m.group(3) or ""))
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"sample {name} before its TYPE"
        key = (name, labels)
        assert key not in samples, f"duplicate sample {line}"
        samples[key] = float(m.group(4))
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def histogram(samples, name):
    """[(le, cumulative count)], sum, count of histogram `name`, with its rules checked."""
    buckets = sorted(
        (float("inf") if dict(l)["le"] == "+Inf" else float(dict(l)["le"]), v)
        for (n, l), v in samples.items() if n == name + "_bucket"
    )
    assert buckets and buckets[-1][0] == float("inf"), buckets
    counts = [c for _, c in buckets]
    assert counts == sorted(counts), f"{name} buckets are not cumulative: {buckets}"
    count = value(samples, name + "_count")
    assert count == buckets[-1][1], f"{name}_count {count} != +Inf bucket {buckets[-1]}"
    return buckets, value(samples, name + "_sum"), count


def test_fresh_server_exposes_every_family(server):
    samples, types = scrape(server)
    assert types["sluice_jobs"] == "gauge"
    for name in ("sluice_uploads_total", "sluice_upload_files_total", "sluice_upload_bytes_total",
                 "sluice_batch_runs_total", "sluice_jobs_processed_total",
                 "sluice_job_retries_total", "sluice_leases_rescued_total",
                 "sluice_cron_slots_fired_total", "sluice_cron_slots_skipped_total"):
        assert types.get(name) == "counter", (name, types)
    assert types["sluice_job_processing_seconds"] == "histogram"
    assert types["sluice_job_queue_wait_seconds"] == "histogram"
    assert value(samples, "sluice_uploads_total") == 0
    assert value(samples, "sluice_batch_runs_total") == 0
    assert histogram(samples, "sluice_job_processing_seconds")[2] == 0
    assert not [k for k in samples if k[0] == "sluice_jobs"], "no job, no job gauge"


def test_uploads_batches_and_outcomes_are_counted(make_server):
    srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "2"})
    a, b, c = b"x" * 1000, b"y" * 2345, b"z" * 7
    srv.upload([("a.txt", a), ("b.txt", b)])
    srv.upload([("c.txt", c)], type="no-such-processor")
    srv.check_error(srv.upload_raw([conftest.text_part("type", "csv")]), 400)  # no file

    samples, _ = scrape(srv)
    assert value(samples, "sluice_uploads_total") == 2
    assert value(samples, "sluice_upload_files_total") == 3
    assert value(samples, "sluice_upload_bytes_total") == len(a) + len(b) + len(c)
    assert value(samples, "sluice_jobs", type="file", status="pending") == 2
    assert value(samples, "sluice_jobs", type="no-such-processor", status="pending") == 1

    body = srv.batch(limit=10)
    assert body["processed"] == 3 and body["retried"] == 1, body
    samples, _ = scrape(srv)
    assert value(samples, "sluice_batch_runs_total") == 1
    assert value(samples, "sluice_jobs_processed_total", outcome="completed") == 2
    assert value(samples, "sluice_jobs_processed_total", outcome="retried") == 1
    assert value(samples, "sluice_job_retries_total") == 1
    assert value(samples, "sluice_jobs", type="file", status="completed") == 2
    assert value(samples, "sluice_jobs", type="file", status="pending") == 0
    assert value(samples, "sluice_jobs", type="no-such-processor", status="pending") == 1
    _, _, processed = histogram(samples, "sluice_job_processing_seconds")
    _, wait_sum, waited = histogram(samples, "sluice_job_queue_wait_seconds")
    assert processed == 3 and waited == 3
    assert wait_sum >= 0


def test_metrics_need_the_api_token_when_one_is_set(make_server):
    token = "metrics-token-7f3a9c"
    srv = make_server(env={"SLUICE_API_TOKEN": token})
    srv.check_error(srv.get("/metrics"), 401)
    samples, _ = scrape(srv, headers={"Authorization": f"Bearer {token}"})
    assert value(samples, "sluice_uploads_total") == 0


def test_job_gauges_are_the_stores_on_every_node(make_server, tmp_path):
    """Two servers on one store (one SQLite file, or one PostgreSQL schema and bucket prefix)."""
    shared = tmp_path / "shared-data"
    a = make_server(env={"SLUICE_DATA_DIR": str(shared)})
    b = make_server(env={"SLUICE_DATA_DIR": str(shared)}, start=False)
    b.database_url, b.blob_url = a.database_url, a.blob_url
    b.start()
    a.upload([("one.txt", b"1"), ("two.txt", b"22")])
    sa, _ = scrape(a)
    sb, _ = scrape(b)
    assert value(sb, "sluice_jobs", type="file", status="pending") == 2
    assert value(sa, "sluice_jobs", type="file", status="pending") == 2
    # the event counters are each process's own
    assert value(sa, "sluice_uploads_total") == 1
    assert value(sb, "sluice_uploads_total") == 0
