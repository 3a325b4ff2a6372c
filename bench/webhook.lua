-- wrk script for the webhook benchmark: the same signed pull_request body every time (so one
-- precomputed signature), a different X-GitHub-Delivery on every request.
-- usage: wrk ... -s bench/webhook.lua URL -- BODY_FILE SIGNATURE DELIVERY_PREFIX

local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("tid", threads)
end

local counter = 0
local prefix = ""

function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.method = "POST"
   wrk.body = file:read("*a")
   file:close()
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["User-Agent"] = "GitHub-Hookshot/bench"
   wrk.headers["X-GitHub-Event"] = "pull_request"
   wrk.headers["X-Hub-Signature-256"] = args[2]
   prefix = args[3] .. "-" .. tostring(tid) .. "-"
end

function request()
   counter = counter + 1
   wrk.headers["X-GitHub-Delivery"] = prefix .. counter
   return wrk.format()
end
