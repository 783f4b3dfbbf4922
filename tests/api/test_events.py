"""GET /api/integration/events (Server-Sent Events) and the web UI's routes and headers."""

import json
import queue
import re
import socket
import threading
import time

import pytest

from test_config import assert_one_line_naming, serve_expect_exit


class EventStream:
    """An open SSE connection (HTTP/1.1, chunked, as browsers read it) on a plain socket, read by
    a background thread into a queue of parsed items: ("event", name, data), ("comment", text),
    ("retry", ms), and ("closed", None) at the end. A plain socket, so that close() can shut it
    down under the reading thread at once.
    """

    def __init__(self, srv, path="/api/integration/events"):
        self.srv = srv
        self.items = queue.Queue()
        self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                          "Accept: text/event-stream\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")
        status = self.file.readline().decode("latin-1").split()
        self.status = int(status[1])
        self.headers = {}
        while True:
            line = self.file.readline().decode("latin-1").strip()
            if not line:
                break
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _chunks(self):
        while True:
            size = int(self.file.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return
            data = self.file.read(size)
            self.file.readline()  # the CRLF after the chunk
            yield data

    def _read(self):
        name, data, buf = None, [], b""
        try:
            for chunk in self._chunks():
                buf += chunk
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode("utf-8")
                    if line == "":
                        if data:
                            self.items.put(("event", name or "message", "\n".join(data)))
                        name, data = None, []
                    elif line.startswith(":"):
                        self.items.put(("comment", line[1:].strip()))
                    elif line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[6:] if line[5:6] == " " else line[5:])
                    elif line.startswith("retry:"):
                        self.items.put(("retry", int(line[6:].strip())))
        except (OSError, ValueError):
            pass
        self.items.put(("closed", None))

    def next(self, timeout=5.0, kind=None):
        """The next item (of `kind`, when given) within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {kind or 'item'} on the event stream within {timeout}s\n"
                            f"--- server log ---\n{self.srv.log_tail()}")
            try:
                item = self.items.get(timeout=left)
            except queue.Empty:
                continue
            if kind is None or item[0] == kind or item[0] == "closed":
                return item

    def next_queue(self, timeout=5.0):
        item = self.next(timeout, kind="event")
        assert item[0] == "event", f"the stream closed: {item}"
        assert item[1] == "queue", f"expected an 'event: queue', got {item}"
        return json.loads(item[2])

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(timeout=5)
        self.file.close()
        self.sock.close()


@pytest.fixture
def streams():
    opened = []

    def open_stream(srv, path="/api/integration/events"):
        s = EventStream(srv, path)
        opened.append(s)
        return s

    yield open_stream
    for s in opened:
        s.close()


def test_headers_retry_and_first_event_is_the_queue(server, streams):
    server.upload_one("a.csv", b"x,y\n1,2\n")
    s = streams(server)
    assert s.status == 200
    assert s.headers["content-type"].startswith("text/event-stream"), s.headers
    assert s.headers.get("cache-control") == "no-store", s.headers
    assert s.headers.get("x-content-type-options") == "nosniff", s.headers
    assert s.headers.get("transfer-encoding") == "chunked", s.headers
    first = s.next()
    assert first[0] == "retry" and first[1] > 0, f"the stream should open with retry:, got {first}"
    q = s.next_queue()
    assert q == server.queue(), "the event's JSON must be the queue route's JSON"
    assert q["pending"] == 1


def test_upload_sends_an_event_within_a_second(server, streams):
    s = streams(server)
    assert s.next_queue()["pending"] == 0
    t0 = time.monotonic()
    job = server.upload_one("b.txt", b"hello")
    q = s.next_queue(timeout=1.0)
    assert time.monotonic() - t0 < 1.0
    assert q["pending"] == 1 and q["nextJob"]["id"] == job["id"], q


def test_batch_and_cancel_send_events(server, streams):
    first = server.upload_one("one.txt", b"1")
    second = server.upload_one("two.txt", b"2")
    s = streams(server)
    assert s.next_queue()["pending"] == 2
    server.batch(limit=1)
    deadline = time.monotonic() + 5
    q = s.next_queue()
    while q["completed"] != 1 and time.monotonic() < deadline:
        q = s.next_queue()
    assert (q["pending"], q["completed"], q["isProcessing"]) == (1, 1, False), q
    assert q["lastRunAt"] is not None
    pending = second if q["nextJob"]["id"] == second["id"] else first
    r = server.delete(f"/api/integration/jobs/{pending['id']}")
    assert r.status_code == 204
    q = s.next_queue(timeout=1.0)
    assert (q["pending"], q["total"]) == (0, 1), q


def test_heartbeat_comment(make_server, streams):
    srv = make_server(env={"SLUICE_SSE_HEARTBEAT_MS": "200"})
    s = streams(srv)
    s.next_queue()
    t0 = time.monotonic()
    item = s.next(timeout=2.0, kind="comment")
    assert item == ("comment", "heartbeat"), item
    assert time.monotonic() - t0 < 1.5
    # It keeps beating with nothing happening.
    assert s.next(timeout=2.0, kind="comment") == ("comment", "heartbeat")


def test_tenant_narrows_the_stream(server, streams):
    server.upload_one("a.txt", b"a", tenant="acme")
    server.upload_one("b.txt", b"b", tenant="other")
    s = streams(server, "/api/integration/events?tenant=acme")
    q = s.next_queue()
    assert q == server.queue(tenant="acme") and q["total"] == 1, q
    server.check_error(server.get("/api/integration/events?tenant=bad%20name"), 400,
                       "invalid_request")


def test_several_streams_and_a_closed_client(server, streams):
    a, b = streams(server), streams(server)
    a.next_queue()
    b.next_queue()
    a.close()  # the server notices at its next write; the other stream goes on
    server.upload_one("c.txt", b"c")
    assert b.next_queue(timeout=1.0)["pending"] == 1
    server.upload_one("d.txt", b"d")
    assert b.next_queue(timeout=1.0)["pending"] == 2


def test_stop_is_not_held_by_open_streams(server, streams):
    opened = [streams(server) for _ in range(3)]
    for s in opened:
        s.next_queue()
    t0 = time.monotonic()
    assert server.stop(timeout=5) == 0
    assert time.monotonic() - t0 < 3.0, "SIGTERM must not wait for the event streams"
    for s in opened:
        assert s.next(timeout=3.0, kind="closed") == ("closed", None)


@pytest.mark.parametrize("value", ["0", "20000", "soon"])
def test_bad_heartbeat_stops_serve(make_server, value):
    srv = make_server(start=False)
    code, err = serve_expect_exit(srv, {"SLUICE_SSE_HEARTBEAT_MS": value})
    assert_one_line_naming(code, err, "SLUICE_SSE_HEARTBEAT_MS")


# ----------------------------------------------------------------------------- the web UI

UI_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
              "Referrer-Policy": "no-referrer"}


def check_ui_headers(r):
    for k, v in UI_HEADERS.items():
        assert r.headers.get(k) == v, f"{r.url}: {k} is {r.headers.get(k)!r}, expected {v!r}"
    csp = r.headers.get("Content-Security-Policy", "")
    assert csp.startswith("default-src 'self'"), csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert "frame-ancestors 'none'" in csp, csp


def test_index_page_and_security_headers(make_server):
    srv = make_server(env={"CRON_SECRET": "s3cret-value-1234"})
    r = srv.get("/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html"), r.headers
    check_ui_headers(r)
    html = r.text
    assert "s3cret-value-1234" not in html
    assert re.search(r"<script\b(?![^>]*\bsrc=)", html) is None, "no inline script"
    assert "<style" not in html and " style=" not in html, "no inline style"
    for src in re.findall(r'(?:src|href)="(/ui/[^"]+)"', html):
        a = srv.get(src)
        assert a.status_code == 200, src
        check_ui_headers(a)
        assert "s3cret-value-1234" not in a.text
    head = srv.request("HEAD", "/")
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize("path,ctype", [
    ("/ui/app.js", "text/javascript"),
    ("/ui/app.css", "text/css"),
    ("/ui/icon.svg", "image/svg+xml"),
])
def test_ui_assets(server, path, ctype):
    r = server.get(path)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith(ctype), r.headers
    assert len(r.content) > 0
    check_ui_headers(r)


@pytest.mark.parametrize("path", ["/ui/nope.js", "/ui/index.html", "/ui/", "/ui/../README.md"])
def test_unknown_ui_files_are_404(server, path):
    r = server.get(path)
    assert r.status_code == 404, (path, r.status_code)


def test_ui_routes_refuse_other_methods(server):
    server.check_error(server.post("/"), 405, "method_not_allowed")
    server.check_error(server.post("/api/integration/events"), 405, "method_not_allowed")
