"""/api/integration/jobs: list, filters, pagination, one job, retry, cancel, download."""

import uuid

import pytest

from conftest import JOB_FIELDS

JOBS = "/api/integration/jobs"


def ids(listing):
    return [j["id"] for j in listing["jobs"]]


def test_list_is_empty_at_first(server):
    assert server.jobs() == {"jobs": [], "nextCursor": None}


def test_list_newest_first_with_full_jobs(server):
    made = [server.upload_one(f"f{i}.txt")["id"] for i in range(3)]
    listing = server.jobs()
    assert ids(listing) == made[::-1]
    assert listing["nextCursor"] is None
    for j in listing["jobs"]:
        assert JOB_FIELDS <= set(j), f"job lacks {JOB_FIELDS - set(j)}: {j}"


def test_filters_status_type_tenant(server):
    a = server.upload_one("a.csv", b"1")["id"]
    b = server.upload_one("b.json", b"[]")["id"]
    c = server.upload_one("c.txt", b"3")["id"]
    server.batch(limit=2)  # a and b complete
    d = server.upload_one("d.csv", b"4", tenant="t1")["id"]
    assert ids(server.jobs(status="completed")) == [b, a]
    assert ids(server.jobs(status="pending")) == [d, c]
    assert ids(server.jobs(status="failed")) == []
    assert ids(server.jobs(type="csv")) == [d, a]
    assert ids(server.jobs(type="json")) == [b]
    assert ids(server.jobs(tenant="t1")) == [d]
    assert ids(server.jobs(tenant="default")) == [c, b, a]
    assert ids(server.jobs(status="pending", type="csv")) == [d]
    assert ids(server.jobs(type="nosuch")) == []


def test_pagination_with_cursor(server):
    made = [server.upload_one(f"f{i}.txt")["id"] for i in range(5)]
    pages, cursor = [], None
    for _ in range(10):
        params = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        listing = server.jobs(**params)
        pages.append(ids(listing))
        cursor = listing["nextCursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor, listing
    newest_first = made[::-1]
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]


def test_pagination_exact_multiple_ends_with_null_cursor(server):
    made = [server.upload_one(f"f{i}.txt")["id"] for i in range(4)]
    seen, cursor = [], None
    for _ in range(5):
        listing = server.jobs(limit=2, **({"cursor": cursor} if cursor else {}))
        seen += ids(listing)
        cursor = listing["nextCursor"]
        if cursor is None:
            break
    assert seen == made[::-1]


def test_pagination_keeps_filters(server):
    csv = [server.upload_one(f"f{i}.csv", b"x")["id"] for i in range(3)]
    server.upload_one("other.txt")
    first = server.jobs(type="csv", limit=2)
    assert ids(first) == [csv[2], csv[1]]
    second = server.jobs(type="csv", limit=2, cursor=first["nextCursor"])
    assert ids(second) == [csv[0]] and second["nextCursor"] is None


@pytest.mark.parametrize("limit", ["0", "201", "-3", "abc", "2.5"])
def test_invalid_limit_is_400(server, limit):
    server.check_error(server.get(f"{JOBS}?limit={limit}"), 400)


def test_limit_200_is_allowed(server):
    server.upload_one()
    assert len(server.jobs(limit=200)["jobs"]) == 1


@pytest.mark.parametrize("status", ["bogus", "PENDING", "done"])
def test_invalid_status_filter_is_400(server, status):
    server.check_error(server.get(JOBS, params={"status": status}), 400)


def test_get_one_job(server):
    job = server.upload_one("one.csv", b"1")
    got = server.job(job["id"])
    assert got == job


@pytest.mark.parametrize("job_id", [
    str(uuid.UUID("0190f3a0-0000-7000-8000-000000000000")), "not-a-uuid", "12345", "%2E%2E",
    "x" * 300,
])
def test_unknown_or_malformed_job_is_404(server, job_id):
    server.upload_one()
    server.check_error(server.get(f"{JOBS}/{job_id}"), 404, "not_found")


# ------------------------------------------------------------------ retry

def test_retry_a_failed_job(make_server):
    srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "1"})
    job = srv.upload_one("x.bin", type="nosuch")
    srv.batch()
    assert srv.job(job["id"])["status"] == "failed"
    r = srv.post(f"{JOBS}/{job['id']}/retry")
    again = srv.check(r, 202)
    assert (again["id"], again["status"], again["attempts"]) == (job["id"], "pending", 0), again
    assert srv.job(job["id"])["status"] == "pending"
    assert srv.queue()["pending"] == 1
    s = srv.batch()
    assert [j["id"] for j in s["jobs"]] == [job["id"]], "a retried job is processed again"
    assert srv.job(job["id"])["status"] == "failed"


