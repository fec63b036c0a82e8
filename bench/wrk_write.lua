-- wrk: a write mix through the REST API v1, each request one user action with one event:
-- like, unlike and comment, in turn, on random posts, as one of the bench users per thread.
-- Needs TOKENS (comma-separated API tokens) and POSTS (highest post id; ids 1..POSTS).
dofile("bench/wrk_report.lua")

local tokens = {}
for token in string.gmatch(os.getenv("TOKENS") or "", "[^,]+") do tokens[#tokens + 1] = token end
local posts = tonumber(os.getenv("POSTS") or "100")
local counter = 0
local thread_index = 0

setup = function(thread)
  thread_index = thread_index + 1
  thread:set("token", tokens[(thread_index - 1) % #tokens + 1])
end

request = function()
  counter = counter + 1
  local post = math.random(1, posts)
  local headers = {["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json"}
  local step = counter % 3
  if step == 0 then
    return wrk.format("POST", "/api/v1/posts/" .. post .. "/like/", headers, "")
  elseif step == 1 then
    return wrk.format("DELETE", "/api/v1/posts/" .. post .. "/like/", headers, "")
  end
  return wrk.format("POST", "/api/v1/posts/" .. post .. "/comments/", headers,
    '{"body": "bench comment ' .. counter .. '"}')
end
