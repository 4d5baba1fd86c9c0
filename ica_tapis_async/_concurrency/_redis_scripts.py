"""The Lua scripts behind :class:`RedisRateLimiter`: every change to a shared budget is atomic.

Each script reads Redis's own clock (``TIME``), so workers whose clocks disagree still share one
schedule. Times and rates are kept as decimal strings with microsecond precision (Lua's default
number formatting keeps only 14 digits, too few for POSIX seconds with fractions).

State hash ``KEYS[1]`` fields:

``configured``  the rate workers were configured with (``""``: discover it from throttles)
``rate``        the rate requests are paced at now (``""`` until a discovered rate starts)
``tat``         GCRA theoretical arrival time of the next request
``throttled``   ``1`` after a cut until the rate has recovered to ``configured`` (for ever when
                the rate is discovered); ``0`` with no ``configured`` rate: slow start
``first_grant``  the first grant's time: slow start grows the rate by half every second from it
``grants``      slots granted so far; ``cut_grants`` how many at the last cut
``w_max``, ``k``, ``scale``, ``last_throttle``  CUBIC recovery curve of the last cut; ``w_max``
                is the ceiling the last congestion event found
``last_cut``    when the rate was last cut; a throttle of a request sent before it belongs to
                the same congestion event and cuts nothing
``paused_until``  a ``Retry-After`` holds every worker until then
``measured_cut``, ``limit``  whether the last cut was to a measured limit, and that limit
``win_start``, ``win_count``, ``measured``  the shared send rate, over half-second windows
``throttles``   throttled answers seen by all workers

Lease sorted set ``KEYS[2]``: one member per request in flight, scored by its expiry.
"""

from __future__ import annotations

from typing import Final

__all__ = ("ACQUIRE", "PAUSE", "RENEW", "SUCCESS", "THROTTLE")

# Past a measured limit the rate holds near it and probes 25% beyond only after this long: a
# probe costs a throttled request (and a pause when the server sends Retry-After), so a stable
# limit costs one 429 in about this many seconds.
PROBE_S: Final = 10.0
# After a cut, the intervals of silence (beyond one) before the next grant, at most
# QUIET_MAX_S: long enough for a server to save up a few requests, never a stall at low rates.
QUIET_INTERVALS: Final = 5
QUIET_MAX_S: Final = 0.1
# No rate above this is real (a million requests a second): a larger one in Redis is corrupt.
MAX_RATE: Final = 1e6
# Grants between two congestion events below which their ratio is no measurement of the limit.
MIN_SAMPLE: Final = 3

_COMMON: Final = """
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
local function finite(x) return x ~= nil and x == x and x > -math.huge and x < math.huge end
local function num(field)
  return tonumber(redis.call('HGET', KEYS[1], field))
end
local function min_rate(floor)
  local configured = num('configured')
  if configured and configured < floor then return configured end
  return floor
end
-- Smoothed send rate of all workers; an open first window counts as at least half a second.
local function measured(t)
  local m = num('measured')
  if m then return m end
  local ws = num('win_start')
  if not ws then return 0 end
  return (num('win_count') or 0) / math.max(t - ws, 0.5)
end
"""

