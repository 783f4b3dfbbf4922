"""Imports and command processors, black-box: sluice.json, records, row errors, commands.

Every server here starts in a working directory that already holds a `sluice.json` (and the
small scripts its command types run), written by the local `import_server` factory before
`sluice serve` starts, with SLUICE_MAX_ATTEMPTS=1 so that a failure is final at once.

The `machines` type is the contract's example schema. XLSX files are generated in the test with
openpyxl; nothing is downloaded.
"""

import io
import json
import stat
import subprocess
import time
import uuid
from datetime import date

import pytest

from conftest import BIN, ISO_RE, free_port, parse_iso, sanitizer_report

RECORDS = "/api/integration/records"
JOBS = "/api/integration/jobs"

SUMMARY_KEYS = {"format", "totalRows", "processedRows", "successRows", "errorRows", "created",
                "updated", "columns", "errors"}
RECORD_KEYS = {"key", "data", "jobId", "createdAt", "updatedAt"}
ERROR_KEYS = {"row", "field", "value", "message"}

MACHINES = {"import": {"key": "internalCode",
                       "fields": {"internalCode": {"type": "string"},
                                  "name": {"type": "string", "required": True},
                                  "year": {"type": "integer"},
                                  "kind": {"type": "string",
                                           "enum": ["preventive", "corrective"]},
                                  "properties": {"type": "json"}}}}

# A command that reports what it got: its environment and the bytes on its standard input.
REPORT_SH = """#!/bin/sh
bytes=$(wc -c | tr -d ' ')
printf '{"jobId":"%s","type":"%s","tenant":"%s","fileName":"%s","contentType":"%s","bytes":%s}\\n' \\
  "$SLUICE_JOB_ID" "$SLUICE_JOB_TYPE" "$SLUICE_TENANT" "$SLUICE_FILE_NAME" \\
  "$SLUICE_CONTENT_TYPE" "$bytes"
"""

FAIL_SH = """#!/bin/sh
cat > /dev/null
echo 'some output that is not the point'
echo 'starting the import' >&2
echo 'bad input: row 7 has no order number' >&2
exit 3
"""

CONFIG = {"processors": {
    "machines": MACHINES,
    "plain": {"import": {}},
    "counted": {"command": ["/bin/sh", "-c", "wc -c"]},
    "report": {"command": ["./bin/report.sh"], "timeoutSeconds": 30},
    "failing": {"command": ["/bin/sh", "./bin/fail.sh"]},
    "hanging": {"command": ["/bin/sh", "-c", "cat > /dev/null; sleep 60"], "timeoutSeconds": 1},
}}

MACHINES_CSV = (
    "internalCode,name,year,kind,properties,site\n"
    "M-001,Press,2019,preventive,\"{\"\"power\"\": 5}\",North\n"
    "M-002,Lathe,,corrective,,South\n"
    "M-003,,2020,preventive,,East\n"
    "M-004,Drill,20x0,urgent,,West\n"
    "M-005,Saw, 1999 ,,\"[1,2]\",Dock 7\n"
).encode()

MACHINES_NDJSON = (
    '{"internalCode": "N-001", "name": "Press", "year": 2019, "kind": "preventive",'
    ' "properties": {"power": 5, "tags": ["a"]}}\n'
    '{"internalCode": "N-002", "name": "Lathe", "year": "2020"}\n'
    '{"internalCode": "N-003", "year": 2021}\n'
    '{"internalCode": "N-004", "name": "Drill", "kind": "urgent"}\n'
).encode()


