-- Note writes for `python -m bench agents`: BENCH_METHOD=POST creates a note in
-- BENCH_WORKSPACE, PATCH replaces the body of a random note of BENCH_IDS_FILE (no If-Match).
-- With BENCH_IDEMPOTENCY=1 every request carries an Idempotency-Key of its own:
-- BENCH_KEY_PREFIX (new for every wrk run, from the driver) and a per-request counter, so
-- that no key repeats within a run, across runs, or between the two servers. The same
-- string goes into the body, so that the bodies of (a) and (b) are equally long and every
-- patch changes the note.
local ids = {}
local template
local method
local path
local prefix
local key_prefix
local idempotent
local n = 0

function init(args)
  method = os.getenv("BENCH_METHOD")
  idempotent = os.getenv("BENCH_IDEMPOTENCY") == "1"
  key_prefix = assert(os.getenv("BENCH_KEY_PREFIX"))
  local f = assert(io.open(os.getenv("BENCH_PAYLOAD")))
  template = f:read("*a")
  f:close()
  local workspace = os.getenv("BENCH_WORKSPACE")
  path = "/v1/workspaces/" .. workspace .. "/notes"
  prefix = path .. "/"
  if method == "PATCH" then
    f = assert(io.open(os.getenv("BENCH_IDS_FILE")))
    for line in f:lines() do
      if #line > 0 then ids[#ids + 1] = line end
    end
    f:close()
  end
  wrk.headers["Content-Type"] = "application/json"
  math.randomseed(os.time())
end

function request()
  n = n + 1
  local unique = key_prefix .. "-" .. n
  if idempotent then
    -- wrk.format sends wrk.headers (the -H Authorization and the Content-Type above) when it
    -- is given no headers of its own, so the key goes into that table.
    wrk.headers["Idempotency-Key"] = unique
  end
  local body = template:gsub("__N__", unique)
  if method == "POST" then
    return wrk.format("POST", path, nil, body)
  end
  return wrk.format("PATCH", prefix .. ids[math.random(#ids)], nil, body)
end
