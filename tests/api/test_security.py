"""Access controls: upload rate limit, API token, cron allow-list, connection timeout.

See docs/security.md for the promises these tests keep.
"""

import socket
import time

import pytest
import requests

from test_batch import non_loopback_ipv4

BATCH = "/api/cron/process-integration-jobs"
TOKEN = "tok-5f1c2b9e-very-secret"


def bearer(t):
    return {"Authorization": f"Bearer {t}"}


# ----------------------------------------------------------------------------- rate limit

def test_upload_rate_limit_answers_429_with_retry_after_and_stores_nothing(make_server):
    srv = make_server(env={"SLUICE_UPLOAD_RATE": "1", "SLUICE_UPLOAD_BURST": "2"})
    srv.upload_one("a.txt", b"first")
    srv.upload_one("b.txt", b"second")
    r = srv.upload_raw([{"name": "files", "filename": "c.txt", "data": b"rejected bytes"}])
    err = srv.check_error(r, 429, "rate_limited")
    assert "retry" in err["message"].lower()
    after = r.headers.get("Retry-After")
    assert after is not None and after.isdigit() and int(after) >= 1, r.headers
    assert srv.jobs()["jobs"].__len__() == 2
    assert srv.find_blob(b"rejected bytes") == []
    assert srv.tmp_files() == []
    # The bucket refills at the rate: after Retry-After seconds an upload goes through.
    time.sleep(int(after) + 0.1)
    srv.upload_one("d.txt", b"later")


def test_rate_limit_default_off_and_burst_defaults_to_twice_the_rate(make_server):
    srv = make_server()
    for i in range(6):
        srv.upload_one(f"{i}.txt")
    srv2 = make_server(env={"SLUICE_UPLOAD_RATE": "1"})
    srv2.upload_one("1.txt")
    srv2.upload_one("2.txt")
    srv2.check_error(srv2.upload_raw([{"name": "files", "filename": "3.txt", "data": b"x"}]), 429)


def test_rate_limit_applies_to_uploads_only(make_server):
    srv = make_server(env={"SLUICE_UPLOAD_RATE": "1", "SLUICE_UPLOAD_BURST": "1"})
    srv.upload_one()
    for _ in range(5):
        srv.queue()
        srv.jobs()


@pytest.mark.parametrize("name,value", [
    ("SLUICE_UPLOAD_RATE", "-1"), ("SLUICE_UPLOAD_RATE", "fast"), ("SLUICE_UPLOAD_BURST", "0"),
    ("SLUICE_MAX_CONNECTIONS", "0"), ("SLUICE_CONNECTION_TIMEOUT_SECONDS", "soon"),
])
def test_bad_limit_settings_stop_start_up_naming_the_variable(make_server, name, value):
    srv = make_server(start=False)
    cp = srv.cli("serve", "--port", "0", "--no-cron", env={name: value}, timeout=10)
    assert cp.returncode == 1, describe(cp)
    assert name in cp.err, describe(cp)


def describe(cp):
    return f"exit {cp.returncode}\nstdout: {cp.out}\nstderr: {cp.err}"


# ----------------------------------------------------------------------------- API token

TOKEN_ROUTES = [
    ("GET", "/api/integration/queue"),
    ("GET", "/api/integration/stats"),
    ("GET", "/api/integration/jobs"),
    ("GET", "/api/integration/jobs/nope"),
    ("DELETE", "/api/integration/jobs/nope"),
    ("POST", "/api/integration/jobs/nope/retry"),
    ("GET", "/api/integration/jobs/nope/file"),
    ("GET", "/api/integration/jobs/nope/errors"),
    ("GET", "/api/integration/records/csv"),
    ("GET", "/api/integration/records/csv/k1"),
    ("POST", "/api/integration/upload"),
]


@pytest.fixture
def token_server(make_server):
    return make_server(env={"SLUICE_API_TOKEN": TOKEN})