def test_retry_is_409_unless_failed(make_server):
    srv = make_server()
    pending = srv.upload_one("p.txt")
    srv.check_error(srv.post(f"{JOBS}/{pending['id']}/retry"), 409, "conflict")
    srv.batch()
    srv.check_error(srv.post(f"{JOBS}/{pending['id']}/retry"), 409, "conflict")
    assert srv.job(pending["id"])["status"] == "completed"


def test_retry_unknown_job_is_404(server):
    server.check_error(server.post(f"{JOBS}/{uuid.uuid4()}/retry"), 404, "not_found")


# ------------------------------------------------------------------ cancel

def test_delete_a_pending_job_removes_record_and_blob(make_server):
    server = make_server(env={"SLUICE_INLINE_MAX_BYTES": "0"})  # files in the blob folder
    data = b"to be cancelled 6b1e\n"
    job = server.upload_one("gone.txt", data)
    keep = server.upload_one("keep.txt", b"keep me 6b1e\n")
    blobs = server.find_blob(data)
    assert len(blobs) == 1, server.blob_files()
    r = server.delete(f"{JOBS}/{job['id']}")
    assert r.status_code == 204 and r.content == b"", (r.status_code, r.content)
    server.check_error(server.get(f"{JOBS}/{job['id']}"), 404, "not_found")
    server.check_error(server.get(f"{JOBS}/{job['id']}/file"), 404)
    assert not blobs[0].exists(), f"blob still on disk: {blobs[0]}"
    assert server.find_blob(data) == []
    assert ids(server.jobs()) == [keep["id"]]
    assert server.queue()["pending"] == 1
    server.check_error(server.delete(f"{JOBS}/{job['id']}"), 404)
    assert server.batch()["processed"] == 1


def test_delete_is_409_unless_pending(make_server):
    srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "1"})
    done = srv.upload_one("done.txt")
    failed = srv.upload_one("failed.txt", type="nosuch")
    srv.batch()
    for j in (done, failed):
        srv.check_error(srv.delete(f"{JOBS}/{j['id']}"), 409, "conflict")
        assert srv.job(j["id"])["id"] == j["id"]
    r = srv.get(f"{JOBS}/{done['id']}/file")
    assert r.status_code == 200, "the blob of a refused cancel must stay"


def test_delete_a_processing_job_is_409(make_server):
    srv = make_server(env={"SLUICE_TEST_PROCESS_DELAY_MS": "1500"})
    job = srv.upload_one()
    t, res = srv.batch_in_thread()
    srv.wait_processing(1)
    srv.check_error(srv.delete(f"{JOBS}/{job['id']}"), 409, "conflict")
    t.join(30)
    assert srv.job(job["id"])["status"] == "completed"


def test_delete_unknown_job_is_404(server):
    server.check_error(server.delete(f"{JOBS}/{uuid.uuid4()}"), 404, "not_found")


# ------------------------------------------------------------------ download

def test_download_returns_the_exact_bytes(server):
    data = bytes(range(256)) * 4
    job = server.upload([("report.csv", data, "text/csv")])["jobs"][0]
    r = server.get(f"{JOBS}/{job['id']}/file")
    assert r.status_code == 200, r.text
    assert r.content == data
    assert r.headers.get("Content-Type", "").split(";")[0].strip() == "text/csv", r.headers
    assert "report.csv" in r.headers.get("Content-Disposition", ""), r.headers


def test_download_default_content_type(server):
    job = server.upload_one("blob.bin", b"\x00\xff")
    r = server.get(f"{JOBS}/{job['id']}/file")
    assert r.status_code == 200 and r.content == b"\x00\xff"
    assert r.headers.get("Content-Type") == "application/octet-stream", r.headers


def test_download_empty_file(server):
    job = server.upload_one("empty.txt", b"")
    r = server.get(f"{JOBS}/{job['id']}/file")
    assert (r.status_code, r.content) == (200, b"")


def test_download_still_works_after_processing(server):
    job = server.upload_one("a.txt", b"kept after processing")
    server.batch()
    r = server.get(f"{JOBS}/{job['id']}/file")
    assert (r.status_code, r.content) == (200, b"kept after processing")


def test_download_unknown_job_is_404(server):
    server.check_error(server.get(f"{JOBS}/{uuid.uuid4()}/file"), 404, "not_found")
