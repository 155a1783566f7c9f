-- wrk script of gatehouse-bench. Configured through environment variables,
-- so that one script serves every scenario:
--   BENCH_METHOD, BENCH_PATH      the request line
--   BENCH_CONTENT_TYPE            the Content-Type of the body, if any
--   BENCH_BODY_FILE               a file holding the body, if any
--   BENCH_TOKEN                   one bearer token sent with every request
--   BENCH_CYCLE_FILE              a file of lines; request n of the run uses
--   BENCH_CYCLE_KIND              line n: "bearer" (a token) or "body"
--   BENCH_THREADS                 wrk's -t, to split the lines between threads
-- done() prints one line "BENCH-RESULT {json}" that gatehouse-bench parses.

local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local ctype = os.getenv("BENCH_CONTENT_TYPE") or ""
local token = os.getenv("BENCH_TOKEN") or ""
local bodyfile = os.getenv("BENCH_BODY_FILE") or ""
local cyclefile = os.getenv("BENCH_CYCLE_FILE") or ""
local cyclekind = os.getenv("BENCH_CYCLE_KIND") or "bearer"
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

local function slurp(name)
  local f = assert(io.open(name, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

wrk.method = method
wrk.path = path
if ctype ~= "" then wrk.headers["Content-Type"] = ctype end
if token ~= "" then wrk.headers["Authorization"] = "Bearer " .. token end
if bodyfile ~= "" then wrk.body = slurp(bodyfile) end

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

if cyclefile ~= "" then
  -- Each thread takes every nthreads-th line, so that the threads together
  -- go through the whole list before any line comes again.
  local reqs, n, i = {}, 0, 0
  function init(args)
    local k = 0
    for line in io.lines(cyclefile) do
      if line ~= "" then
        if k % nthreads == id then
          local headers = {}
          for name, value in pairs(wrk.headers) do headers[name] = value end
          local body = wrk.body
          if cyclekind == "bearer" then
            headers["Authorization"] = "Bearer " .. line
          else
            body = line
          end
          n = n + 1
          reqs[n] = wrk.format(method, path, headers, body)
        end
        k = k + 1
      end
    end
    assert(n > 0, "no lines for this thread in " .. cyclefile)
  end
  function request()
    i = i + 1
    if i > n then i = 1 end
    return reqs[i]
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
