"""POST /api/integration/upload: jobs created, names sanitised, limits, malformed requests."""

import os

import pytest

from conftest import (
    JOB_FIELDS, file_part, multipart, parse_iso, sha256_hex, text_part, utcnow, wait_for,
)


def test_single_file_creates_one_pending_job(server):
    data = b"a,b\n1,2\n"
    before = utcnow().replace(microsecond=0)
    body = server.upload([("data.csv", data, "text/csv")])
    assert set(body) >= {"uploadId", "jobIds", "jobs"}, body
    assert isinstance(body["uploadId"], str) and body["uploadId"], body
    assert len(body["jobs"]) == 1 and len(body["jobIds"]) == 1, body
    job = body["jobs"][0]
    assert JOB_FIELDS <= set(job), f"job lacks {JOB_FIELDS - set(job)}: {job}"
    assert body["jobIds"] == [job["id"]]
    expected = {
        "uploadId": body["uploadId"], "tenant": "default", "type": "csv", "status": "pending",
        "fileName": "data.csv", "contentType": "text/csv", "size": len(data),
        "sha256": sha256_hex(data), "attempts": 0, "maxAttempts": 3, "startedAt": None,
        "completedAt": None, "nextAttemptAt": None, "error": None, "result": None,
    }
    assert {k: job[k] for k in expected} == expected
    created = parse_iso(job["createdAt"])
    assert before <= created <= utcnow(), (before, job["createdAt"])
    # The stored job is the one the upload answered with.
    stored = server.job(job["id"])
    assert {k: stored[k] for k in expected} == expected
    assert stored["createdAt"] == job["createdAt"]


def test_blob_is_stored_under_data_blobs(make_server):
    server = make_server(env={"SLUICE_INLINE_MAX_BYTES": "0"})
    data = b"unique blob bytes 8c1f0b5e\n"
    server.upload([("x.txt", data)])
    found = server.find_blob(data)
    assert len(found) == 1, f"blob files: {server.blob_files()}"


def test_small_files_are_stored_inline_and_large_ones_as_blobs(make_server):
    server = make_server(env={"SLUICE_INLINE_MAX_BYTES": "1024"})
    small, large = b"small inline 41d7\n", os.urandom(4096)
    jobs = server.upload([("s.txt", small), ("l.bin", large)])["jobs"]
    assert server.find_blob(small) == [], "a small file needs no blob file"
    assert len(server.find_blob(large)) == 1, server.blob_files()
    assert server.tmp_files() == []
    for job, data in zip(jobs, (small, large)):
        r = server.get(f"/api/integration/jobs/{job['id']}/file")
        assert (r.status_code, r.content) == (200, data)
    s = server.batch()
    assert [j["status"] for j in s["jobs"]] == ["completed", "completed"], s
    assert server.job(jobs[0]["id"])["result"]["verified"] is True
    assert server.delete(f"/api/integration/jobs/{jobs[1]['id']}").status_code == 409


def test_several_files_in_one_request_share_the_upload_id(server):
    files = [("a.csv", b"x\n1\n"), ("b.json", b"[]"), ("c.txt", b"hello")]
    body = server.upload(files)
    jobs = body["jobs"]
    assert [j["fileName"] for j in jobs] == ["a.csv", "b.json", "c.txt"]
    assert [j["type"] for j in jobs] == ["csv", "json", "file"]
    assert body["jobIds"] == [j["id"] for j in jobs]
    assert len(set(body["jobIds"])) == 3
    assert {j["uploadId"] for j in jobs} == {body["uploadId"]}
    assert [j["size"] for j in jobs] == [len(f[1]) for f in files]
    assert [j["sha256"] for j in jobs] == [sha256_hex(f[1]) for f in files]
    other = server.upload([("d.txt", b"d")])
    assert other["uploadId"] != body["uploadId"]


def test_any_field_name_is_a_file_part(server):
    parts = [
        file_part("a.txt", b"1", name="files"),
        file_part("b.txt", b"2", name="file"),
        file_part("c.txt", b"3", name="attachment[]"),
    ]
    body = server.check(server.upload_raw(parts), 202)
    assert [j["fileName"] for j in body["jobs"]] == ["a.txt", "b.txt", "c.txt"]


