-- wrk script of bench/upload.sh: POSTs a multipart/form-data body of N files (wrk ... -- N
-- [KiB], default 1 file of 4 KiB) to /api/integration/upload, counts the answers that are not
-- 202, and prints one RESULT line (requests, rate, latency percentiles in us, non-202 count).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local files = tonumber(args[1] or "1")
  local kib = tonumber(args[2] or "4")
  local boundary = "----sluicebench7d1f0c2e"
  -- 4 KiB of printable bytes that never contain the boundary
  local line = string.rep("0123456789abcdef", 4) -- 64 bytes
  local content = string.rep(line, 16 * kib)
  local parts = {}
  for i = 1, files do
    parts[#parts + 1] = "--" .. boundary .. "\r\n" ..
      'Content-Disposition: form-data; name="files"; filename="f' .. i .. '.bin"\r\n' ..
      "Content-Type: application/octet-stream\r\n\r\n" .. content .. "\r\n"
  end
  parts[#parts + 1] = "--" .. boundary .. "--\r\n"
  wrk.method = "POST"
  wrk.path = "/api/integration/upload"
  wrk.body = table.concat(parts)
  wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
  non202 = 0
end

function response(status, headers, body)
  if status ~= 202 then
    non202 = non202 + 1
    if non202 <= 3 then io.stderr:write("non-202 answer: " .. status .. " " .. body:sub(1, 200) .. "\n") end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("non202") or 0) end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d seconds=%.3f rps=%.2f p50_us=%d p99_us=%d non202=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), bad,
    e.connect + e.read + e.write + e.timeout))
end
