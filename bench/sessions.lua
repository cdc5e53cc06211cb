-- wrk script: every request carries a different session cookie, cycling through WRK_SESSIONS
-- sessions per thread (default 2000), so the handlers serve many sessions, not one hot key.
local sessions = tonumber(os.getenv("WRK_SESSIONS") or "2000")
local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end

local counter = 0

function request()
    counter = counter + 1
    local sid = string.format("wrk%dx%06d", tid, counter % sessions)
    return wrk.format(nil, nil, { Cookie = "PHPSESSID=" .. sid })
end