@pytest.mark.parametrize("name,expected", [
    ("a.csv", "csv"), ("b.tsv", "csv"), ("c.xlsx", "sheet"), ("d.xls", "sheet"),
    ("e.json", "json"), ("f.ndjson", "ndjson"), ("g.jsonl", "ndjson"), ("h.txt", "file"),
    ("noextension", "file"), ("archive.tar.gz", "file"),
])
def test_type_derived_from_file_name(server, name, expected):
    job = server.upload_one(name, b"content")
    assert (job["fileName"], job["type"]) == (name, expected)


def test_type_field_applies_to_every_file(server):
    body = server.upload([("a.csv", b"1"), ("b.txt", b"2")], type="orders")
    assert [j["type"] for j in body["jobs"]] == ["orders", "orders"]


def test_type_and_tenant_fields_after_the_files_still_apply(server):
    parts = [file_part("a.csv", b"1"), file_part("b.txt", b"2"),
             text_part("type", "machines"), text_part("tenant", "acme")]
    body = server.check(server.upload_raw(parts), 202)
    assert [(j["type"], j["tenant"]) for j in body["jobs"]] == [("machines", "acme")] * 2


def test_tenant_field(server):
    job = server.upload_one("a.csv", b"1", tenant="acme-1.x_y")
    assert job["tenant"] == "acme-1.x_y"
    assert server.job(job["id"])["tenant"] == "acme-1.x_y"


@pytest.mark.parametrize("field,value", [
    ("type", ""), ("type", "has space"), ("type", "a/b"), ("type", "x" * 65), ("type", "é"),
    ("tenant", ""), ("tenant", "ten ant"), ("tenant", "../up"), ("tenant", "x" * 129),
    ("tenant", "a;b"),
])
def test_invalid_type_or_tenant_is_400_and_stores_nothing(server, field, value):
    parts = [text_part(field, value), file_part("a.csv", b"x\n1\n")]
    server.check_error(server.upload_raw(parts), 400, "invalid_request")
    assert server.jobs()["jobs"] == []
    assert server.blob_files() == []


def test_type_and_tenant_at_their_maximum_length_are_accepted(server):
    job = server.upload_one("a.csv", b"1", type="t" * 64, tenant="n" * 128)
    assert (job["type"], job["tenant"]) == ("t" * 64, "n" * 128)


def test_max_attempts_comes_from_the_environment(make_server):
    srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "5"})
    assert srv.upload_one()["maxAttempts"] == 5


def test_content_type_is_kept_and_defaults_to_octet_stream(server):
    body = server.upload([("a.csv", b"1", "text/csv"), ("b.bin", b"\x00\x01"),
                          ("c.json", b"{}", "application/json")])
    assert [j["contentType"] for j in body["jobs"]] == [
        "text/csv", "application/octet-stream", "application/json"]


@pytest.mark.parametrize("sent,expected", [
    ("../../etc/passwd", "passwd"),
    ("a\\b.csv", "b.csv"),
    ("C:\\Users\\me\\report.xlsx", "report.xlsx"),
    ("/abs/path/to/x.json", "x.json"),
    ("re\x01po\x1frt\x7f.csv", "report.csv"),
    ("../", "file"),
    ("\x01\x02", "file"),
    ("naïve résumé.txt", "naïve résumé.txt"),
])
def test_file_names_are_sanitised(server, sent, expected):
    job = server.upload_one(sent, b"data")
    assert job["fileName"] == expected, f"sent {sent!r}"
    assert server.job(job["id"])["fileName"] == expected


def test_sanitised_name_decides_the_type(server):
    job = server.upload_one("../dir/evil.csv", b"1")
    assert (job["fileName"], job["type"]) == ("evil.csv", "csv")


def test_path_traversal_does_not_write_outside_the_data_dir(make_server):
    server = make_server(env={"SLUICE_INLINE_MAX_BYTES": "0"})
    data = b"escaped? 5d2a\n"
    server.upload_one("../../../escape-5d2a.txt", data)
    wd = server.workdir
    for d in (wd, wd.parent, wd.parent.parent, server.data_dir):
        assert not (d / "escape-5d2a.txt").exists(), d
    assert len(server.find_blob(data)) == 1


def test_empty_file_is_accepted(server):
    job = server.upload_one("empty.csv", b"")
    assert (job["size"], job["sha256"]) == (0, sha256_hex(b""))


def test_binary_content_round_trips(server):
    data = bytes(range(256)) * 1200 + b"\r\n--\r\n--sluiceTestBoundary\r\n"  # ~300 KB
    job = server.upload_one("bin.dat", data)
    assert (job["size"], job["sha256"]) == (len(data), sha256_hex(data))
    r = server.get(f"/api/integration/jobs/{job['id']}/file")
    assert r.status_code == 200 and r.content == data


