-- wrk script: durable receipts spread over SKU-000 .. SKU-099 (created by scripts/bench-wrk).
-- The bearer token comes from the INV_TOKEN environment variable.
local token = os.getenv("INV_TOKEN")
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"type":"receive","sku":"SKU-%03d","quantity":1}', counter % 100)
  return wrk.format("POST", "/v1/movements", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }, body)
end
