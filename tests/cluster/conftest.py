"""Several `sluice serve` nodes on one store: fixtures and helpers.

A cluster is N `sluice serve` processes on different loopback ports, each in its own working
directory (its own `sluice.json`, `vercel.json` and `SLUICE_DATA_DIR`, which holds only uploads in
flight), sharing one PostgreSQL schema (`SLUICE_TEST_DATABASE_URL`, a fresh schema per cluster)
and one blob prefix (`SLUICE_TEST_BLOB_URL=s3://...`, a fresh prefix per cluster; without it, a
shared `file:` folder). `make cluster` provides both, on a throwaway PostgreSQL cluster and s3rver.
Without `SLUICE_TEST_DATABASE_URL` these tests are skipped: several nodes need a shared server
store.

The server class and helpers are those of tests/api/conftest.py, loaded under another module name.
"""

import importlib.util
import json
import os
import shlex
from collections import namedtuple
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

_spec = importlib.util.spec_from_file_location(
    "sluice_api_conftest", REPO / "tests" / "api" / "conftest.py"
)
api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api)

Server = api.Server
wait_for = api.wait_for
file_part = api.file_part
text_part = api.text_part
sha256_hex = api.sha256_hex
parse_iso = api.parse_iso
sanitizer_report = api.sanitizer_report

BATCH = "/api/cron/process-integration-jobs"

def command_processor(script, timeout_seconds=None):
    """A sluice.json processor that runs `sh -c script` (argv, no shell of sluice's own)."""
    proc = {"command": ["sh", "-c", script]}
    if timeout_seconds is not None:
        proc["timeoutSeconds"] = timeout_seconds
    return proc


def side_effect_script(log: Path, sleep_s=None):
    """A processor body whose side effect is appending to `log` (`>>` opens it O_APPEND, and each
    line is one short write, so lines of concurrent processes never interleave). `$PPID` is the
    `sluice serve` that spawned the processor, `$$` the processor itself, so every line names its
    node. Without sleep_s, one line per run:
        <job id> <node pid> <processor pid> done <sha256 of standard input>
    With sleep_s, a `start` line (with the hash), the sleep, then a `done` line (without)."""
    q = shlex.quote(str(log))
    hashed = "h=$(sha256sum | cut -c1-64)"
    if sleep_s is None:
        return f'{hashed}; echo "$SLUICE_JOB_ID $PPID $$ done $h" >> {q}'
    return (f'{hashed}; echo "$SLUICE_JOB_ID $PPID $$ start $h" >> {q}; sleep {sleep_s}; '
            f'echo "$SLUICE_JOB_ID $PPID $$ done" >> {q}')


SideLine = namedtuple("SideLine", "job node pid what sha")


def read_side_log(log: Path):
    """[SideLine(job, node pid, processor pid, "start"|"done", sha256 or None)]; [] if absent."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        parts = line.split()
        assert len(parts) in (4, 5), f"malformed side-effect line: {line!r}"
        out.append(SideLine(parts[0], int(parts[1]), int(parts[2]), parts[3],
                            parts[4] if len(parts) == 5 else None))
    return out


def process_alive(pid):
    """True while pid runs (a zombie nobody reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


class Node(Server):
    """One node of a cluster: a Server on the cluster's shared schema and blob prefix."""

    def __init__(self, cluster, index, env, cron):
        super().__init__(cluster.root / f"node{index}", env,
                         database_url=cluster.database_url, blob_url=cluster.blob_url)
        self.name = f"node{index}"
        self.cron = cron

    @property
    def pid(self):
        return self.proc.pid if self.proc else None


class Cluster:
    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.database_url = api.fresh_database_url()
        if api.BLOB_URL:
            self.blob_url = api.fresh_blob_url()
        else:
            self.blob_url = f"file:{root / 'shared-blobs'}"
        self.nodes = []

    def add_nodes(self, n, env=None, sluice_json=None, vercel_json=None, cron=False, start=True):
        """Starts n more nodes with the same environment and configuration files."""
        added = []
        for _ in range(n):
            node = Node(self, len(self.nodes), env, cron)
            self.nodes.append(node)
            if sluice_json is not None:
                node.write("sluice.json", json.dumps(sluice_json))
            if vercel_json is not None:
                node.write("vercel.json", json.dumps(vercel_json))
            added.append(node)
        if start:
            for node in added:
                node.start()
        return added

    def logs(self):
        return "\n".join(
            f"--- {n.name} (pid {n.pid}) ---\n{n.log_tail(60)}" for n in self.nodes
        )

    def teardown(self):
        reports = []
        for node in self.nodes:
            try:
                if node.proc is not None and node.proc.poll() is None:
                    node.proc.terminate()
                    try:
                        node.proc.wait(timeout=api.STOP_TIMEOUT)
                    except Exception:  # noqa: BLE001 - kill whatever did not stop
                        pass
            finally:
                node.kill()
            rep = sanitizer_report(node.log(all_runs=True))
            if rep:
                reports.append(f"{node.name}:\n{rep}")
        return reports


@pytest.fixture
def cluster(tmp_path):
    """A Cluster in a fresh directory; every node is stopped (then killed) at teardown."""
    if api.PG_URL is None:
        pytest.skip("needs SLUICE_TEST_DATABASE_URL: several nodes share a PostgreSQL store "
                    "(run `make cluster`)")
    c = Cluster(tmp_path / "cluster")
    yield c
    reports = c.teardown()
    if reports:
        pytest.fail("sanitizer report in a node's log:\n" + "\n".join(reports))