def machines_xlsx():
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Machines"
    ws.append(["internalCode", "name", "year", "kind", "properties", "installed", "active",
               "load"])
    ws.append(["X-001", "Press", 2019, "preventive", '{"power": 5}', date(2026, 11, 30), True,
               12.5])
    ws.append(["X-002", "Lathe", 2020, "corrective", None, None, False, 3])
    ws.append(["X-003", None, 2021, "preventive", None, None, None, None])
    ws.append(["X-004", "Drill", "not a year", "preventive", None, None, None, None])
    other = wb.create_sheet("Other")  # only the first sheet is read
    other.append(["internalCode", "name"])
    other.append(["X-999", "from the second sheet"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ----------------------------------------------------------------------------- fixtures

def write_workdir(srv, config):
    """Writes sluice.json (dict or raw text) and the command scripts into srv's directory."""
    bin_dir = srv.workdir / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("report.sh", REPORT_SH), ("fail.sh", FAIL_SH)):
        p = bin_dir / name
        p.write_text(text)
        p.chmod(p.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    if config is not None:
        srv.write("sluice.json", config if isinstance(config, str) else json.dumps(config))


@pytest.fixture
def import_server(make_server):
    """Factory: import_server(config=CONFIG, env=None, start=True) -> Server with sluice.json."""

    def factory(config=CONFIG, env=None, start=True):
        srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "1", **(env or {})}, start=False)
        write_workdir(srv, config)
        if start:
            srv.start()
        return srv

    return factory


@pytest.fixture
def srv(import_server):
    return import_server()


# ----------------------------------------------------------------------------- helpers

def run_jobs(srv, jobs):
    """Runs one batch big enough for `jobs` and returns each job as it is afterwards."""
    s = srv.batch(limit=max(len(jobs), 1))
    ids = {j["id"] for j in jobs}
    assert ids <= {j["id"] for j in s["jobs"]}, f"the batch did not take every job: {s}"
    return [srv.job(j["id"]) for j in jobs]


def import_one(srv, name, data, type="machines", tenant=None, status="completed"):
    """Uploads one file, runs a batch, checks the job's status and returns the job."""
    job = srv.upload_one(name, data, type=type, tenant=tenant)
    done = run_jobs(srv, [job])[0]
    assert done["status"] == status, f"job {name} is {done['status']}: {done}\n{srv.log_tail()}"
    return done


def check_summary(result, fmt, total, success, errors, created, updated):
    assert isinstance(result, dict), result
    assert set(result) == SUMMARY_KEYS, f"summary keys {sorted(result)}"
    got = (result["format"], result["totalRows"], result["processedRows"], result["successRows"],
           result["errorRows"], result["created"], result["updated"])
    assert got == (fmt, total, total, success, errors, created, updated), result
    assert isinstance(result["columns"], list), result
    assert isinstance(result["errors"], list), result
    for e in result["errors"]:
        assert set(e) == ERROR_KEYS, e


def check_error(e, row, field, value, why):
    assert set(e) == ERROR_KEYS, e
    assert (e["row"], e["field"]) == (row, field), e
    if value is None:
        assert e["value"] in (None, ""), e
    else:
        assert e["value"] == value, e
    assert isinstance(e["message"], str) and why in e["message"], e


def records_page(srv, type, status=200, **params):
    return srv.check(srv.get(f"{RECORDS}/{type}", params=params), status)


def all_records(srv, type, limit=None, **params):
    """Every record of type, page by page; checks the pages' shape on the way."""
    out, cursor = [], None
    for _ in range(1000):
        p = dict(params)
        if limit is not None:
            p["limit"] = limit
        if cursor is not None:
            p["cursor"] = cursor
        body = records_page(srv, type, **p)
        assert set(body) == {"records", "nextCursor"}, body
        if limit is not None:
            assert len(body["records"]) <= limit, body
        for rec in body["records"]:
            check_record_shape(rec)
        out += body["records"]
        cursor = body["nextCursor"]
        if cursor is None:
            return out
        assert isinstance(cursor, str) and cursor, body
        assert body["records"], f"an empty page with a next cursor: {body}"
    pytest.fail("records paging did not end")


def check_record_shape(rec):
    assert set(rec) == RECORD_KEYS, rec
    assert isinstance(rec["key"], str) and rec["key"], rec
    assert isinstance(rec["data"], dict), rec
    assert isinstance(rec["jobId"], str) and rec["jobId"], rec
    assert ISO_RE.match(rec["createdAt"]) and ISO_RE.match(rec["updatedAt"]), rec
    assert parse_iso(rec["createdAt"]) <= parse_iso(rec["updatedAt"]), rec


def get_record(srv, type, key, status=200, **params):
    r = srv.get(f"{RECORDS}/{type}/{key}", params=params)
    if status != 200:
        return srv.check_error(r, status)
    rec = srv.check(r, 200)
    check_record_shape(rec)
    return rec