# ARGV: lease id, lease ttl (s), max in flight (0: none), configured rate ("" none), burst,
# key ttl (s), slow-start rate, min rate, seed rate ("" none: the caller saw no cut), "1" when
# the caller was granted slots before (a missing state was lost, not new), "1" when the caller
# comes back from its local fallback (no burst: the budget was being spent meanwhile).
# Returns {granted, wait-or-grant-time, rate, throttled,
# configured-changed} and, when every in-flight slot is taken, a sixth element 1 with the wait
# until the oldest lease expires (the caller looks again sooner: a release frees one earlier).
ACQUIRE: Final = (
    _COMMON
    + """
local t = now()
local configured = ARGV[4]
local changed = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'configured', configured, 'rate', configured, 'tat', fmt(t),
             'throttled', '0', 'paused_until', '0', 'last_cut', '0', 'throttles', '0')
  local seed = tonumber(ARGV[9])
  local told = tonumber(configured)
  if seed and finite(seed) and seed > 0 and seed <= MAX_RATE and (not told or seed < told) then
    -- A Redis restarted empty (or failed over to one that lost the state) while the caller
    -- paced at a cut rate: start where the fleet was, as after a cut whose ceiling is that
    -- rate, not from slow start or the told rate (the burst of 429s that found the limit
    -- would come again). The curve holds there and probes past it after PROBE_S.
    -- No burst either: the server's budget was being spent up to the restart.
    local burst = math.min(tonumber(ARGV[5]), math.max(1, seed))
    redis.call('HSET', KEYS[1], 'rate', fmt(seed), 'throttled', '1', 'w_max', fmt(seed),
               'k', '0', 'scale', fmt(seed * 0.25 / PROBE_S ^ 3), 'last_throttle', fmt(t),
               'measured_cut', '0', 'tat', fmt(t + (burst - 1) / seed))
  elseif told and ARGV[10] == '1' then
    -- The caller was sending before: the state was lost, not new. The fleet was spending
    -- the server's budget up to now, so no burst at the told rate either.
    redis.call('HSET', KEYS[1], 'tat', fmt(t + (tonumber(ARGV[5]) - 1) / told))
  end
elseif redis.call('HGET', KEYS[1], 'configured') ~= configured then
  -- Workers disagree about the rate: the newest configuration wins, as after a redeploy. A cut
  -- holds until recovery whatever the configuration says (workers told slightly different
  -- rates would otherwise undo each other's cuts): only a lower told rate lowers it further.
  redis.call('HSET', KEYS[1], 'configured', configured)
  if redis.call('HGET', KEYS[1], 'throttled') ~= '1' then
    redis.call('HSET', KEYS[1], 'rate', configured)
    redis.call('HDEL', KEYS[1], 'first_grant')
  elseif configured ~= '' then
    local current = num('rate')
    if current == nil or tonumber(configured) < current then
      redis.call('HSET', KEYS[1], 'rate', configured)
    end
  end
  changed = 1
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
local throttled = redis.call('HGET', KEYS[1], 'throttled')
if configured == '' and throttled ~= '1' then
  -- Slow start: the limit is unknown and nothing was throttled yet. Grow the rate by half every
  -- second from the first grant, but never past twice what was really sent (an idle spell must
  -- not leave an unbounded rate behind). The first 429 comes only once the server's burst is
  -- spent, at about twice its limit; every request sent above the limit until the cut reaches
  -- the workers is throttled, so a gentler ramp than doubling means a smaller first wave.
  local start = tonumber(ARGV[7])
  local first = num('first_grant')
  local grow = start
  if first then grow = start * 1.5 ^ math.min(math.max(t - first, 0), 80) end
  redis.call('HSET', KEYS[1], 'rate', fmt(math.min(grow, math.max(start, 2 * measured(t)))))
end
local rate = num('rate')
local told = tonumber(configured)
local floor = tonumber(ARGV[8]) or 0
if rate and not (rate >= floor and rate <= MAX_RATE and (not told or rate <= told)) then
  -- Zero, negative, NaN, infinite, under min_rate or over the told rate: never a rate these
  -- scripts set (a state written by hand or by an older version). Start again from the told
  -- rate, or from slow start.
  rate = told or math.max(tonumber(ARGV[7]), floor)
  redis.call('HSET', KEYS[1], 'rate', fmt(rate))
end
local rate_s = redis.call('HGET', KEYS[1], 'rate')
local paused = num('paused_until') or 0
if paused > t then
  return {0, fmt(paused - t), rate_s, throttled, changed}
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', fmt(t))
local cap = tonumber(ARGV[3])
if cap > 0 and redis.call('ZCARD', KEYS[2]) >= cap then
  -- Full: look again soon (a release frees a slot before the oldest lease expires).
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {0, fmt(math.max(tonumber(first[2]) - t, 0.001)), rate_s, throttled, changed, 1}
end
if rate then
  local burst = tonumber(ARGV[5])
  -- While throttled at most one second's worth of requests may go at once, so a burst
  -- does not undo a cut.
  if throttled == '1' then burst = math.min(burst, math.max(1, rate)) end
  local interval = 1 / rate
  local tat = num('tat') or t
  -- A grant or a cut never leaves the schedule further ahead than a burst and a silence: a
  -- schedule beyond (or not a number) is corrupt, e.g. after a failover to a Redis whose
  -- clock is behind; start again from now rather than stall every worker.
  if not (tat < t + (tonumber(ARGV[5]) + 2) * interval + 1) then tat = t end
  tat = math.max(tat, t)
  if ARGV[11] == '1' then
    -- The caller comes back from its local fallback: the fleet spent the server's budget
    -- while Redis was away, so the burst the schedule seems to have saved up is not there.
    tat = math.max(tat, t + (burst - 1) * interval)
  end
  local wait = tat + interval - burst * interval - t
  if wait > 0.000001 then
    return {0, fmt(wait), rate_s, throttled, changed}
  end
  redis.call('HSET', KEYS[1], 'tat', fmt(tat + interval))
end
local window = math.floor(t / 0.5) * 0.5
local ws = num('win_start')
local wc = num('win_count') or 0
if not ws then
  ws = window
  wc = 0
elseif window > ws then
  local current = wc / (window - ws)
  local previous = num('measured') or current
  redis.call('HSET', KEYS[1], 'measured', fmt(current * 0.8 + previous * 0.2))
  ws = window
  wc = 0
end
redis.call('HSET', KEYS[1], 'win_start', fmt(ws), 'win_count', wc + 1)
redis.call('HINCRBY', KEYS[1], 'grants', 1)
if not num('first_grant') then redis.call('HSET', KEYS[1], 'first_grant', fmt(t)) end
redis.call('ZADD', KEYS[2], fmt(t + tonumber(ARGV[2])), ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return {1, fmt(t), rate_s, throttled, changed}
""".replace("MAX_RATE", repr(MAX_RATE)).replace("PROBE_S", repr(PROBE_S))
)

