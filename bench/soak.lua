-- wrk script of bench/soak.sh: every connection cycles through a mix of requests, half of them
-- uploads (a small file stored inline with its job, or now and then a 96 KiB one that goes
-- through a temporary file into the blob store) and half reads (queue, stats, the job list,
-- health). Counts the answers that are not 2xx and prints one RESULT line at the end.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local boundary = "----sluicesoak5c2e91"

local function upload_body(name, kib)
  local line = string.rep("0123456789abcdef", 4) -- 64 bytes, never the boundary
  local content = string.rep(line, 16 * kib)
  return "--" .. boundary .. "\r\n" ..
    'Content-Disposition: form-data; name="tenant"\r\n\r\nsoak\r\n' ..
    "--" .. boundary .. "\r\n" ..
    'Content-Disposition: form-data; name="files"; filename="' .. name .. '"\r\n' ..
    "Content-Type: application/octet-stream\r\n\r\n" .. content .. "\r\n" ..
    "--" .. boundary .. "--\r\n"
end

local requests = {}
local n = 0

function init(args)
  local up = { ["Content-Type"] = "multipart/form-data; boundary=" .. boundary }
  local small = upload_body("small.bin", 1)
  local large = upload_body("large.bin", 96)
  requests = {
    wrk.format("POST", "/api/integration/upload", up, small),
    wrk.format("GET", "/api/integration/queue"),
    wrk.format("POST", "/api/integration/upload", up, small),
    wrk.format("GET", "/api/integration/stats?days=7"),
    wrk.format("POST", "/api/integration/upload", up, large),
    wrk.format("GET", "/api/integration/jobs?limit=20"),
    wrk.format("POST", "/api/integration/upload", up, small),
    wrk.format("GET", "/healthz"),
  }
  bad = 0
end

function request()
  n = n + 1
  return requests[(n - 1) % #requests + 1]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    if bad <= 3 then
      io.stderr:write("soak: answer " .. status .. ": " .. body:sub(1, 200) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local non2xx = 0
  for _, t in ipairs(threads) do non2xx = non2xx + (t:get("bad") or 0) end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d non2xx=%d " ..
    "connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.max, non2xx,
    e.connect, e.read, e.write, e.timeout))
end