def all_errors(srv, job_id, limit=None):
    out, cursor = [], None
    for _ in range(1000):
        p = {}
        if limit is not None:
            p["limit"] = limit
        if cursor is not None:
            p["cursor"] = cursor
        body = srv.check(srv.get(f"{JOBS}/{job_id}/errors", params=p), 200)
        assert set(body) == {"errors", "nextCursor"}, body
        if limit is not None:
            assert len(body["errors"]) <= limit, body
        for e in body["errors"]:
            assert set(e) == ERROR_KEYS, e
        out += body["errors"]
        cursor = body["nextCursor"]
        if cursor is None:
            return out
        assert isinstance(cursor, str) and cursor, body
        assert body["errors"], f"an empty page with a next cursor: {body}"
    pytest.fail("errors paging did not end")


# ----------------------------------------------------------------------------- imports

def test_csv_xlsx_and_ndjson_with_the_contract_schema(srv):
    body = srv.upload([("machines.csv", MACHINES_CSV, "text/csv"),
                       ("machines.xlsx", machines_xlsx()),
                       ("machines.ndjson", MACHINES_NDJSON)], type="machines")
    jobs = body["jobs"]
    assert [j["type"] for j in jobs] == ["machines"] * 3, jobs
    csv_job, xlsx_job, nd_job = run_jobs(srv, jobs)

    # --- CSV
    assert csv_job["status"] == "completed", csv_job
    assert csv_job["error"] is None, csv_job
    r = csv_job["result"]
    check_summary(r, "csv", 5, 3, 2, 3, 0)
    assert r["columns"] == ["internalCode", "name", "year", "kind", "properties", "site"], r
    assert len(r["errors"]) == 3, r
    check_error(r["errors"][0], 3, "name", None, "required")
    check_error(r["errors"][1], 4, "year", "20x0", "integer")
    check_error(r["errors"][2], 4, "kind", "urgent", "")

    # --- XLSX: the first sheet only
    assert xlsx_job["status"] == "completed", xlsx_job
    r = xlsx_job["result"]
    check_summary(r, "xlsx", 4, 2, 2, 2, 0)
    assert r["columns"] == ["internalCode", "name", "year", "kind", "properties", "installed",
                            "active", "load"], r
    assert len(r["errors"]) == 2, r
    check_error(r["errors"][0], 3, "name", None, "required")
    check_error(r["errors"][1], 4, "year", "not a year", "integer")

    # --- NDJSON
    assert nd_job["status"] == "completed", nd_job
    r = nd_job["result"]
    check_summary(r, "ndjson", 4, 2, 2, 2, 0)
    assert set(r["columns"]) >= {"internalCode", "name", "year", "kind", "properties"}, r
    check_error(r["errors"][0], 3, "name", None, "required")
    check_error(r["errors"][1], 4, "kind", "urgent", "")

    # --- the records, by key
    recs = all_records(srv, "machines")
    assert [x["key"] for x in recs] == ["M-001", "M-002", "M-005", "N-001", "N-002", "X-001",
                                       "X-002"], recs
    by_key = {x["key"]: x for x in recs}
    assert by_key["M-001"]["data"] == {"internalCode": "M-001", "name": "Press", "year": 2019,
                                       "kind": "preventive", "properties": {"power": 5},
                                       "site": "North"}
    assert by_key["M-002"]["data"] == {"internalCode": "M-002", "name": "Lathe", "year": None,
                                       "kind": "corrective", "properties": None, "site": "South"}
    assert by_key["M-005"]["data"] == {"internalCode": "M-005", "name": "Saw", "year": 1999,
                                       "kind": None, "properties": [1, 2], "site": "Dock 7"}
    assert by_key["N-001"]["data"] == {"internalCode": "N-001", "name": "Press", "year": 2019,
                                       "kind": "preventive",
                                       "properties": {"power": 5, "tags": ["a"]}}
    assert by_key["N-002"]["data"] == {"internalCode": "N-002", "name": "Lathe", "year": 2020}
    x1 = by_key["X-001"]["data"]
    assert {k: x1[k] for k in ("internalCode", "name", "year", "kind", "properties")} == \
        {"internalCode": "X-001", "name": "Press", "year": 2019, "kind": "preventive",
         "properties": {"power": 5}}, x1
    # columns the schema does not name are kept as strings
    assert isinstance(x1["installed"], str) and x1["installed"].startswith("2026-11-30"), x1
    assert x1["active"] == "true" and x1["load"] == "12.5", x1
    x2 = by_key["X-002"]["data"]
    assert (x2["name"], x2["year"], x2["kind"], x2["properties"], x2["active"], x2["load"]) == \
        ("Lathe", 2020, "corrective", None, "false", "3"), x2
    assert x2.get("installed") is None, x2
    assert by_key["M-001"]["jobId"] == csv_job["id"]
    assert by_key["X-001"]["jobId"] == xlsx_job["id"]
    assert by_key["N-001"]["jobId"] == nd_job["id"]

    # --- one record
    one = get_record(srv, "machines", "M-001")
    assert one == by_key["M-001"], one
    assert get_record(srv, "machines", "X-002") == by_key["X-002"]
    for missing in ("M-003", "M-004", "X-003", "X-999", "N-003", "nope"):
        get_record(srv, "machines", missing, status=404)
    get_record(srv, "csv", "M-001", status=404)  # records are per type


