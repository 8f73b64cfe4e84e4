-- Shared by load.lua and scenarios.lua: deterministic fake user data.
-- Loaded with dofile(); wrk gives every thread its own Lua state.

-- 40 prefixes x 25 suffixes = 1000 distinct surnames. No prefix is a prefix
-- of another, so all 1000 differ; exactly one prefix is "Smi", so the filter
-- `name.familyName sw "Smi"` matches 25/1000 = 2.5% of the users.
local prefixes = {
  "Ab", "Bal", "Bar", "Ben", "Bro", "Cal", "Car", "Cor", "Dal", "Dun",
  "Eld", "Far", "Fen", "Gar", "Gil", "Hal", "Har", "Hol", "Ing", "Jar",
  "Kel", "Kin", "Lan", "Lor", "Mac", "Mar", "Mor", "Nor", "Old", "Pal",
  "Pen", "Ral", "Ros", "San", "Smi", "Tal", "Thor", "Van", "Wal", "Wes",
}
local suffixes = {
  "th", "ley", "son", "ford", "man", "ton", "wood", "well", "by", "wick",
  "field", "more", "worth", "ridge", "bury", "stone", "croft", "ham", "land",
  "er", "ing", "ell", "ett", "hurst", "ow",
}
local surnames = {}
for _, p in ipairs(prefixes) do
  for _, s in ipairs(suffixes) do surnames[#surnames + 1] = p .. s end
end

local given = {
  "Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi", "Ivan",
  "Judy", "Karl", "Laura", "Mallory", "Niaj", "Olivia", "Peggy", "Quentin",
  "Rupert", "Sybil", "Trent", "Ursula", "Victor", "Walter", "Xavier", "Yvonne",
  "Zoe",
}

local template = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
  .. '"userName":"%s","name":{"givenName":"%s","familyName":"%s"},'
  .. '"emails":[{"value":"%s","type":"work","primary":true}],"active":%s}'

-- JSON body of a new user. `n` picks the name fields deterministically
-- (7919 is prime, so n*7919 mod 1000 spreads consecutive n over all surnames).
function user_body(user_name, n)
  return string.format(template, user_name, given[n % #given + 1],
    surnames[(n * 7919) % #surnames + 1], user_name,
    (n % 10 == 0) and "false" or "true")
end

function url_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

-- wrk.format() replaces wrk.headers (the -H options) when given headers, so
-- custom headers must start from a copy of them.
function headers_with(extra)
  local h = {}
  for k, v in pairs(wrk.headers) do h[k] = v end
  for k, v in pairs(extra) do h[k] = v end
  return h
end
