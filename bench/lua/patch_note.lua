-- PATCH the body of a random note without If-Match (last write wins).
-- The counter makes every body new, so that no request takes the "nothing changed" shortcut.
local ids = {}
local template
local prefix
local n

function init(args)
  local f = assert(io.open(os.getenv("BENCH_IDS_FILE")))
  for line in f:lines() do
    if #line > 0 then ids[#ids + 1] = line end
  end
  f:close()
  f = assert(io.open(os.getenv("BENCH_PAYLOAD")))
  template = f:read("*a")
  f:close()
  prefix = "/v1/workspaces/" .. os.getenv("BENCH_WORKSPACE") .. "/notes/"
  wrk.headers["Content-Type"] = "application/json"
  math.randomseed(os.time())
  n = math.random(1, 1000000000)
end

function request()
  n = n + 1
  local body = template:gsub("__N__", tostring(n))
  return wrk.format("PATCH", prefix .. ids[math.random(#ids)], nil, body)
end
