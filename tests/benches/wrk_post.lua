-- scripts/bench's wrk fallback: POSTs the JSON body given after `--`, and prints a JSON summary.
local req
function init(args)
  req = wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, args[1])
end
function request()
  return req
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"non_200":%d,"socket_errors":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
