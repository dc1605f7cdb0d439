-- wrk script: replays the requests written by examples/bench_requests.rs. Thread t of n takes
-- the requests t, t + n, t + 2n, …, so no two threads send the same message; run with a pool
-- much larger than replyd's dedup_capacity and no request is ever answered from the retry
-- cache. Arguments: the pool file, the number of wrk threads.
local requests = {}
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    local target, body = line:match("^([^\t]+)\t(.*)$")
    requests[#requests + 1] = { target, body }
  end
  file:close()
  step = tonumber(args[2]) or 1
  counter = tid or 0
end

function request()
  local r = requests[(counter % #requests) + 1]
  counter = counter + step
  return wrk.format("POST", r[1], { ["Content-Type"] = "text/xml" }, r[2])
end
