"""`sluice cron next EXPR [--from ISO8601] [--count N]`: the next firing times, one per line.

No server is started: each test runs the binary in a fresh working directory.
"""

from datetime import timedelta

import pytest

from conftest import ISO_RE, describe_cli, parse_iso, utcnow


@pytest.fixture
def sl(make_server):
    """A working directory with the binary's environment; nothing listening."""
    return make_server(start=False)


def cron_next(sl, expr, *args):
    cp = sl.cli("cron", "next", expr, *args)
    assert cp.returncode == 0, describe_cli(cp)
    lines = cp.out.splitlines()
    for ln in lines:
        assert ISO_RE.match(ln), f"not an ISO 8601 UTC time: {ln!r}\n{describe_cli(cp)}"
    return lines


def assert_fails(cp, code):
    assert cp.returncode == code, describe_cli(cp)
    assert cp.out == "", f"expected nothing on stdout\n{describe_cli(cp)}"
    lines = [ln for ln in cp.err.splitlines() if ln.strip()]
    assert lines, f"expected a message on stderr\n{describe_cli(cp)}"
    return cp.err


def test_every_two_minutes(sl):
    got = cron_next(sl, "*/2 * * * *", "--from", "2026-11-30T09:41:10Z", "--count", "3")
    assert got == [
        "2026-11-30T09:42:00.000Z",
        "2026-11-30T09:44:00.000Z",
        "2026-11-30T09:46:00.000Z",
    ]


def test_default_count_is_five(sl):
    got = cron_next(sl, "0 12 * * mon-fri", "--from", "2026-11-27T13:00:00Z")
    assert got == [
        "2026-11-30T12:00:00.000Z",
        "2026-12-01T12:00:00.000Z",
        "2026-12-02T12:00:00.000Z",
        "2026-12-03T12:00:00.000Z",
        "2026-12-04T12:00:00.000Z",
    ]


def test_options_before_the_schedule(sl):
    cp = sl.cli("cron", "next", "--count", "2", "--from", "2026-11-30T09:41:10Z", "@hourly")
    assert cp.returncode == 0, describe_cli(cp)
    assert cp.out.splitlines() == ["2026-11-30T10:00:00.000Z", "2026-11-30T11:00:00.000Z"]


def test_from_defaults_to_now(sl):
    before = utcnow()
    got = [parse_iso(t) for t in cron_next(sl, "* * * * *", "--count", "3")]
    after = utcnow()
    assert before - timedelta(minutes=1) < got[0] <= after + timedelta(minutes=1), got
    assert got[0].second == 0 and got[0].microsecond == 0, got
    assert [b - a for a, b in zip(got, got[1:])] == [timedelta(minutes=1)] * 2, got


def test_strictly_after_from(sl):
    got = cron_next(sl, "0 12 * * *", "--from", "2026-11-30T12:00:00.000Z", "--count", "1")
    assert got == ["2026-12-01T12:00:00.000Z"]