# ARGV: when the throttled request was granted ("" unknown), min rate, burst.
# Returns {cut (0/1), rate}.
THROTTLE: Final = (
    _COMMON
    + """
local t = now()
redis.call('HINCRBY', KEYS[1], 'throttles', 1)
local sent = tonumber(ARGV[1])
-- Unknown send time: throttles within a second of a cut belong to its event.
if not sent then sent = t - 1 end
local last_cut = num('last_cut') or 0
if sent < last_cut then
  return {0, redis.call('HGET', KEYS[1], 'rate')}
end
local m = measured(t)
local rate = num('rate')
local base
if not rate then base = m elseif m > 0 then base = math.min(m, rate) else base = rate end
local floor = min_rate(tonumber(ARGV[2]))
local grants = num('grants') or 0
local w_max, new
local horizon = 5  -- seconds from the ceiling to probing 25% past it
if not num('configured') and redis.call('HGET', KEYS[1], 'throttled') ~= '1' then
  -- The end of slow start: the server's burst is spent and the rate is about twice its limit
  -- (the smoothed measured rate lags a growing rate too far to cut from). Cut to 0.4x, under
  -- the limit, so the empty budget refills instead of throttling the next requests too, and
  -- climb back towards half the slow-start rate; the next event measures the limit.
  w_max = (rate or base) * 0.5
  new = (rate or base) * 0.4
elseif last_cut > 0 and t - last_cut >= 1
    and grants - (num('cut_grants') or 0) > MIN_SAMPLE then
  -- The server's budget was spent at the last cut and is spent again now: what it accepted
  -- in between, over the time between, is its rate. Hold just under that, not at 0.7x. (A
  -- few grants are no measurement: one request accepted in a second may mean a limit of 1/s
  -- or of 100/s whose budget a pause left unused.)
  local accepted = (grants - (num('cut_grants') or 0) - 1) / (t - last_cut)
  w_max = math.max(math.min(base, accepted), floor)
  new = w_max * 0.98
  -- A measured limit is probed past slowly: each probe costs a throttled request.
  horizon = PROBE_S
  redis.call('HSET', KEYS[1], 'measured_cut', '1', 'limit', fmt(w_max))
else
  w_max, new = base, base * 0.7
  redis.call('HSET', KEYS[1], 'measured_cut', '0')
end
new = math.max(new, floor)
w_max = math.max(w_max, new)
-- The curve climbs back to w_max (k seconds), stays near it, then probes past it, all in
-- proportion to w_max: +25% a horizon after reaching it (5 s; 10 s past a measured limit).
local scale = w_max * 0.25 / horizon ^ 3
local k = ((w_max - new) / scale) ^ (1 / 3)
redis.call('HSET', KEYS[1], 'w_max', fmt(w_max), 'k', fmt(k), 'scale', fmt(scale),
           'last_throttle', fmt(t), 'throttled', '1', 'rate', fmt(new), 'last_cut', fmt(t),
           'cut_grants', grants)
-- Every worker stops at once and no burst follows (the server's budget is spent): the next
-- grant is one interval and a short silence away (QUIET intervals, at most QUIET_S s), time for
-- the server to save up a few requests, so that one arriving a little early (network and
-- scheduling jitter) is not throttled again when no Retry-After pauses the workers.
local interval = 1 / new
local burst = math.min(tonumber(ARGV[3]), math.max(1, new))
local quiet = math.min(QUIET * interval, QUIET_S)
redis.call('HSET', KEYS[1], 'tat', fmt(t + burst * interval + quiet))
return {1, fmt(new)}
""".replace("PROBE_S", repr(PROBE_S))
    .replace("QUIET_S", repr(QUIET_MAX_S))
    .replace("QUIET", repr(QUIET_INTERVALS))
    .replace("MIN_SAMPLE", repr(MIN_SAMPLE))
)

