"""valgrind memcheck over the API tests: a pytest plugin, and the tests of its report reader.

`make valgrind` runs the API suite with SLUICE_BIN=scripts/valgrind-sluice.sh and loads this
module as a plugin (`-p test_hardening_valgrind`). Every sluice process the tests start (servers
and CLI runs alike) then writes a memcheck report to $VG_SLUICE_LOG_DIR/vg.<pid>.log. After each
test, the reports that test produced are read, and the test fails when one holds a memory error
or a definite leak, or when a server it stopped exited with valgrind's error status 99.

Without VG_SLUICE_LOG_DIR the plugin does nothing; the tests below always run (they only parse
text).
"""

import os
import re
import sys
from pathlib import Path

import pytest

VALGRIND_EXIT = 99
LOG_DIR = os.environ.get("VG_SLUICE_LOG_DIR") or None

SUMMARY_RE = re.compile(r"^==\d+== ERROR SUMMARY: (\d+) errors", re.M)
# The first line of each kind of report memcheck writes (a killed process writes no summary).
ERROR_RE = re.compile(
    r"^==\d+== (Invalid (read|write|free|free\(\) / delete / delete\[\] / realloc\(\))|"
    r"Conditional jump or move depends on uninitialised value|"
    r"Use of uninitialised value|Syscall param .* (uninitialised|unaddressable)|"
    r"Mismatched free\(\) / delete / delete \[\]|Source and destination overlap|"
    r"Argument '.*' of function .* has a fishy|"
    r"[\d,]+ (\([\d,]+ direct, [\d,]+ indirect\) )?bytes in [\d,]+ blocks are definitely lost)",
    re.M,
)


def report_errors(text):
    """The error lines of one memcheck report (empty when it is clean)."""
    found = [m.group(0) for m in ERROR_RE.finditer(text)]
    for m in SUMMARY_RE.finditer(text):
        if int(m.group(1)) > 0 and not found:
            found.append(m.group(0))
    return found


def report_excerpt(text, limit=6000):
    """The report from its first error on, cut to `limit` characters."""
    m = ERROR_RE.search(text) or SUMMARY_RE.search(text)
    start = 0
    if m:
        start = text.rfind("\n==", 0, max(0, m.start() - 1)) + 1
    return text[start:start + limit]


# ----------------------------------------------------------------------------- the plugin

_exits = []  # (server workdir, exit code) of every stop, filled by the patched Server.stop
_reported = set()  # reports a test already failed on


def _patch_server_stop():
    """Wraps conftest.Server.stop to remember exit codes (the fixture ignores them)."""
    conftest = sys.modules.get("conftest")
    if conftest is None or getattr(conftest.Server.stop, "_vg_patched", False):
        return
    original = conftest.Server.stop

    def stop(self, *args, **kwargs):
        code = original(self, *args, **kwargs)
        _exits.append((str(self.workdir), code))
        return code

    stop._vg_patched = True
    conftest.Server.stop = stop


def _logs():
    return {p: p.stat().st_mtime_ns for p in Path(LOG_DIR).glob("vg.*.log")}


@pytest.fixture(autouse=True)
def valgrind_reports():
    """Fails the test on any memcheck error in the reports written while it ran."""
    if LOG_DIR is None:
        yield
        return
    _patch_server_stop()
    Path(LOG_DIR).mkdir(parents=True, exist_ok=True)
    before = _logs()
    del _exits[:]
    yield
    # Teardown runs after the server fixtures' (this autouse fixture was set up first), so the
    # servers have exited and written their summaries.
    problems = []
    for path, mtime in sorted(_logs().items()):
        if before.get(path) == mtime:
            continue
        text = path.read_text(errors="replace")
        if report_errors(text):
            _reported.add(path)
            problems.append(f"--- {path}\n{report_excerpt(text)}")
    for workdir, code in _exits:
        if code == VALGRIND_EXIT:
            problems.append(f"--- server in {workdir} exited {VALGRIND_EXIT} (valgrind found errors)")
    if problems:
        pytest.fail("valgrind memcheck:\n" + "\n".join(problems), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    """Servers of module-scoped fixtures exit after their last test: their reports are read
    here, at the end of the run, and any error in them fails the run."""
    if LOG_DIR is None or not Path(LOG_DIR).is_dir():
        return
    missed = []
    for path in sorted(_logs()):
        text = path.read_text(errors="replace")
        if path not in _reported and report_errors(text):
            missed.append(f"--- {path}\n{report_excerpt(text, 3000)}")
    if missed:
        sys.stderr.write("\nvalgrind memcheck, reports no test was charged with:\n"
                         + "\n".join(missed) + "\n")
        session.exitstatus = 1


# ----------------------------------------------------------------------------- its tests

CLEAN = """==12== Memcheck, a memory error detector
==12== HEAP SUMMARY:
==12==     in use at exit: 0 bytes in 0 blocks
==12== All heap blocks were freed -- no leaks are possible
==12== ERROR SUMMARY: 0 errors from 0 contexts (suppressed: 0 from 0)
"""

INVALID_READ = """==7== Memcheck, a memory error detector
==7== Invalid read of size 1
==7==    at 0x4848: step_headers (multipart.c:210)
==7==  Address 0x5 is 0 bytes after a block of size 16 alloc'd
==7== ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)
"""

LEAK = """==9== HEAP SUMMARY:
==9== 64 bytes in 1 blocks are definitely lost in loss record 1 of 1
==9==    at 0x483: malloc (vg_replace_malloc.c:381)
==9== LEAK SUMMARY:
==9==    definitely lost: 64 bytes in 1 blocks
==9== ERROR SUMMARY: 1 errors from 1 contexts (suppressed: 0 from 0)
"""

KILLED = """==5== Memcheck, a memory error detector
==5== Conditional jump or move depends on uninitialised value(s)
==5==    at 0x1: parse (x.c:1)
"""


def test_a_clean_report_has_no_errors():
    assert report_errors(CLEAN) == []
    assert report_errors("") == []


@pytest.mark.parametrize("text,first", [
    (INVALID_READ, "Invalid read"),
    (LEAK, "64 bytes in 1 blocks are definitely lost"),
    (KILLED, "Conditional jump or move depends on uninitialised value"),
    (CLEAN.replace("ERROR SUMMARY: 0 errors", "ERROR SUMMARY: 3 errors"), "ERROR SUMMARY: 3"),
])
def test_errors_and_definite_leaks_are_found(text, first):
    errors = report_errors(text)
    assert errors and first in errors[0], errors
    assert first in report_excerpt(text)


def test_possible_and_reachable_leaks_are_not_errors():
    text = CLEAN.replace("All heap blocks were freed -- no leaks are possible",
                         "LEAK SUMMARY:\n==12==    definitely lost: 0 bytes in 0 blocks\n"
                         "==12==      possibly lost: 288 bytes in 1 blocks\n"
                         "==12==    still reachable: 80 bytes in 2 blocks")
    assert report_errors(text) == []