def test_json_array_import(srv):
    data = json.dumps([
        {"internalCode": "J-1", "name": "Press", "year": 1990, "properties": {"a": [1, None]}},
        {"internalCode": "J-2", "name": "Lathe", "year": 12.5},
        {"internalCode": "J-3", "name": "Saw", "kind": "corrective", "extra": True},
    ]).encode()
    job = import_one(srv, "machines.json", data)
    r = job["result"]
    check_summary(r, "json", 3, 2, 1, 2, 0)
    check_error(r["errors"][0], 2, "year", "12.5", "integer")
    assert get_record(srv, "machines", "J-1")["data"] == \
        {"internalCode": "J-1", "name": "Press", "year": 1990, "properties": {"a": [1, None]}}
    assert get_record(srv, "machines", "J-3")["data"] == \
        {"internalCode": "J-3", "name": "Saw", "kind": "corrective", "extra": "true"}
    get_record(srv, "machines", "J-2", status=404)


def test_builtin_csv_type_imports_as_is_with_job_row_keys(srv):
    job = srv.upload_one("plain.csv", b"id,qty\n1,42\n2,\n")
    assert job["type"] == "csv", job
    done = run_jobs(srv, [job])[0]
    assert done["status"] == "completed", done
    check_summary(done["result"], "csv", 2, 2, 0, 2, 0)
    recs = all_records(srv, "csv")
    assert [x["key"] for x in recs] == [f"{job['id']}:1", f"{job['id']}:2"], recs
    assert recs[0]["data"] == {"id": "1", "qty": "42"}, recs
    assert recs[1]["data"] == {"id": "2", "qty": None}, recs
    assert get_record(srv, "csv", f"{job['id']}:2") == recs[1]


def test_schema_without_key_uses_job_and_row(srv):
    done = import_one(srv, "p.csv", b"a,b\nx,1\nx,1\n", type="plain")
    check_summary(done["result"], "csv", 2, 2, 0, 2, 0)
    assert [x["key"] for x in all_records(srv, "plain")] == \
        [f"{done['id']}:1", f"{done['id']}:2"]


def test_a_row_without_a_key_value_gets_a_job_row_key(srv):
    done = import_one(srv, "m.csv", b"internalCode,name\nK-1,one\n,two\n")
    check_summary(done["result"], "csv", 2, 2, 0, 2, 0)
    keys = [x["key"] for x in all_records(srv, "machines")]
    assert sorted(keys) == sorted(["K-1", f"{done['id']}:2"]), keys


