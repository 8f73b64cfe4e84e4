-- wrk script that creates exactly `total` users user{i}@example.com, i in
-- [0, total), split across wrk threads (thread t takes i = t, t+T, t+2T...).
-- Created users are recorded as "<id> <userName>" lines in "<dir>/ids.<t>".
--
-- wrk gives the Lua side no link between a request and its response, and it
-- silently drops a request whose connection breaks before the answer (it
-- reconnects and asks request() for a new one). So each thread tracks which
-- of its users are not created yet, keyed by the userName echoed in the 201
-- body, and once a round of sends has drained (every POST answered, or no
-- POST answer for IDLE_S seconds) it re-sends the missing ones, up to
-- MAX_ROUNDS rounds.
--
-- wrk also always runs for its whole -d duration, so completion is signalled
-- to bench/run.sh instead: each thread writes "<dir>/done.<t>" ("<share>
-- <created> <failed answers>") and run.sh stops wrk with SIGINT.
--
-- Args (after --): total threads dir filler_path
--   filler_path: a cheap GET sent on a connection when its thread has no POST
--   to send right now (wrk wants a request for every idle connection).
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "common.lua")

local IDLE_S, MAX_ROUNDS = 3, 5

local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function init(args)
  total, nthreads, dir, filler_path = tonumber(args[1]), tonumber(args[2]), args[3], args[4]
  share = (tid < total) and (math.floor((total - tid - 1) / nthreads) + 1) or 0
  next_i = tid          -- next never-sent index
  first_pass_sent = 0
  queue, queue_pos = {}, 1   -- retry queue of indices for the current round
  pending = {}          -- index -> true while not created
  sent, answered, created, failed, round = 0, 0, 0, 0, 1
  last_answer = os.time()
  finished = false
  -- wrk calls request() once on thread 0 to check the script, and throws
  -- that request away: give it a filler rather than a user.
  discard_first = (tid == 0)
  out = io.open(dir .. "/ids." .. tid, "w")
  post_headers = headers_with({ ["Content-Type"] = "application/scim+json" })
  filler = wrk.format("GET", filler_path)
  if share == 0 then finish() end
end

function finish()
  finished = true
  out:close()
  local f = io.open(dir .. "/done." .. tid, "w")
  f:write(string.format("%d %d %d\n", share, created, failed))
  f:close()
  wrk.thread:stop()
end

local function post(i)
  pending[i] = true
  sent = sent + 1
  local name = "user" .. i .. "@example.com"
  return wrk.format("POST", nil, post_headers, user_body(name, i))
end

function request()
  if discard_first then
    discard_first = false
    return filler
  end
  if first_pass_sent < share then
    local i = next_i
    next_i, first_pass_sent = next_i + nthreads, first_pass_sent + 1
    return post(i)
  end
  while queue_pos <= #queue do
    local i = queue[queue_pos]
    queue_pos = queue_pos + 1
    if pending[i] then return post(i) end
  end
  return filler
end

-- Called on every answer; ends the round when nothing more will come back.
local function maybe_next_round()
  if finished or first_pass_sent < share or queue_pos <= #queue then return end
  if answered < sent and os.time() - last_answer < IDLE_S then return end
  queue, queue_pos = {}, 1
  for i in pairs(pending) do queue[#queue + 1] = i end
  if #queue == 0 or round >= MAX_ROUNDS then return finish() end
  round = round + 1
  sent, answered = 0, 0
  io.stderr:write(string.format("load: thread %d round %d re-sends %d users\n", tid, round, #queue))
end

function response(status, headers, body)
  -- Filler answers are 2xx without a userName.
  local user_name = body:match('"userName"%s*:%s*"([^"]+)"')
  if user_name or status >= 300 then
    answered = answered + 1
    last_answer = os.time()
    if status < 300 then
      local i = tonumber(user_name:match("^user(%d+)@"))
      if i and pending[i] then
        pending[i] = nil
        created = created + 1
        out:write(body:match('"id"%s*:%s*"([^"]+)"'), " ", user_name, "\n")
      end
    else
      failed = failed + 1
      if failed <= 3 then
        io.stderr:write("load: POST answered ", status, ": ", body:sub(1, 200), "\n")
      end
    end
  end
  maybe_next_round()
end
