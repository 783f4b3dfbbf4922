"""XLS files are parsed in a child process (`sluice xls-rows`), black-box.

The server runs each .xls job's parser as a child of its own binary: a file that breaks libfreexl
(the inputs of tests/fuzz/library-bugs/) fails its job with a clear message, and the server, its
log and the other jobs are untouched. Workbooks are written in the test with Python's xlwt.

Under ASan (the `make asan` run of this suite) the over-read input makes the child abort with
AddressSanitizer's exit status 1: that is the job's failure, and the report itself must not reach
the server's log, which the conftest's teardown scans for sanitizer reports.
"""

import datetime
import io
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, child_env

REPO = Path(__file__).resolve().parents[2]
BUGS = REPO / "tests" / "fuzz" / "library-bugs"

xlwt = pytest.importorskip("xlwt", reason="python3-xlwt writes the XLS fixtures")


def types_xls():
    """The workbook of tests/unit/test_reader_sheet.c's XLS test, with a boolean column."""
    wb = xlwt.Workbook()
    ws = wb.add_sheet("First")
    wb.add_sheet("Second").write(0, 0, "no")
    for c, v in enumerate(["name", "qty", "price", "day", "at", "time", None, "name", "ok"]):
        if v is not None:
            ws.write(0, c, v)
    d = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    dt = xlwt.easyxf(num_format_str="YYYY-MM-DD HH:MM:SS")
    t = xlwt.easyxf(num_format_str="HH:MM:SS")
    ws.write(1, 0, "Ana")
    ws.write(1, 1, 42)
    ws.write(1, 2, -1.25)
    ws.write(1, 3, datetime.date(2024, 2, 29), d)
    ws.write(1, 4, datetime.datetime(2024, 2, 29, 13, 5, 9), dt)
    ws.write(1, 5, datetime.time(12, 30, 0), t)
    ws.write(1, 7, "dup")
    ws.write(1, 8, True)
    ws.write(3, 0, "Bo")
    ws.write(3, 2, 0.1)
    ws.write(3, 9, "extra")
    ws.write(4, 1, 1e15)
    ws.write(4, 2, 1 / 3.0)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# The records the built-in `sheet` import makes of types_xls(), by row: empty cells are null,
# numbers are numbers, dates ISO text.
TYPES_RECORDS = {
    1: {"name": "Ana", "qty": 42, "price": -1.25, "day": "2024-02-29",
        "at": "2024-02-29T13:05:09Z", "time": "1899-12-30T12:30:00Z", "column_7": None,
        "name_2": "dup", "ok": 1},
    2: {"name": "Bo", "qty": None, "price": 0.1, "day": None, "at": None, "time": None,
        "column_7": None, "name_2": None, "ok": None, "column_10": "extra"},
    3: {"name": None, "qty": 1000000000000000, "price": 0.3333333333333333, "day": None,
        "at": None, "time": None, "column_7": None, "name_2": None, "ok": None},
}


def library_bug(name):
    """A fuzz input as a plain .xls file: its first byte only picked the fuzzed reader."""
    return (BUGS / name).read_bytes()[1:]


def asan_server(srv):
    """Whether the running server is an AddressSanitizer build (it maps libasan)."""
    maps = Path(f"/proc/{srv.proc.pid}/maps").read_text(errors="replace")
    return "libasan" in maps or "asan_rtl" in maps


