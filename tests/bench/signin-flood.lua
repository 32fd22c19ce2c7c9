-- wrk script of tests/bench/signin-flood: every request is a wrong
-- sign-in for an email never used before (so no per-account throttle
-- applies), with the CSRF cookie and token the shell script fetched.
local n = 0
local tid = 0

setup = function(thread)
    thread:set("tid", tid)
    tid = tid + 1
end

init = function(args)
    csrf_cookie = os.getenv("FLOOD_CSRF_COOKIE")
    csrf_token = os.getenv("FLOOD_CSRF_TOKEN")
    origin = os.getenv("FLOOD_ORIGIN")
end

request = function()
    n = n + 1
    local body = "csrfToken=" .. csrf_token .. "&json=true"
        .. "&password=wrong-password-123"
        .. "&email=flood-" .. tid .. "-" .. n .. "-" .. math.random(1e9)
        .. "%40example.com"
    return wrk.format("POST", "/api/auth/callback/credentials", {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["Cookie"] = csrf_cookie,
        ["Origin"] = origin,
    }, body)
end

done = function(summary, latency, requests)
    io.write(string.format("flood: %d sign-ins answered in %.1f s, %d non-2xx/3xx (401 wrong password, 429 queue full)\n",
        summary.requests, summary.duration / 1e6, summary.errors.status))
end