@pytest.mark.parametrize("method,path", TOKEN_ROUTES)
def test_token_required_on_every_api_route(token_server, method, path):
    srv = token_server
    err = srv.check_error(srv.request(method, path), 401, "unauthorized")
    assert "token" in err["message"].lower()
    srv.check_error(srv.request(method, path, headers=bearer("wrong")), 401, "unauthorized")
    srv.check_error(srv.request(method, path, headers=bearer(TOKEN + "x")), 401, "unauthorized")
    srv.check_error(srv.request(method, path, headers={"Authorization": TOKEN}), 401)
    # ?token= is for the event stream only.
    srv.check_error(srv.request(method, path + "?token=" + TOKEN), 401, "unauthorized")
    r = srv.request(method, path, headers=bearer(TOKEN))
    assert r.status_code != 401, srv._describe(r)


def test_token_accepted_end_to_end(token_server):
    srv = token_server
    body, ctype = __import__("conftest").multipart([{"name": "files", "filename": "a.txt",
                                                    "data": b"hello"}])
    r = srv.post("/api/integration/upload", data=body,
                 headers={"Content-Type": ctype, **bearer(TOKEN)})
    job = srv.check(r, 202)["jobs"][0]
    got = srv.check(srv.get(f"/api/integration/jobs/{job['id']}", headers=bearer(TOKEN)), 200)
    assert got["id"] == job["id"]
    assert srv.check(srv.get("/api/integration/queue", headers=bearer(TOKEN)), 200)["pending"] == 1


def test_token_rejected_upload_stores_nothing(token_server):
    srv = token_server
    r = srv.upload_raw([{"name": "files", "filename": "a.txt", "data": b"no token bytes"}])
    srv.check_error(r, 401, "unauthorized")
    assert srv.find_blob(b"no token bytes") == []
    assert srv.check(srv.get("/api/integration/jobs", headers=bearer(TOKEN)), 200)["jobs"] == []


def test_health_and_ui_stay_open_with_a_token(token_server):
    srv = token_server
    srv.check(srv.get("/healthz"), 200)
    r = srv.get("/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert srv.get("/ui/app.js").status_code == 200


def test_cron_route_uses_its_own_secret_not_the_api_token(make_server):
    srv = make_server(env={"SLUICE_API_TOKEN": TOKEN})
    srv.batch()  # loopback, no CRON_SECRET: allowed without the API token
    srv2 = make_server(env={"SLUICE_API_TOKEN": TOKEN, "CRON_SECRET": "cs"})
    srv2.check_error(srv2.get(BATCH, headers=bearer(TOKEN)), 401, "unauthorized")
    srv2.batch(headers=bearer("cs"))


def read_events(srv, query="", headers=None, timeout=5):
    with requests.get(srv.url("/api/integration/events" + query), headers=headers or {},
                      stream=True, timeout=timeout) as r:
        if r.status_code != 200:
            return r.status_code, r.content
        data = b""
        for chunk in r.iter_content(chunk_size=None):
            data += chunk
            if b"event: queue" in data:
                break
        return r.status_code, data


def test_events_accept_query_token_or_bearer(token_server):
    srv = token_server
    status, _ = read_events(srv)
    assert status == 401
    status, _ = read_events(srv, "?token=wrong")
    assert status == 401
    status, data = read_events(srv, "?token=" + TOKEN)
    assert status == 200 and b"event: queue" in data
    status, data = read_events(srv, headers=bearer(TOKEN))
    assert status == 200 and b"event: queue" in data


def test_token_never_appears_in_the_log(make_server):
    srv = make_server(env={"SLUICE_API_TOKEN": TOKEN, "CRON_SECRET": "cron-secret-xyz"})
    srv.get("/api/integration/queue", headers=bearer(TOKEN))
    srv.get("/api/integration/queue", headers=bearer("wrong-" + TOKEN))
    read_events(srv, "?token=" + TOKEN)
    read_events(srv, "?token=bad" + TOKEN)
    srv.get(BATCH, headers=bearer("cron-secret-xyz"))
    srv.stop()
    log = srv.log(all_runs=True)
    assert "/api/integration/events" in log, log
    assert TOKEN not in log and "cron-secret-xyz" not in log, log


# ----------------------------------------------------------------------------- cron allow-list

def test_cron_allow_list_forbids_an_address_outside(make_server):
    ip = non_loopback_ipv4()
    if ip is None:
        pytest.skip("no non-loopback IPv4 address on this machine")
    srv = make_server(start=False)
    srv.start(env={"SLUICE_CRON_ALLOW": "127.0.0.1/32, ::1/128", "CRON_SECRET": "cs"},
              host="0.0.0.0")
    # Outside: 403 before the secret is even looked at (a right secret does not help).
    r = requests.get(f"http://{ip}:{srv.port}{BATCH}", headers=bearer("cs"), timeout=30)
    srv.check_error(r, 403, "forbidden")
    r = requests.get(f"http://{ip}:{srv.port}{BATCH}", timeout=30)
    srv.check_error(r, 403, "forbidden")
    # Inside: the secret check still applies.
    srv.check_error(srv.get(BATCH), 401, "unauthorized")
    srv.batch(headers=bearer("cs"))
    # Other routes are not affected by the list.
    srv.check(requests.get(f"http://{ip}:{srv.port}/api/integration/queue", timeout=30), 200)


def test_cron_allow_list_allows_an_address_inside(make_server):
    ip = non_loopback_ipv4()
    if ip is None:
        pytest.skip("no non-loopback IPv4 address on this machine")
    srv = make_server(start=False)
    srv.start(env={"SLUICE_CRON_ALLOW": f"{ip}/32", "CRON_SECRET": "cs"}, host="0.0.0.0")
    r = requests.get(f"http://{ip}:{srv.port}{BATCH}", headers=bearer("cs"), timeout=30)
    srv.check(r, 200)
    srv.check_error(srv.get(BATCH, headers=bearer("cs")), 403, "forbidden")  # loopback is outside


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-an-ip", "10.0.0.0/8,,::1", "::1/129",
                                 "10.0.0.0/8x"])