def test_records_paging_with_limit_and_cursor(srv):
    rows = "".join(f"P-{i:03d},machine {i}\n" for i in range(25, 0, -1))  # written out of order
    import_one(srv, "many.csv", ("internalCode,name\n" + rows).encode())
    first = records_page(srv, "machines", limit=10)
    assert len(first["records"]) == 10 and first["nextCursor"], first
    recs = all_records(srv, "machines", limit=10)
    assert [x["key"] for x in recs] == [f"P-{i:03d}" for i in range(1, 26)], recs
    assert recs[:10] == first["records"]
    assert [x["key"] for x in all_records(srv, "machines", limit=1)] == \
        [x["key"] for x in recs]
    whole = records_page(srv, "machines", limit=25)
    assert len(whole["records"]) == 25 and whole["nextCursor"] is None, whole
    assert len(records_page(srv, "machines")["records"]) == 25  # the default limit is larger


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "201"}, {"limit": "ten"},
                                    {"cursor": "not a cursor"}, {"tenant": "bad tenant!"}])
def test_records_bad_parameters_are_400(srv, params):
    srv.check_error(srv.get(f"{RECORDS}/machines", params=params), 400)


def test_records_of_a_type_without_any(srv):
    body = records_page(srv, "nothing-here")
    assert body == {"records": [], "nextCursor": None}, body
    get_record(srv, "nothing-here", "k", status=404)


def test_a_key_with_spaces_and_non_ascii_is_reachable(srv):
    key = "Bohrer Ø 10"
    import_one(srv, "k.csv", f"internalCode,name\n{key},drill\n".encode())
    assert [x["key"] for x in all_records(srv, "machines")] == [key]
    rec = get_record(srv, "machines", key)  # requests percent-encodes the path
    assert rec["data"] == {"internalCode": key, "name": "drill"}, rec


def test_job_errors_paging(srv):
    bad = 150
    rows = "".join(f"E-{i:03d},machine {i},year {i}\n" for i in range(1, bad + 1))
    done = import_one(srv, "errors.csv", ("internalCode,name,year\n" + rows + "E-ok,fine,2000\n")
                      .encode())
    r = done["result"]
    check_summary(r, "csv", bad + 1, 1, bad, 1, 0)
    assert len(r["errors"]) == 100, len(r["errors"])  # the first 100
    for i, e in enumerate(r["errors"], 1):
        check_error(e, i, "year", f"year {i}", "integer")

    first = srv.check(srv.get(f"{JOBS}/{done['id']}/errors", params={"limit": 40}), 200)
    assert len(first["errors"]) == 40 and first["nextCursor"], first
    errs = all_errors(srv, done["id"], limit=40)
    assert len(errs) == bad, len(errs)
    for i, e in enumerate(errs, 1):
        check_error(e, i, "year", f"year {i}", "integer")
    assert errs[:100] == r["errors"]
    assert errs[:40] == first["errors"]
    assert all_errors(srv, done["id"]) == errs  # default page size
    assert all_errors(srv, done["id"], limit=1)[-1] == errs[-1]


def test_job_errors_of_a_clean_job_and_of_unknown_jobs(srv):
    done = import_one(srv, "ok.csv", b"internalCode,name\nA,1\n")
    body = srv.check(srv.get(f"{JOBS}/{done['id']}/errors"), 200)
    assert body == {"errors": [], "nextCursor": None}, body
    srv.check_error(srv.get(f"{JOBS}/{uuid.uuid4()}/errors"), 404)
    srv.check_error(srv.get(f"{JOBS}/not-a-job/errors"), 404)
    srv.check_error(srv.get(f"{JOBS}/{done['id']}/errors", params={"cursor": "x"}), 400)
    srv.check_error(srv.get(f"{JOBS}/{done['id']}/errors", params={"limit": "0"}), 400)


def test_invalid_utf8_values_are_row_errors_listed_like_the_others(srv):
    data = b"internalCode,name\nU-1,ok\nU-2,caf\xe9\nU-3,fine\n"
    done = import_one(srv, "latin1.csv", data)
    r = done["result"]
    check_summary(r, "csv", 3, 2, 1, 2, 0)
    assert len(r["errors"]) == 1 and r["errors"][0]["row"] == 2, r
    assert r["errors"][0]["field"] == "name", r
    # every row error of the import is on the errors route
    errs = all_errors(srv, done["id"])
    assert len(errs) == r["errorRows"], f"errors route lists {errs}, result has {r['errors']}"
    assert (errs[0]["row"], errs[0]["field"]) == (2, "name"), errs
    get_record(srv, "machines", "U-2", status=404)


