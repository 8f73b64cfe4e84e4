-- wrk script for the measured scenarios. Args (after --):
--   scenario ids_file run_tag [bulk_ops | group_id group_members]
-- scenario: get_by_id | filter_eq | filter_sw | list | cursor_pages | group_add | group_remove | create
--           | bulk_create
-- ids_file: "<id> <userName>" lines written by the loader.
-- run_tag: makes the userNames of `create` and `bulk_create` unique across runs.
-- bulk_ops: user creates per /Bulk request of `bulk_create` (default 10000).
-- group_add/group_remove: PATCH the group whose members are the first group_members ids of
-- ids_file: group_remove removes one of them, group_add adds one of the next group_members ids.
-- wrk's URL must be the SCIM base, e.g. http://127.0.0.1:8080/scim/v2
-- done() prints one "@@result key=value..." line that bench/run.sh parses.
dofile(debug.getinfo(1, "S").source:sub(2):match("^(.*/)") .. "common.lua")

local next_tid = 0
local threads = {}
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  threads[#threads + 1] = thread
end

-- cursor_pages: every answer hands its nextCursor (or "" after the last page, to start again) to
-- the next request, so each chain of requests walks the pages in order, one chain per connection.
-- wrk does not say which connection an answer came on, so chains and connections pair loosely.
local function follow_cursor(status, headers, body)
  waiting[#waiting + 1] = (status == 200 and body:match('"nextCursor":"([^"]+)"')) or ""
end

function init(args)
  scenario, ids_file, run_tag = args[1], args[2], args[3]
  bulk_ops = (scenario == "bulk_create") and tonumber(args[4] or "10000") or 0
  base = wrk.path:gsub("/$", "")
  math.randomseed(os.time() * 1000 + tid)
  values = {}
  if scenario == "get_by_id" or scenario == "filter_eq" then
    -- Keep only the column this scenario needs: 1M ids fit easily per thread.
    local col = (scenario == "get_by_id") and "^(%S+)" or "^%S+ (%S+)"
    for line in io.lines(ids_file) do values[#values + 1] = line:match(col) end
    assert(#values > 0, "no ids in " .. ids_file)
  elseif scenario == "group_add" or scenario == "group_remove" then
    group_path = base .. "/Groups/" .. args[4]
    local members = tonumber(args[5])
    -- Members are lines 1..members; group_add draws from the lines after them.
    local first = (scenario == "group_add") and members + 1 or 1
    local n = 0
    for line in io.lines(ids_file) do
      n = n + 1
      if n >= first and n < first + members then values[#values + 1] = line:match("^(%S+)") end
    end
    assert(#values > 0, "no ids for " .. scenario)
  end
  post_headers = headers_with({ ["Content-Type"] = "application/scim+json" })
  created = 0
  if scenario == "cursor_pages" then
    -- Defined only here: wrk copies every answer's body into Lua when a script has response().
    waiting, started, followed = {}, 0, 0
    response = follow_cursor
  end
  static = {
    filter_sw = base .. "/Users?filter=" .. url_encode('name.familyName sw "Smi"') .. "&count=100",
    list = base .. "/Users?startIndex=1&count=100",
  }
end

function request()
  if scenario == "get_by_id" then
    return wrk.format("GET", base .. "/Users/" .. values[math.random(#values)])
  elseif scenario == "filter_eq" then
    local f = 'userName eq "' .. values[math.random(#values)] .. '"'
    return wrk.format("GET", base .. "/Users?filter=" .. url_encode(f))
  elseif scenario == "cursor_pages" then
    local cursor = table.remove(waiting, 1) or ""
    if cursor == "" then started = started + 1 else followed = followed + 1 end
    return wrk.format("GET", base .. "/Users?count=100&cursor=" .. cursor)
  elseif scenario == "create" then
    created = created + 1
    local name = string.format("bench-%s-%d-%d@example.com", run_tag, tid, created)
    return wrk.format("POST", base .. "/Users", post_headers, user_body(name, created))
  elseif scenario == "group_add" or scenario == "group_remove" then
    local id = values[math.random(#values)]
    local op = (scenario == "group_add")
      and string.format('{"op":"add","path":"members","value":[{"value":"%s"}]}', id)
      or string.format('{"op":"remove","path":"members[value eq \\"%s\\"]"}', id)
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' .. op .. ']}'
    return wrk.format("PATCH", group_path, post_headers, body)
  elseif scenario == "bulk_create" then
    local ops = {}
    for i = 1, bulk_ops do
      created = created + 1
      local name = string.format("bulk-%s-%d-%d@example.com", run_tag, tid, created)
      ops[i] = string.format('{"method":"POST","path":"/Users","bulkId":"u%d","data":%s}', i,
        user_body(name, created))
    end
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":['
      .. table.concat(ops, ",") .. "]}"
    return wrk.format("POST", base .. "/Bulk", post_headers, body)
  elseif static[scenario] then
    return wrk.format("GET", static[scenario])
  end
  error("unknown scenario " .. tostring(scenario))
end

function done(summary, latency, requests)
  local started, followed = 0, 0
  for _, t in ipairs(threads) do
    started, followed = started + (t:get("started") or 0), followed + (t:get("followed") or 0)
  end
  if started > 0 then
    io.write(string.format("cursor_pages: %d walks started, %d pages requested with a cursor\n", started, followed))
  end
  local e = summary.errors
  io.write(string.format(
    "@@result requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