def test_invalid_cron_allow_stops_start_up_naming_it(make_server, bad):
    srv = make_server(start=False)
    cp = srv.cli("serve", "--port", "0", "--no-cron", env={"SLUICE_CRON_ALLOW": bad}, timeout=10)
    assert cp.returncode == 1, describe(cp)
    assert "SLUICE_CRON_ALLOW" in cp.err, describe(cp)
    item = [i.strip() for i in bad.split(",") if not _valid(i.strip())][0]
    assert f"'{item}'" in cp.err, describe(cp)


def _valid(item):
    import ipaddress
    try:
        ipaddress.ip_network(item, strict=False)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------- slow clients

def test_a_client_that_stalls_after_the_headers_is_disconnected(make_server):
    srv = make_server(env={"SLUICE_CONNECTION_TIMEOUT_SECONDS": "1"})
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(b"POST /api/integration/upload HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: multipart/form-data; boundary=b\r\n"
                  b"Content-Length: 100000\r\n\r\n--b\r\n")
        t0 = time.monotonic()
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        waited = time.monotonic() - t0
    finally:
        s.close()
    assert waited < 6, f"still connected after {waited:.1f}s"
    assert waited >= 0.5, f"disconnected too soon ({waited:.2f}s)"
    # Nothing was stored, and the server still answers.
    srv.check(srv.get("/healthz"), 200)
    assert srv.jobs()["jobs"] == []
    wait_tmp_empty(srv)


def wait_tmp_empty(srv):
    deadline = time.monotonic() + 5
    while srv.tmp_files() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.tmp_files() == []


def test_an_idle_connection_is_closed_after_the_timeout(make_server):
    srv = make_server(env={"SLUICE_CONNECTION_TIMEOUT_SECONDS": "1"})
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        t0 = time.monotonic()
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        assert time.monotonic() - t0 < 6
    finally:
        s.close()