def test_importing_the_same_file_again_updates_and_does_not_duplicate(srv):
    first = import_one(srv, "machines.csv", MACHINES_CSV)
    check_summary(first["result"], "csv", 5, 3, 2, 3, 0)
    before = all_records(srv, "machines")
    time.sleep(0.01)

    second = import_one(srv, "machines.csv", MACHINES_CSV)
    assert second["id"] != first["id"]
    check_summary(second["result"], "csv", 5, 3, 2, 0, 3)
    assert second["result"]["errors"] == first["result"]["errors"]
    after = all_records(srv, "machines")
    assert [x["key"] for x in after] == [x["key"] for x in before], after
    for b, a in zip(before, after):
        assert a["data"] == b["data"], (b, a)
        assert a["createdAt"] == b["createdAt"], (b, a)
        assert parse_iso(a["updatedAt"]) >= parse_iso(b["updatedAt"]), (b, a)
        assert (b["jobId"], a["jobId"]) == (first["id"], second["id"]), (b, a)
    # each job keeps its own row errors, once
    assert len(all_errors(srv, first["id"])) == 3
    assert len(all_errors(srv, second["id"])) == 3

    # a file that changes one record and adds another
    third = import_one(srv, "machines.csv",
                       b"internalCode,name,year\nM-001,Press II,2021\nM-100,New,2024\n")
    check_summary(third["result"], "csv", 2, 2, 0, 1, 1)
    assert get_record(srv, "machines", "M-001")["data"] == \
        {"internalCode": "M-001", "name": "Press II", "year": 2021}
    assert len(all_records(srv, "machines")) == 4


def test_tenants_have_separate_records(srv):
    a = import_one(srv, "m.csv", b"internalCode,name\nT-1,acme one\nT-2,acme two\n",
                   tenant="acme")
    g = import_one(srv, "m.csv", b"internalCode,name\nT-1,globex one\n", tenant="globex")
    assert (a["tenant"], g["tenant"]) == ("acme", "globex")
    check_summary(a["result"], "csv", 2, 2, 0, 2, 0)
    check_summary(g["result"], "csv", 1, 1, 0, 1, 0)  # created: another tenant's key

    acme = all_records(srv, "machines", tenant="acme")
    globex = all_records(srv, "machines", tenant="globex")
    assert [(x["key"], x["data"]["name"]) for x in acme] == \
        [("T-1", "acme one"), ("T-2", "acme two")], acme
    assert [(x["key"], x["data"]["name"]) for x in globex] == [("T-1", "globex one")], globex
    assert all_records(srv, "machines") == []  # the default tenant has none
    assert get_record(srv, "machines", "T-1", tenant="globex")["data"]["name"] == "globex one"
    assert get_record(srv, "machines", "T-1", tenant="acme")["data"]["name"] == "acme one"
    get_record(srv, "machines", "T-2", status=404, tenant="globex")
    get_record(srv, "machines", "T-1", status=404)


def test_broken_csv_fails_the_job_naming_the_line(srv):
    job = srv.upload_one("broken.csv", b"internalCode,name\nB-1,one\nB-2,\"never closed\n",
                         type="machines")
    s = srv.batch()
    assert (s["processed"], s["failed"]) == (1, 1), s
    done = srv.job(job["id"])
    assert done["status"] == "failed", done
    assert done["attempts"] == 1, done
    assert isinstance(done["error"], str) and "line 3" in done["error"], done
    assert s["jobs"][0]["error"] == done["error"], s


def test_broken_xlsx_and_json_fail_the_job(srv):
    bad_zip = import_one(srv, "broken.xlsx", b"PK\x03\x04 this is no zip at all",
                         status="failed")
    assert bad_zip["error"], bad_zip
    bad_json = import_one(srv, "broken.json", b'[{"internalCode": "A", "name": "x"}, {"a": ',
                          status="failed")
    assert bad_json["error"], bad_json


# ----------------------------------------------------------------------------- commands

def test_command_processor_result_is_its_json_output(srv):
    data = b"order,qty\n1,2\n3,4\n"
    done = import_one(srv, "orders.csv", data, type="counted")
    assert done["result"] == len(data), done
    assert done["error"] is None, done