@pytest.mark.parametrize(
    "expr, start, want",
    [
        ("@weekly", "2026-11-30T09:41:10Z",
         ["2026-12-06T00:00:00.000Z", "2026-12-13T00:00:00.000Z"]),
        ("@yearly", "2026-11-30T09:41:10Z",
         ["2027-01-01T00:00:00.000Z", "2028-01-01T00:00:00.000Z"]),
        # both day fields restricted: the 13th or a Friday
        ("0 0 13 * 5", "2026-12-10T00:00:00Z",
         ["2026-12-11T00:00:00.000Z", "2026-12-13T00:00:00.000Z", "2026-12-18T00:00:00.000Z"]),
        # day-of-month starts with '*': odd days that are Fridays
        ("0 0 */2 * 5", "2026-11-01T00:00:00Z",
         ["2026-11-13T00:00:00.000Z", "2026-11-27T00:00:00.000Z"]),
        ("0 0 * * 5-7", "2026-11-30T09:41:10Z",
         ["2026-12-04T00:00:00.000Z", "2026-12-05T00:00:00.000Z", "2026-12-06T00:00:00.000Z"]),
        ("0 0 1 */3 *", "2026-02-15T00:00:00Z",
         ["2026-04-01T00:00:00.000Z", "2026-07-01T00:00:00.000Z"]),
        ("0 0 29 2 *", "2096-01-01T00:00:00Z",
         ["2096-02-29T00:00:00.000Z", "2104-02-29T00:00:00.000Z"]),
        ("0 0 31 * *", "2026-01-31T00:00:00Z",
         ["2026-03-31T00:00:00.000Z", "2026-05-31T00:00:00.000Z"]),
        ("59 23 31 12 *", "2026-12-31T23:58:00Z",
         ["2026-12-31T23:59:00.000Z", "2027-12-31T23:59:00.000Z"]),
        ("*/15 * * * * *", "2026-11-30T09:41:10.250Z",
         ["2026-11-30T09:41:15.000Z", "2026-11-30T09:41:30.000Z"]),
        ("* * * * *", "1969-12-31T23:59:30Z",
         ["1970-01-01T00:00:00.000Z", "1970-01-01T00:01:00.000Z"]),
        ("0\t0 \t* *  SUN", "2026-11-30T09:41:10Z", ["2026-12-06T00:00:00.000Z"]),
    ],
)
def test_known_schedules(sl, expr, start, want):
    assert cron_next(sl, expr, "--from", start, "--count", str(len(want))) == want


def test_many_firings_increase(sl):
    got = cron_next(sl, "*/7 9-17 * * mon-fri", "--from", "2026-11-30T00:00:00Z",
                    "--count", "1000")
    assert len(got) == 1000
    times = [parse_iso(t) for t in got]
    assert all(a < b for a, b in zip(times, times[1:]))
    assert all(t.weekday() < 5 and 9 <= t.hour <= 17 and t.minute % 7 == 0 for t in times)


@pytest.mark.parametrize(
    "expr, field, text",
    [
        ("60 * * * *", "minute", "60"),
        ("* 24 * * *", "hour", "24"),
        ("* * 32 * *", "day-of-month", "32"),
        ("* * 0 * *", "day-of-month", "0"),
        ("* * * 13 *", "month", "13"),
        ("* * * * 8", "day-of-week", "8"),
        ("60 * * * * *", "second", "60"),
        ("0 0 * * foo", "day-of-week", "foo"),
        ("0 0 * foo *", "month", "foo"),
        ("5-1 * * * *", "minute", "5-1"),
        ("*/0 * * * *", "minute", "*/0"),
        ("5x * * * *", "minute", "5x"),
    ],
)
def test_invalid_schedule_names_the_field(sl, expr, field, text):
    err = assert_fails(sl.cli("cron", "next", expr), 1)
    assert len(err.strip().splitlines()) == 1, f"expected one line on stderr:\n{err}"
    assert field in err and f"'{text}'" in err, f"expected {field!r} and {text!r} in:\n{err}"


@pytest.mark.parametrize("expr", ["* * * *", "* * * * * * *", "", "@often"])
def test_invalid_schedule_shape(sl, expr):
    assert_fails(sl.cli("cron", "next", expr), 1)


@pytest.mark.parametrize("expr", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"])
def test_schedule_that_never_fires(sl, expr):
    cp = sl.cli("cron", "next", expr, "--from", "2026-01-01T00:00:00Z", timeout=10)
    assert_fails(cp, 1)


@pytest.mark.parametrize(
    "args",
    [
        ["cron", "next"],
        ["cron", "next", "* * * * *", "0 * * * *"],
        ["cron", "next", "* * * * *", "--from", "yesterday"],
        ["cron", "next", "* * * * *", "--count", "0"],
        ["cron", "next", "* * * * *", "--count", "-1"],
        ["cron", "next", "* * * * *", "--count", "x"],
        ["cron", "next", "* * * * *", "--bogus"],
        ["cron", "previous", "* * * * *"],
    ],
)
def test_bad_usage(sl, args):
    assert_fails(sl.cli(*args), 2)


def test_help(sl):
    cp = sl.cli("cron", "--help")
    assert cp.returncode == 0, describe_cli(cp)
    assert "cron next" in cp.out, describe_cli(cp)
