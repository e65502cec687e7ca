-- wrk script: a token check plus a WAL read per request. The bearer token comes from INV_TOKEN.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("INV_TOKEN")
