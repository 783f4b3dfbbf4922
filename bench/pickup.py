"""Client side of bench/pickup.sh: uploads N small files one after another to a sluice server in
continuous mode (each upload waits for its 202, not for its job), waits until the queue is
empty, then prints one line:
  pickup_p50 pickup_p99 pickup_mean upload_p50 upload_p99 jobs made_p50 made_p99   (ms)
where pickup runs from the moment the client has the 202 to the job's processor starting, and
made_* from the making of the job's id (before the upload's durable commit) to the same start.
The start comes from the server log ("picked up X ms after upload", X counted from the id's
time, which sluice keeps to 1/4096 ms in the UUIDv7), cross-checked against startedAt - createdAt
(whole ms); upload is the request's round trip.
Usage: pickup.py PORT N GAP_MS SERVER_LOG"""
import datetime
import http.client
import json
import math
import sys
import time

import re

port, n, gap_ms, log_path = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
PICKED = re.compile(r"job (\S+) completed in \d+ms, picked up ([0-9.]+) ms after upload")
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
boundary = "----sluicepickup5e1b"
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"p.bin\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n{'x' * 64}\r\n--{boundary}--\r\n").encode()
headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def call(method, path, payload=None, hdrs=None):
    conn.request(method, path, body=payload, headers=hdrs or {})
    r = conn.getresponse()
    return r.status, r.read()


def pct(values, p):  # nearest rank
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def ms(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def id_time_us(job_id):
    """When a UUIDv7 was made: its ms, plus the ms fraction sluice keeps in rand_a (1/4096 ms)."""
    h = job_id.replace("-", "")
    return int(h[0:12], 16) * 1000 + int(h[13:16], 16) * 1000 / 4096


ids, rtt, acked = [], [], {}
for _ in range(n):
    t0 = time.perf_counter()
    status, data = call("POST", "/api/integration/upload", body, headers)
    t_ack = time.time_ns() / 1000  # the 202 is here (same clock as the server's ids: realtime)
    rtt.append((time.perf_counter() - t0) * 1000)
    if status != 202:
        sys.exit(f"pickup: upload answered {status}: {data[:200]!r}")
    for i in json.loads(data)["jobIds"]:
        ids.append(i)
        acked[i] = t_ack
    if gap_ms > 0:
        time.sleep(gap_ms / 1000)

deadline = time.time() + 60
while True:
    q = json.loads(call("GET", "/api/integration/queue")[1])
    if q["pending"] == 0 and q["processing"] == 0:
        break
    if time.time() > deadline:
        sys.exit(f"pickup: jobs still queued after 60 s: {q}")
    time.sleep(0.05)

coarse = {}
for i in ids:
    status, data = call("GET", f"/api/integration/jobs/{i}")
    job = json.loads(data)
    if status != 200 or not job.get("startedAt"):
        sys.exit(f"pickup: job {i} has not started: {job}")
    coarse[i] = ms(job["startedAt"]) - ms(job["createdAt"])

with open(log_path) as f:
    picked = {m.group(1): float(m.group(2)) for m in map(PICKED.search, f) if m}
waits, after_ack = [], []
for i in ids:
    if i not in picked:
        sys.exit(f"pickup: no 'picked up' line for job {i} in {log_path}")
    # from the id (made before createdAt) to the processor start (after startedAt, the claim):
    # never more than a rounding below the whole-ms figure
    if picked[i] < coarse[i] - 2:
        sys.exit(f"pickup: job {i}: log says {picked[i]} ms, job times say {coarse[i]} ms")
    waits.append(picked[i])
    # the processor's start on the real-time clock, minus when the client had the 202 (negative:
    # the job started before the answer reached the client)
    after_ack.append((id_time_us(i) + picked[i] * 1000 - acked[i]) / 1000)

print("%.3f %.3f %.3f %.3f %.3f %d %.3f %.3f" % (
    pct(after_ack, 50), pct(after_ack, 99), sum(after_ack) / len(after_ack),
    pct(rtt, 50), pct(rtt, 99), len(waits), pct(waits, 50), pct(waits, 99)))
