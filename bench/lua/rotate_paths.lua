-- GET each path of BENCH_PATHS (one a line) in turn, so that a scenario rotates its queries.
local paths = {}
local i = 0

function init(args)
  local f = assert(io.open(os.getenv("BENCH_PATHS")))
  for line in f:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  f:close()
  math.randomseed(os.time())
  i = math.random(0, #paths - 1)
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
