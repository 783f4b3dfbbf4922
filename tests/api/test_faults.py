"""Faults: the server killed (kill -9) in the middle of an upload loses nothing it acknowledged
and leaves nothing behind once it is back; a full disk answers 507 and damages nothing stored."""
import os
import socket
import subprocess
import time

import pytest

from conftest import ON_PG, ON_S3, file_part, multipart, sha256_hex, wait_for


def send_half_an_upload(srv, total_bytes):
    """Opens a raw connection, sends the headers and about half a large file part, and returns
    the socket (still open) once the server has started writing the part to a temporary file."""
    data = os.urandom(total_bytes)
    body, ctype = multipart([file_part("big.bin", data)])
    head = (f"POST /api/integration/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(head + body[: len(body) // 2])
    wait_for(lambda: srv.tmp_files(), timeout=10, what="a temporary file for the upload")
    return sock


def test_kill_during_an_upload_leaves_no_job_no_blob_and_no_temp_file(make_server):
    srv = make_server()
    kept = srv.upload_one("kept.txt", b"acknowledged before the crash 7d21\n")
    sock = send_half_an_upload(srv, 4 << 20)  # over the inline size: it streams to a temp file
    assert srv.tmp_files(), "the half-sent file should be on disk as a temporary file"
    srv.kill()
    sock.close()
    assert srv.tmp_files(), "kill -9 leaves the temporary file behind until the next start"

    srv.start()
    assert srv.tmp_files() == [], "start-up removes the temporary files of dead processes"
    jobs = srv.jobs()["jobs"]
    assert [j["id"] for j in jobs] == [kept["id"]], jobs
    assert srv.blob_files() == [], "no blob of the interrupted request may exist"
    r = srv.get(f"/api/integration/jobs/{kept['id']}/file")
    assert r.status_code == 200 and sha256_hex(r.content) == kept["sha256"]


def test_client_disconnect_mid_upload_leaves_nothing(make_server):
    srv = make_server()
    sock = send_half_an_upload(srv, 4 << 20)
    sock.close()
    wait_for(lambda: srv.tmp_files() == [], timeout=10, what="the temporary file removed")
    assert srv.jobs()["jobs"] == [] and srv.blob_files() == []
    assert srv.upload_one("after.txt", b"still serving 7d21\n")["status"] == "pending"


def mount_small_tmpfs(path, size):
    path.mkdir(parents=True, exist_ok=True)
    cp = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                        capture_output=True, text=True)
    return cp.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    if os.geteuid() != 0 or not mount_small_tmpfs(disk, "2m"):
        pytest.skip("needs root to mount a small tmpfs")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.skipif(ON_PG or ON_S3, reason="the promise is about the local store: on PostgreSQL "
                    "or S3 the store or blobs it must not damage are not on the full disk")
def test_full_disk_answers_507_and_damages_nothing(make_server, small_disk):
    data_dir = small_disk / "data"
    srv = make_server(env={"SLUICE_DATA_DIR": str(data_dir)}, start=False)
    srv.data_dir = data_dir
    srv.start()
    kept = srv.upload_one("kept.txt", b"stored before the disk filled 5c3e\n")
    r = srv.upload_raw([file_part("huge.bin", os.urandom(3 << 20))])
    srv.check_error(r, 507, "insufficient_storage")
    # the temporary file goes once the request is released, just after the answer is sent
    wait_for(lambda: srv.tmp_files() == [], timeout=5,
             what=lambda: f"no temporary file after a failed upload (left: {srv.tmp_files()})")
    jobs = srv.jobs()["jobs"]
    assert [j["id"] for j in jobs] == [kept["id"]], jobs
    r = srv.get(f"/api/integration/jobs/{kept['id']}/file")
    assert r.status_code == 200 and sha256_hex(r.content) == kept["sha256"]
    # Space returns (the failed upload's bytes were freed): small uploads work again.
    assert srv.upload_one("again.txt", b"space is back 5c3e\n")["status"] == "pending"