# ARGV: min rate. Returns the rate after recovery.
SUCCESS: Final = (
    _COMMON
    + """
if redis.call('HGET', KEYS[1], 'throttled') ~= '1' then
  return redis.call('HGET', KEYS[1], 'rate')
end
local t = now()
local configured = num('configured')
local last, k, w_max = num('last_throttle'), num('k'), num('w_max')
if not (finite(last) and finite(k) and finite(w_max)) then
  -- No curve to follow (a state written by hand or by an older version): a told rate is
  -- back at once; a discovered one stays where it is.
  if configured then
    redis.call('HSET', KEYS[1], 'rate', fmt(configured), 'throttled', '0')
    return fmt(configured)
  end
  return redis.call('HGET', KEYS[1], 'rate')
end
-- CUBIC: the cut rate at the cut, flat near w_max after k seconds, then probing beyond it.
local scale = num('scale')
-- A flat curve (a state written by an older version) would never recover: probe as usual.
if not (finite(scale) and scale > 0) then scale = math.max(w_max, 1) * 0.002 end
local new = scale * (t - last - k) ^ 3 + w_max
if configured and new >= configured then
  new = configured
  redis.call('HSET', KEYS[1], 'throttled', '0')
elseif not configured then
  -- Nothing caps a discovered rate: a probe goes past the ceiling only as far as twice what
  -- is really sent, so a budget left idle (overnight, between runs) is not found unbounded.
  new = math.min(new, math.max(w_max, 2 * measured(t)))
end
new = math.max(new, min_rate(tonumber(ARGV[1])))
redis.call('HSET', KEYS[1], 'rate', fmt(new))
return fmt(new)
"""
)

# ARGV: seconds. Returns the pause's end (Redis clock).
PAUSE: Final = (
    _COMMON
    + """
local t = now()
local until_ = math.max(num('paused_until') or 0, t + tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'paused_until', fmt(until_))
local last_cut = num('last_cut') or 0
local limit = num('limit')
if redis.call('HGET', KEYS[1], 'measured_cut') == '1' and t - last_cut < 1 and limit
    and limit > 0 then
  -- A pause right after a measured cut: while every worker waits, the server saves up about
  -- pause x limit requests. Spend them over the probe horizon (at most 10% over the limit)
  -- instead of leaving them unused; the probe after that finds the limit again.
  local w = limit * (1 + math.min(until_ - last_cut, 1) / PROBE_S)
  local configured = num('configured')
  if configured then w = math.min(w, configured) end
  redis.call('HSET', KEYS[1], 'w_max', fmt(w), 'k', '0', 'rate', fmt(w),
             'scale', fmt(w * 0.25 / PROBE_S ^ 3))
end
return fmt(until_)
""".replace("PROBE_S", repr(PROBE_S))
)

# KEYS[1] is the lease set here. ARGV: ttl, lease ids. Returns how many leases were renewed.
RENEW: Final = (
    _COMMON
    + """
local t = now()
local renewed = 0
for i = 2, #ARGV do
  renewed = renewed + redis.call('ZADD', KEYS[1], 'XX', 'CH', fmt(t + tonumber(ARGV[1])), ARGV[i])
end
return renewed
"""
)
