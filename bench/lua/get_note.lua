-- GET one note, a random id of the big workspace each time.
local ids = {}
local prefix

function init(args)
  local f = assert(io.open(os.getenv("BENCH_IDS_FILE")))
  for line in f:lines() do
    if #line > 0 then ids[#ids + 1] = line end
  end
  f:close()
  prefix = "/v1/workspaces/" .. os.getenv("BENCH_WORKSPACE") .. "/notes/"
  math.randomseed(os.time())
end

function request()
  return wrk.format("GET", prefix .. ids[math.random(#ids)])
end
