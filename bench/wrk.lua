-- One bench scenario for wrk: `wrk -s bench/wrk.lua <url> -- <scenario> <data.lua>`.
-- Every request rotates over users (and their tasks), so caches keyed by user or task are
-- exercised the way many clients would exercise them, not by one hot row.
-- Requests that never change are formatted once in init(): wrk and the server share two cores,
-- so time spent building requests in Lua would be taken from the server.

local scenario, data
local fixed = {}
local counter = 0

-- setup() and done(), beside this file whatever directory wrk runs in.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk-common.lua")

local json_headers = function(auth)
  return { ["Authorization"] = auth, ["Content-Type"] = "application/json" }
end

function init(args)
  scenario, data = args[1], dofile(args[2])
  counter = offset or 0
  local users = data.users
  if scenario == "list" then
    for i, u in ipairs(users) do
      fixed[i] = wrk.format("GET", "/api/tasks?status=pending&limit=50", { ["Authorization"] = u.auth })
    end
  elseif scenario == "big" then
    fixed[1] = wrk.format("GET", "/api/tasks?status=pending&limit=50", { ["Authorization"] = data.big.auth })
  elseif scenario == "get" or scenario == "toggle" then
    -- Task-major order: consecutive requests go to different users.
    for t = 1, #users[1].tasks do
      for _, u in ipairs(users) do
        local id = u.tasks[t]
        if scenario == "get" then
          fixed[#fixed + 1] = wrk.format("GET", "/api/tasks/" .. id, { ["Authorization"] = u.auth })
        else
          fixed[#fixed + 1] = wrk.format("PATCH", "/api/tasks/" .. id .. "/complete", { ["Authorization"] = u.auth })
        end
      end
    end
  elseif scenario ~= "create" and scenario ~= "update" then
    error("unknown scenario " .. tostring(scenario))
  end
end

local priorities = { "low", "medium", "high" }

function request()
  counter = counter + 1
  if #fixed > 0 then
    return fixed[counter % #fixed + 1]
  end
  local users = data.users
  local u = users[counter % #users + 1]
  if scenario == "create" then
    local body = '{"title":"Bench task ' .. counter .. '","priority":"' .. priorities[counter % 3 + 1] .. '"}'
    return wrk.format("POST", "/api/tasks", json_headers(u.auth), body)
  end
  local id = u.tasks[math.floor(counter / #users) % #u.tasks + 1]
  local body = '{"title":"Renamed ' .. counter .. '","priority":"' .. priorities[counter % 3 + 1]
    .. '","due_date":"2026-12-01T17:00:00.000Z"}'
  return wrk.format("PUT", "/api/tasks/" .. id, json_headers(u.auth), body)
end
