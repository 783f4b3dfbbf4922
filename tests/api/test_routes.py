"""Routing: health, unknown routes, wrong methods, the request log."""

import uuid

import pytest

from conftest import wait_for


def test_healthz(server):
    body = server.check(server.get("/healthz"), 200)
    assert body == {"status": "ok"}


def test_healthz_ignores_a_query_string(server):
    assert server.check(server.get("/healthz?probe=1"), 200) == {"status": "ok"}


@pytest.mark.parametrize("path", [
    "/nope", "/api", "/api/integration", "/api/integration/nosuch", "/api/cron/other",
    "/api/integration/jobs/x/y/z",
])
def test_unknown_route_is_404(server, path):
    server.check_error(server.get(path), 404, "not_found")


@pytest.mark.parametrize("method,path,allowed", [
    ("PUT", "/api/integration/upload", {"POST"}),
    ("GET", "/api/integration/upload", {"POST"}),
    ("DELETE", "/api/integration/queue", {"GET"}),
    ("POST", "/api/integration/queue", {"GET"}),
    ("POST", "/api/integration/stats", {"GET"}),
    ("PUT", "/api/cron/process-integration-jobs", {"GET", "POST"}),
    ("DELETE", "/api/cron/process-integration-jobs", {"GET", "POST"}),
    ("POST", "/api/integration/jobs", {"GET"}),
    ("PATCH", "/api/integration/jobs/{id}", {"GET", "DELETE"}),
    ("GET", "/api/integration/jobs/{id}/retry", {"POST"}),
    ("DELETE", "/api/integration/jobs/{id}/file", {"GET"}),
    ("POST", "/healthz", {"GET"}),
])
def test_wrong_method_is_405_with_allow(server, method, path, allowed):
    job = server.upload_one()
    path = path.replace("{id}", job["id"])
    r = server.request(method, path, data=b"" if method != "GET" else None)
    server.check_error(r, 405, "method_not_allowed")
    allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed <= allow, f"Allow {r.headers.get('Allow')!r} must list {sorted(allowed)}"
    assert method not in allow, f"Allow {r.headers.get('Allow')!r} lists {method}"
    assert server.job(job["id"])["status"] == "pending", "a refused request changes nothing"


def log_has(srv, *needles):
    return any(all(n in line for n in needles) for line in srv.log().splitlines())


def test_request_log_lines(server):
    server.queue()
    server.get("/nope")
    server.upload_one()
    for needles in (("GET", "/api/integration/queue", "200"), ("GET", "/nope", "404"),
                    ("POST", "/api/integration/upload", "202")):
        wait_for(lambda: log_has(server, *needles), timeout=5,
                 what=lambda: f"a log line with {needles}\n--- log ---\n{server.log()}")


def test_request_log_line_for_an_error(server):
    server.get(f"/api/integration/jobs/{uuid.uuid4()}")
    wait_for(lambda: log_has(server, "GET", "/api/integration/jobs/", "404"), timeout=5,
             what=lambda: f"a log line for the 404\n--- log ---\n{server.log()}")
