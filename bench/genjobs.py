"""Fills the jobs table of a sluice SQLite store (made by `sluice migrate`) with N generated jobs
for bench/growth.sh: created_at spread evenly over the last 90 days (so a 7-day window holds
about 8% of them), ids UUIDv7 of their creation time, 2% failed, the 10 newest pending, the rest
completed; three tenants, four types. The job_counts table follows through the store's own
triggers. Usage: genjobs.py DB_PATH N"""
import os
import random
import sqlite3
import sys
import time

path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
now = int(time.time() * 1000)
span = 90 * 86_400_000
types = ["csv", "json", "file", "ndjson"]
tenants = ["default", "default", "default", "acme", "globex"]


def uuid7(ms):
    r = rnd.getrandbits(74)
    h = "%012x7%03x%x%03x%012x" % (ms, r >> 62, 8 | ((r >> 60) & 3), (r >> 48) & 0xFFF, r & ((1 << 48) - 1))
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def rows():
    for i in range(n):
        created = now - span + (span * i) // n
        jid, up = uuid7(created), uuid7(created)
        typ = types[i % len(types)]
        base = (jid, up, tenants[i % len(tenants)], typ, f"file{i}.{typ}", "application/octet-stream",
                f"{up}/{jid}", 4096, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        if i >= n - 10:
            yield base + ("pending", 0, created, created, None, None, None, 0, None, None)
            continue
        started = created + rnd.randint(0, 120_000)
        took = rnd.randint(5, 500)
        if rnd.random() < 0.02:
            yield base + ("failed", 3, created, created, started, started + took, took, 3,
                          "checksum mismatch", None)
        else:
            yield base + ("completed", 0, created, created, started, started + took, took, 1, None,
                          '{"verified": true}')


db = sqlite3.connect(path)
db.execute("PRAGMA synchronous = OFF")
db.execute("BEGIN")
db.executemany(
    "INSERT INTO jobs (id, upload_id, tenant, type, file_name, content_type, blob_key, size, sha256,"
    " status, attempts, created_at, due_at, started_at, completed_at, processing_ms, fence, error,"
    " result, max_attempts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,3)", rows())
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
