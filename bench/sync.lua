-- The sync scenarios for wrk (see bench/sync.ts): `wrk -s bench/sync.lua <url> -- <scenario> <data.lua>`.
-- Every request is conditional on what the user last saw, so a server that works answers 304 or an
-- empty feed page; requests rotate over users (and tasks) as in wrk.lua, formatted once in init().

local fixed = {}
local counter = 0

-- setup() and done(), beside this file whatever directory wrk runs in.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk-common.lua")

function init(args)
  local scenario, data = args[1], dofile(args[2])
  counter = offset or 0
  local users = data.users
  if scenario == "get304" then
    -- Task-major order: consecutive requests go to different users.
    for t = 1, #users[1].tasks do
      for _, u in ipairs(users) do
        local task = u.tasks[t]
        fixed[#fixed + 1] = wrk.format("GET", "/api/tasks/" .. task.id,
          { ["Authorization"] = u.auth, ["If-None-Match"] = task.etag })
      end
    end
  elseif scenario == "list304" then
    for _, u in ipairs(users) do
      fixed[#fixed + 1] = wrk.format("GET", "/api/tasks?status=pending&limit=50",
        { ["Authorization"] = u.auth, ["If-None-Match"] = u.list })
    end
  elseif scenario == "feed" then
    for _, u in ipairs(users) do
      fixed[#fixed + 1] = wrk.format("GET", "/api/tasks/changes?since=" .. u.cursor, { ["Authorization"] = u.auth })
    end
  else
    error("unknown scenario " .. tostring(scenario))
  end
end

function request()
  counter = counter + 1
  return fixed[counter % #fixed + 1]
end