def test_content_resembling_the_boundary_is_kept(server):
    boundary = "XyZboundary42"
    data = (b"line1\r\n--XyZboundary4\r\n--XyZboundary42X not the end\r\n"
            b"--XyZboundary42-\r\ntail")
    body, ctype = multipart([file_part("tricky.txt", data)], boundary=boundary)
    r = server.post("/api/integration/upload", data=body, headers={"Content-Type": ctype})
    job = server.check(r, 202)["jobs"][0]
    assert (job["size"], job["sha256"]) == (len(data), sha256_hex(data))


def assert_nothing_stored(srv):
    assert srv.jobs()["jobs"] == [], "no job may be left behind"
    assert srv.blob_files() == [], "no blob may be left behind"
    # Temporary files may be removed just after the answer is sent; they must not stay.
    wait_for(lambda: srv.tmp_files() == [], timeout=2, interval=0.01,
             what=lambda: f"no temporary file left behind: {srv.tmp_files()}")
    q = srv.queue()
    assert q["total"] == 0, q


def test_file_over_the_size_limit_is_413_and_leaves_nothing(make_server):
    srv = make_server(env={"SLUICE_MAX_UPLOAD_BYTES": "1024"})
    r = srv.upload_raw([file_part("big.bin", os.urandom(4096))])
    srv.check_error(r, 413, "payload_too_large")
    assert_nothing_stored(srv)


def test_file_exactly_at_the_size_limit_is_accepted(make_server):
    srv = make_server(env={"SLUICE_MAX_UPLOAD_BYTES": "1024"})
    job = srv.upload_one("edge.bin", b"e" * 1024)
    assert job["size"] == 1024


def test_second_file_too_large_rejects_the_whole_request(make_server):
    srv = make_server(env={"SLUICE_MAX_UPLOAD_BYTES": "1024"})
    small, big = b"small file 7f3e", os.urandom(5000)
    r = srv.upload_raw([file_part("small.txt", small), file_part("big.bin", big)])
    srv.check_error(r, 413, "payload_too_large")
    assert_nothing_stored(srv)
    # The server still works afterwards.
    assert srv.upload_one("ok.txt", small)["status"] == "pending"


def test_too_many_files_is_413_and_leaves_nothing(make_server):
    srv = make_server(env={"SLUICE_MAX_FILES": "2"})
    parts = [file_part(f"f{i}.txt", f"file {i}".encode()) for i in range(3)]
    srv.check_error(srv.upload_raw(parts), 413)
    assert_nothing_stored(srv)
    body = srv.check(srv.upload_raw(parts[:2]), 202)
    assert len(body["jobs"]) == 2


@pytest.mark.parametrize("ctype,body", [
    ("application/json", b'{"files": ["a.csv"]}'),
    ("text/plain", b"just text"),
    ("application/x-www-form-urlencoded", b"type=csv&tenant=a"),
])
def test_non_multipart_body_is_415(server, ctype, body):
    r = server.post("/api/integration/upload", data=body, headers={"Content-Type": ctype})
    server.check_error(r, 415, "unsupported_media_type")
    assert server.jobs()["jobs"] == []


def test_only_text_fields_is_400_no_file(server):
    r = server.upload_raw([text_part("type", "csv"), text_part("tenant", "acme")])
    server.check_error(r, 400, "no_file")
    assert_nothing_stored(server)


def test_multipart_without_boundary_is_400(server):
    body, _ = multipart([file_part("a.txt", b"x")], boundary="b0und")
    r = server.post("/api/integration/upload", data=body,
                    headers={"Content-Type": "multipart/form-data"})
    server.check_error(r, 400)
    assert_nothing_stored(server)


def test_truncated_multipart_body_is_400_and_leaves_nothing(server):
    body, ctype = multipart([file_part("a.txt", b"first"), file_part("b.txt", b"second" * 100)])
    cut = body[: len(body) - 300]  # ends inside the second file, no closing delimiter
    r = server.post("/api/integration/upload", data=cut, headers={"Content-Type": ctype})
    server.check_error(r, 400)
    assert_nothing_stored(server)


def test_default_max_files_is_100(server):
    parts = [file_part(f"f{i}.txt", b"x") for i in range(101)]
    server.check_error(server.upload_raw(parts), 413)
    assert_nothing_stored(server)
    body = server.check(server.upload_raw(parts[:100]), 202)
    assert len(body["jobIds"]) == 100 and len(set(body["jobIds"])) == 100
