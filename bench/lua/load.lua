-- wrk script that creates exactly `total` users user{i}@example.com, i in
-- [0, total), split across wrk threads (thread t takes i = t, t+T, t+2T...).
--
-- wrk always runs for its whole -d duration, so completion is signalled to
-- bench/run.sh instead: each thread writes "<dir>/done.<t>" once every one of
-- its POSTs has an answer, and run.sh then stops wrk with SIGINT.
-- Created users are recorded as "<id> <userName>" lines in "<dir>/ids.<t>".
--
-- Args (after --): total threads dir filler_path
--   filler_path: a cheap GET sent by a connection whose thread has no POST
--   left to send (wrk needs a request for every idle connection).
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "common.lua")

local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function init(args)
  total, nthreads, dir, filler_path = tonumber(args[1]), tonumber(args[2]), args[3], args[4]
  share = (tid < total) and (math.floor((total - tid - 1) / nthreads) + 1) or 0
  next_i, sent, answered, failed = tid, 0, 0, 0
  out = io.open(dir .. "/ids." .. tid, "w")
  post_headers = headers_with({ ["Content-Type"] = "application/scim+json" })
  filler = wrk.format("GET", filler_path)
  if share == 0 then finish() end
end

function finish()
  out:close()
  local f = io.open(dir .. "/done." .. tid, "w")
  f:write(string.format("%d %d\n", share, failed))
  f:close()
  wrk.thread:stop()
end

function request()
  if sent >= share then return filler end
  local i = next_i
  next_i, sent = next_i + nthreads, sent + 1
  local name = "user" .. i .. "@example.com"
  return wrk.format("POST", nil, post_headers, user_body(name, i))
end

function response(status, headers, body)
  -- Answers to POSTs carry the user (or fail); filler answers are 2xx
  -- without a userName and are ignored.
  local is_user = body:find('"userName"', 1, true)
  if status < 300 and not is_user then return end
  answered = answered + 1
  if status < 300 then
    local id = body:match('"id"%s*:%s*"([^"]+)"')
    local user_name = body:match('"userName"%s*:%s*"([^"]+)"')
    out:write(id, " ", user_name, "\n")
  else
    failed = failed + 1
    if failed <= 3 then
      io.stderr:write("load: POST answered ", status, ": ", body:sub(1, 200), "\n")
    end
  end
  if answered == share then finish() end
end
