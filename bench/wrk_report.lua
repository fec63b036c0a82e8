-- wrk: print machine-readable figures (latencies in ms) for bench/common.py.
-- A script that sets `request` (e.g. bench/wrk_write.lua) loads this one with dofile.
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("REPORT requests %d\n", summary.requests))
  io.write(string.format("REPORT rps %.1f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("REPORT errors %d\n", errors))
  io.write(string.format("REPORT non2xx %d\n", summary.errors.status))
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("REPORT p%d %.2f\n", p, latency:percentile(p) / 1000))
  end
end
