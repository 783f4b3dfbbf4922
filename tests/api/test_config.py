"""Configuration: bad values stop start-up; .env.local and .env feed every variable."""

import json
import os
import subprocess

import pytest

import conftest
from conftest import BIN, free_port, sanitizer_report


def serve_expect_exit(srv, env, with_port=True, timeout=10):
    """Runs `sluice serve` and expects it to exit by itself; returns (code, stderr)."""
    args = [BIN, "serve", "--host", "127.0.0.1", "--no-cron"]
    if with_port:
        args += ["--port", str(free_port())]
    proc = subprocess.Popen(args, cwd=srv.workdir, env=srv.full_env(env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"`sluice serve` with {env} did not exit; it should refuse to start.\n"
                    f"stderr:\n{err.decode(errors='replace')}")
    err = err.decode(errors="replace")
    assert sanitizer_report(err) is None, err
    return proc.returncode, err


def assert_one_line_naming(code, err, name):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 1, f"expected exit 1, got {code}; stderr:\n{err}"
    assert len(lines) == 1, f"expected a one-line message, got:\n{err}"
    assert name in lines[0], f"the message must name {name!r}: {lines[0]!r}"


@pytest.mark.parametrize("name,value", [
    ("SLUICE_BATCH_SIZE", "abc"),
    ("SLUICE_BATCH_SIZE", "5x"),
    ("SLUICE_BATCH_SIZE", "-1"),
    ("SLUICE_MAX_ATTEMPTS", "abc"),
    ("SLUICE_MAX_UPLOAD_BYTES", "lots"),
    ("SLUICE_JOB_TIMEOUT_SECONDS", "soon"),
])
def test_bad_value_stops_serve(make_server, name, value):
    srv = make_server(start=False)
    code, err = serve_expect_exit(srv, {name: value})
    assert_one_line_naming(code, err, name)


@pytest.mark.parametrize("value", ["99999", "abc", "-1"])
def test_bad_port_stops_serve(make_server, value):
    srv = make_server(start=False)
    code, err = serve_expect_exit(srv, {"PORT": value}, with_port=False)
    assert_one_line_naming(code, err, "PORT")


def test_bad_value_in_env_local_is_named_too(make_server):
    srv = make_server(start=False, files={".env.local": "SLUICE_BATCH_SIZE=abc\n"})
    code, err = serve_expect_exit(srv, {})
    assert_one_line_naming(code, err, "SLUICE_BATCH_SIZE")


def test_broken_dotenv_line_stops_serve(make_server):
    srv = make_server(start=False, files={".env": "CRON_SECRET=ok\n=nokey\n"})
    code, err = serve_expect_exit(srv, {})
    assert_one_line_naming(code, err, ".env")


def test_broken_env_local_line_stops_serve(make_server):
    srv = make_server(start=False, files={".env.local": "=nokey\n"})
    code, err = serve_expect_exit(srv, {})
    assert_one_line_naming(code, err, ".env.local")


def test_bad_value_stops_cli_process(make_server):
    srv = make_server(start=False)
    cp = srv.cli("process", "--json", env={"SLUICE_BATCH_SIZE": "abc"})
    assert_one_line_naming(cp.returncode, cp.err, "SLUICE_BATCH_SIZE")


def test_dotenv_files_feed_sluice_variables_with_precedence(make_server):
    files = {".env": "SLUICE_MAX_ATTEMPTS=4\nSLUICE_BATCH_SIZE=1\n",
             ".env.local": "# comment\n\nSLUICE_MAX_ATTEMPTS=5\n"}
    srv = make_server(files=files)
    assert srv.upload_one()["maxAttempts"] == 5, ".env.local wins over .env"
    srv.upload_one()
    assert srv.batch()["processed"] == 1, "SLUICE_BATCH_SIZE=1 from .env applies"
    srv.restart(env={"SLUICE_MAX_ATTEMPTS": "6"})
    assert srv.upload_one()["maxAttempts"] == 6, "the process environment wins"


def test_dotenv_quoted_values(make_server):
    srv = make_server(files={".env.local": 'CRON_SECRET="quoted secret"\n'})
    srv.check_error(srv.get("/api/cron/process-integration-jobs"), 401)
    srv.batch(headers={"Authorization": "Bearer quoted secret"})


AWS_NAMES = ("AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


@pytest.mark.skipif(not conftest.ON_S3, reason="needs the S3 server of `make api-pg`")
def test_s3_settings_from_dotenv_reach_the_blob_store_not_processors(make_server):
    """AWS_* in .env configure the S3 store like any setting in .env, and, like the others,
    stay out of the environment that command processors inherit."""
    outer = {n: os.environ[n] for n in AWS_NAMES if n in os.environ}
    assert "AWS_ACCESS_KEY_ID" in outer, "make api-pg sets the AWS_* variables"
    dotenv = "".join(f"{n}={v}\n" for n, v in outer.items())
    conf = {"processors": {"envdump": {"command": ["sh", "-c", "env > seen-env.txt"]}}}
    srv = make_server(env={**{n: None for n in AWS_NAMES}, "SLUICE_INLINE_MAX_BYTES": "0"},
                      files={".env": dotenv, "sluice.json": json.dumps(conf)})
    data = b"stored through credentials from .env 5d1c"
    job = srv.upload_one("e.txt", data, type="envdump")
    body = srv.batch()
    assert body["succeeded"] == 1, body
    seen = (srv.workdir / "seen-env.txt").read_text()
    for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert f"{n}=" not in seen, f"{n} from .env leaked into a processor's environment"
    got = srv.get(f"/api/integration/jobs/{job['id']}/file")
    assert got.status_code == 200 and got.content == data, got.status_code
