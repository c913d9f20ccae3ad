-- wrk -s bench/post.lua URL -- OFFSET: each request posts an order (a name and a phone no other request
-- of this run sends) to the URL's path, with the Origin and User-Agent a browser sends, as a form post.
-- OFFSET keeps the phones of one run apart from another's: each thread counts from OFFSET + its index × 10^5.
-- The phones are Kazakh mobiles ("8 701 123 45 67"), valid for offer.country = "kz".

local codes = {"701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778"}
local threads = 0

function setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end

function init(args)
  offset = tonumber(args[1] or "0")
  counter = 0
  origin = "http://" .. wrk.host .. ":" .. wrk.port
  headers = {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Origin"] = origin,
    ["User-Agent"] = "Mozilla/5.0 (Linux; Android 14; SM-A546B) AppleWebKit/537.36 (KHTML, like Gecko) "
                     .. "Chrome/126.0.6478.122 Mobile Safari/537.36",
    ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ["Accept-Language"] = "ru-RU,ru;q=0.9,en;q=0.8",
  }
end

function request()
  counter = counter + 1
  local n = offset + index * 100000 + counter
  local code = codes[(math.floor(n / 10000000) % #codes) + 1]
  local rest = n % 10000000
  local phone = string.format("8+%s+%03d+%02d+%02d", code, math.floor(rest / 10000), math.floor(rest / 100) % 100,
                              rest % 100)
  local body = "name=Customer+Bench&phone=" .. phone
  return wrk.format("POST", wrk.path, headers, body)
end
