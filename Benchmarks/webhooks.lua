-- wrk script: sends the signed webhooks of PARLEY_BENCH_REQUESTS (lines "signature<TAB>body"),
-- each thread its own share of the lines, each line once before any is sent again (`wraps` counts
-- a thread starting over: a row whose runs wrap sends repeated MessageSids, which Parley answers
-- from its dedupe record). Prints one line of figures for ParleyBench to read.
--
-- wrk runs each thread's init() in its main thread and starts that thread right after it, then
-- starts its clock once the last thread is started. Each init reads the whole file (about 2 s), so
-- thread 1 of 2 sent requests for 2 s before the clock started, all counted in a 10-s run's rate.
-- Here the last thread's init leaves a file at PARLEY_BENCH_READY, and no thread sends its first
-- request before that file exists. (wrk's main thread calls thread 0's request() once, to check
-- it, before starting any thread: that call must not wait.)
local ffi = require("ffi")
ffi.cdef("int usleep(unsigned int usec);")
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file = os.getenv("PARLEY_BENCH_REQUESTS")
  local count = tonumber(os.getenv("PARLEY_BENCH_THREADS"))
  local host = os.getenv("PARLEY_BENCH_HOST")
  requests_ = {}
  local line_number = 0
  for line in io.lines(file) do
    if line_number % count == id then
      local signature, body = line:match("^([^\t]*)\t(.*)$")
      requests_[#requests_ + 1] = wrk.format("POST", "/sms", {
        ["Host"] = host,
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body)
    end
    line_number = line_number + 1
  end
  next_ = 0
  wraps = 0
  ready_ = os.getenv("PARLEY_BENCH_READY")
  started_ = false
  -- Only thread 0's first request() is wrk's check, made before any thread starts.
  checked_ = id ~= 0
  if id == count - 1 then
    io.open(ready_, "w"):close()
  end
end

-- Returns once the last thread's init() has run (at once after the first time).
local function wait_until_ready()
  while not started_ do
    local file = io.open(ready_, "r")
    if file then
      file:close()
      started_ = true
    else
      ffi.C.usleep(1000)
    end
  end
end

function request()
  if checked_ then
    wait_until_ready()
  else
    checked_ = true
  end
  next_ = next_ + 1
  if next_ > #requests_ then
    next_ = 1
    wraps = wraps + 1
  end
  return requests_[next_]
end

function done(summary, latency, requests)
  local wrapped = 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + (thread:get("wraps") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    "PARLEY_BENCH requests=%d duration_us=%d p10_us=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%d stdev_us=%d connect=%d read=%d write=%d timeout=%d status=%d wraps=%d\n",
    summary.requests, summary.duration, latency:percentile(10), latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max,
    latency.mean, latency.stdev, errors.connect, errors.read, errors.write, errors.timeout,
    errors.status, wrapped))
end