def children_of(pid):
    """The pids whose parent is pid (zombies included)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d.name))
    return out


@pytest.fixture
def srv(make_server):
    return make_server(env={"SLUICE_MAX_ATTEMPTS": "1"})


def run(srv, jobs):
    s = srv.batch(limit=max(len(jobs), 1))
    assert {j["id"] for j in jobs} <= {j["id"] for j in s["jobs"]}, s
    return [srv.job(j["id"]) for j in jobs]


def records_of(srv, job_id):
    body = srv.check(srv.get("/api/integration/records/sheet", params={"limit": 200}), 200)
    return {int(r["key"].rsplit(":", 1)[1]): r["data"]
            for r in body["records"] if r["jobId"] == job_id}


# ----------------------------------------------------------------------------- tests

def test_xls_imports_the_same_rows_through_the_child(srv):
    job = srv.upload_one("types.xls", types_xls())
    assert job["type"] == "sheet", job
    (done,) = run(srv, [job])
    assert done["status"] == "completed", f"{done}\n{srv.log_tail()}"
    r = done["result"]
    assert (r["format"], r["totalRows"], r["successRows"], r["errorRows"]) == ("xls", 3, 3, 0), r
    assert r["columns"] == ["name", "qty", "price", "day", "at", "time", "column_7", "name_2",
                            "ok"], r
    assert records_of(srv, done["id"]) == TYPES_RECORDS
    assert children_of(srv.proc.pid) == [], "the parser child was not reaped"


def test_library_bug_inputs_fail_only_their_job(srv):
    assert BUGS.is_dir(), f"{BUGS} is missing"
    asan = asan_server(srv)
    overread = srv.upload_one("overread.xls", library_bug("xls_freexl_iconv_stack_overread"))
    leak = srv.upload_one("leak.xls", library_bug("xls_freexl_open_leak"))
    good = srv.upload_one("types.xls", types_xls())
    csv = srv.upload_one("plain.csv", b"a,b\n1,2\n")
    pid = srv.proc.pid

    got = {j["fileName"]: j for j in run(srv, [overread, leak, good, csv])}

    # Under ASan the child aborts in freexl's iconv call (ASan exits 1) and, for the leak, reports
    # it after its answer; without ASan freexl returns its error codes. Both fail the job only.
    want_overread = ("xls parser failed (exit status 1) while opening the file" if asan
                     else "not a valid XLS file (freexl error -20)")
    for name, want in (("overread.xls", want_overread),
                       ("leak.xls", "not a valid XLS file (freexl error -8)")):
        j = got[name]
        assert j["status"] == "failed", f"{name}: {j}\n{srv.log_tail()}"
        assert j["error"] == want, f"{name}: {j['error']!r}, expected {want!r}"
        assert "Sanitizer" not in j["error"] and "0x" not in j["error"], j["error"]
    assert got["types.xls"]["status"] == "completed", got["types.xls"]
    assert got["plain.csv"]["status"] == "completed", got["plain.csv"]

    # The same server process is up, answers, reaped every child, and still imports XLS.
    assert srv.proc.poll() is None and srv.proc.pid == pid
    assert srv.check(srv.get("/healthz"), 200) == {"status": "ok"}
    assert children_of(pid) == [], "a parser child was left behind"
    again = srv.upload_one("again.xls", types_xls())
    (done,) = run(srv, [again])
    assert done["status"] == "completed", done
    assert records_of(srv, done["id"]) == TYPES_RECORDS

    # The child's standard error (ASan's report under ASan) is not in the server's log; the
    # conftest's teardown fails the test on any sanitizer report there as well.
    log = srv.log()
    assert "AddressSanitizer" not in log and "LeakSanitizer" not in log, srv.log_tail()
    assert "job " + overread["id"] in log, "the failure is logged, as any job failure"


def test_xls_rows_is_an_internal_verb(tmp_path):
    env = child_env()
    helps = subprocess.run([BIN, "--help"], capture_output=True, text=True, env=env, timeout=30)
    assert helps.returncode == 0 and "xls-rows" not in helps.stdout, helps.stdout

    path = tmp_path / "types.xls"
    path.write_bytes(types_xls())
    cp = subprocess.run([BIN, "xls-rows", str(path)], capture_output=True, env=env, timeout=30)
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.split(b"\n")
    assert lines[:3] == [b"sluice-xls 1", b"sheet 5 10", b"row 0"], lines[:3]
    assert b"text 3 Ana" in lines and b"int 42" in lines and lines[-2:] == [b"end 5", b""]

    bad = tmp_path / "leak.xls"
    bad.write_bytes(library_bug("xls_freexl_open_leak"))
    cp = subprocess.run([BIN, "xls-rows", str(bad)], capture_output=True, env=env, timeout=30)
    assert cp.returncode == 1, cp
    assert cp.stdout.startswith(b"sluice-xls 1\nerror -2 "), cp.stdout
    assert b"not a valid XLS file (freexl error -8)" in cp.stderr, cp.stderr

    cp = subprocess.run([BIN, "xls-rows"], capture_output=True, env=env, timeout=30)
    assert cp.returncode == 2 and b"usage: sluice xls-rows" in cp.stderr, cp
