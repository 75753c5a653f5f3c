-- POST a new note of about 2 KB; the payload template comes from the driver.
local template
local path
local n

function init(args)
  local f = assert(io.open(os.getenv("BENCH_PAYLOAD")))
  template = f:read("*a")
  f:close()
  path = "/v1/workspaces/" .. os.getenv("BENCH_WORKSPACE") .. "/notes"
  wrk.headers["Content-Type"] = "application/json"
  math.randomseed(os.time())
  n = math.random(1, 1000000000)
end

function request()
  n = n + 1
  return wrk.format("POST", path, nil, (template:gsub("__N__", tostring(n))))
end