def test_command_processor_gets_the_file_and_the_environment(srv):
    data = b"some bytes for the command\n" * 100
    job = srv.upload([("orders 2026.csv", data, "text/csv")], type="report", tenant="acme")
    job = job["jobs"][0]
    done = run_jobs(srv, [job])[0]
    assert done["status"] == "completed", done
    assert done["result"] == {"jobId": job["id"], "type": "report", "tenant": "acme",
                              "fileName": "orders 2026.csv", "contentType": "text/csv",
                              "bytes": len(data)}, done


def test_failing_command_fails_with_the_end_of_its_stderr(srv):
    done = import_one(srv, "orders.csv", b"a\n1\n", type="failing", status="failed")
    assert done["attempts"] == 1, done
    assert done["result"] is None, done
    assert "exit status 3" in done["error"], done
    assert "bad input: row 7 has no order number" in done["error"], done


def test_hanging_command_times_out(srv):
    job = srv.upload_one("orders.csv", b"a\n1\n", type="hanging")
    t0 = time.monotonic()
    s = srv.batch()
    took = time.monotonic() - t0
    done = srv.job(job["id"])
    assert done["status"] == "failed", done
    assert "timed out" in done["error"], done
    assert took < 20, f"the batch took {took:.1f}s with a 1 s command timeout"
    assert s["jobs"][0]["error"] == done["error"], s


def test_unknown_type_fails_naming_it(srv):
    done = import_one(srv, "x.csv", b"a\n1\n", type="nosuchtype", status="failed")
    assert "nosuchtype" in done["error"], done
    assert done["attempts"] == 1, done


# ----------------------------------------------------------------------------- sluice.json

def run_serve(workdir, env, timeout=20):
    port = free_port()
    cp = subprocess.run([BIN, "serve", "--port", str(port), "--no-cron"], cwd=workdir, env=env,
                        stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    err = cp.stderr.decode("utf-8", "replace")
    assert sanitizer_report(err) is None, err
    return cp.returncode, err


@pytest.mark.parametrize("config,place", [
    ({"processors": {"machines": {"import": {"fields": {"year": {"type": "int"}}}}}},
     "processors.machines.import.fields.year.type"),
    ({"processors": {"machines": {"import": {"fields": {"name": {"required": "yes"}}}}}},
     "processors.machines.import.fields.name.required"),
    ({"processors": {"machines": {"import": {"fields": {"kind": {"enum": "a"}}}}}},
     "processors.machines.import.fields.kind.enum"),
    ({"processors": {"orders": {"command": []}}}, "processors.orders.command"),
    ({"processors": {"orders": {"command": ["x"], "timeoutSeconds": 0}}},
     "processors.orders.timeoutSeconds"),
    ({"processors": {"orders": {"command": ["x"], "import": {}}}}, "processors.orders"),
    ({"processors": {"bad type!": {"command": ["x"]}}}, "bad type!"),
    ('{"processors": {\n  "orders": {"command": ["x"]},\n  "x": }\n}', "line 3"),
])
def test_broken_sluice_json_stops_serve_naming_the_place(import_server, config, place):
    srv = import_server(config=config, start=False)
    code, err = run_serve(srv.workdir, srv.full_env())
    assert code == 1, f"exit {code}, stderr: {err}"
    assert "sluice.json" in err and place in err, err
    assert len(err.strip().splitlines()) == 1, f"expected a one-line message: {err}"


def test_broken_sluice_json_stops_process_too(import_server):
    srv = import_server(config={"processors": {"orders": {"command": "x"}}}, start=False)
    cp = srv.cli("process")
    assert cp.returncode == 1, cp.err
    assert "processors.orders.command" in cp.err, cp.err


def test_without_sluice_json_the_builtin_imports_still_work(make_server):
    srv = make_server(env={"SLUICE_MAX_ATTEMPTS": "1"})
    assert not (srv.workdir / "sluice.json").exists()
    done = import_one(srv, "m.ndjson", b'{"a": 1}\n{"a": 2}\n', type=None)
    assert done["type"] == "ndjson"
    check_summary(done["result"], "ndjson", 2, 2, 0, 2, 0)
    failed = import_one(srv, "m.csv", b"a\n1\n", type="machines", status="failed")
    assert "machines" in failed["error"], failed
