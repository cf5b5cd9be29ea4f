#!lua name=jiesu
--[[
  jiesu: the Redis Functions library that holds every state transition.

  Loaded by every service at start (FUNCTION LOAD REPLACE when Redis has an
  older version, refused when it has a newer one: see common/store.h).
  Bump JIESU_LIB_VERSION with every change of behaviour here, and the same
  number in common/functions.h.

  Keys (docs/ARCHITECTURE.md "Keys"):
    o:{ID}            hash: stage, v (version), d (the Order, protobuf bytes),
                      c (contact sealed with libsodium; only callback opens it)
    idem:KEY          string: order id of an idempotency key
    jiesu:events      stream: every event (fields t=type, o=order id, e=Envelope bytes)
    jiesu:due:STAGE   zset: orders waiting for the service of STAGE, scored by re-drive time (ms)
    jiesu:tm:{B}      zset: pending timers of bucket B, scored by fire time (ms)
    jiesu:tl:{B}      zset: timers claimed and not yet acknowledged, scored by lease end (ms)

  Every order of a batch is applied or refused on its own; one call is atomic.
]]

local JIESU_LIB_VERSION = 1

local EVENTS = 'jiesu:events'

local function due_key(stage) return 'jiesu:due:' .. stage end

local function xadd(maxlen, etype, oid, env)
  if maxlen > 0 then
    redis.call('XADD', EVENTS, 'MAXLEN', '~', maxlen, '*', 't', etype, 'o', oid, 'e', env)
  else
    redis.call('XADD', EVENTS, '*', 't', etype, 'o', oid, 'e', env)
  end
end

local function num(x, what)
  local n = tonumber(x)
  if n == nil then error('jiesu: ' .. what .. ' is not a number') end
  return n
end

--[[ jiesu_receive: store new orders (intake).
  KEYS: o:{ID} of each order, in order.
  ARGV: now_ms, redrive_at_ms, maxlen, idem_ttl_s, then per order 6 args:
        id, idempotency key ('' for none), Order bytes, sealed contact ('' for
        none), event type, Envelope bytes.
  Reply: per order {1, id} stored, {2, first_id} duplicate idempotency key,
         {3, id} the id exists already (a retried batch): treated as stored. ]]
local function receive(keys, args)
  local redrive = num(args[2], 'redrive_at')
  local maxlen = num(args[3], 'maxlen')
  local ttl = num(args[4], 'idem_ttl')
  local out = {}
  local n = (#args - 4) / 6
  if n ~= math.floor(n) or n ~= #keys then
    return redis.error_reply('jiesu_receive: want 4 + 6 args per order and one key per order')
  end
  for i = 0, n - 1 do
    local b = 4 + i * 6
    local id, idem, blob, contact = args[b + 1], args[b + 2], args[b + 3], args[b + 4]
    local etype, env = args[b + 5], args[b + 6]
    local okey = keys[i + 1]
    local first = false
    local fresh = false
    if idem ~= '' then
      -- SET NX answers both questions in one call: new key, or the first id
      local ikey = 'idem:' .. idem
      fresh = redis.call('SET', ikey, id, 'NX', 'EX', ttl)
      if not fresh then first = redis.call('GET', ikey) end
    end
    if first then
      out[#out + 1] = {2, first}
    elseif not fresh and redis.call('EXISTS', okey) == 1 then
      out[#out + 1] = {3, id}
    else
      if contact ~= '' then
        redis.call('HSET', okey, 'stage', 1, 'v', 1, 'd', blob, 'c', contact)
      else
        redis.call('HSET', okey, 'stage', 1, 'v', 1, 'd', blob)
      end
      redis.call('ZADD', due_key(1), redrive, id)
      xadd(maxlen, etype, id, env)
      out[#out + 1] = {1, id}
    end
  end
  return out
end

--[[ jiesu_advance: move orders from one stage to the next.
  KEYS: o:{ID} of each order, in order.
  ARGV: maxlen, then per order 9 args + 3 per timer:
        id, expected stage, expected version, new stage, Order bytes (the new
        state, version = expected + 1), event type, Envelope bytes, re-drive
        time of the new stage (0: the new stage has no re-driving service),
        number of timers T, then T times: bucket, fire time ms, member.
  Reply per order: {1, new version} applied; {0, stage, version} refused: the
  order is not in the expected stage/version (a repeat, or a stale writer);
  {-1} unknown order. ]]
local function advance(keys, args)
  local maxlen = num(args[1], 'maxlen')
  local out = {}
  local p = 2
  local i = 0
  while p <= #args do
    i = i + 1
    local okey = keys[i]
    if okey == nil then return redis.error_reply('jiesu_advance: fewer keys than orders') end
    local id, es, ev, ns = args[p], args[p + 1], args[p + 2], args[p + 3]
    local blob, etype, env = args[p + 4], args[p + 5], args[p + 6]
    local redrive = num(args[p + 7], 'redrive')
    local nt = num(args[p + 8], 'timers')
    local tp = p + 9
    p = tp + nt * 3
    local cur = redis.call('HMGET', okey, 'stage', 'v')
    if not cur[1] then
      out[#out + 1] = {-1}
    elseif cur[1] ~= es or cur[2] ~= ev then
      out[#out + 1] = {0, tonumber(cur[1]), tonumber(cur[2])}
    else
      local nv = tonumber(ev) + 1
      redis.call('HSET', okey, 'stage', ns, 'v', nv, 'd', blob)
      redis.call('ZREM', due_key(es), id)
      if redrive > 0 then redis.call('ZADD', due_key(ns), redrive, id) end
      -- one ZADD per bucket: the clocks of an order usually share one
      local t = 0
      while t < nt do
        local q = tp + t * 3
        local zargs = {'jiesu:tm:{' .. args[q] .. '}', args[q + 1], args[q + 2]}
        while t + 1 < nt and args[tp + (t + 1) * 3] == args[q] do
          t = t + 1
          zargs[#zargs + 1] = args[tp + t * 3 + 1]
          zargs[#zargs + 1] = args[tp + t * 3 + 2]
        end
        redis.call('ZADD', unpack(zargs))
        t = t + 1
      end
      xadd(maxlen, etype, id, env)
      out[#out + 1] = {1, nv}
    end
  end
  return out
end

--[[ jiesu_claim: orders whose re-drive time passed, for the service of STAGE.
  ARGV: stage, now_ms, lease_ms, limit.
  Each returned order's re-drive time moves to now + lease, so two sweepers do
  not take the same order at once; entries whose order left the stage are
  dropped. Reply: flat list id, version, Order bytes, ... ]]
local function claim(keys, args)
  local stage, now = args[1], num(args[2], 'now')
  local lease, limit = num(args[3], 'lease'), num(args[4], 'limit')
  local dk = due_key(stage)
  local ids = redis.call('ZRANGE', dk, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
  local out = {}
  for _, id in ipairs(ids) do
    local cur = redis.call('HMGET', 'o:{' .. id .. '}', 'stage', 'v', 'd')
    if cur[1] == stage then
      redis.call('ZADD', dk, now + lease, id)
      out[#out + 1] = id
      out[#out + 1] = cur[2]
      out[#out + 1] = cur[3]
    else
      redis.call('ZREM', dk, id)
    end
  end
  return out
end

--[[ jiesu_timer_claim: timers of bucket B that are due, and claims whose lease
  ended (a timer service that died before acknowledging).
  ARGV: bucket, now_ms, lease_ms, limit.
  Reply: flat list member, fire time, ... in fire-time order; each member moves
  to jiesu:tl:{B} scored by now + lease until acknowledged. ]]
local function timer_claim(keys, args)
  local b, now = args[1], num(args[2], 'now')
  local lease, limit = num(args[3], 'lease'), num(args[4], 'limit')
  local tm, tl = 'jiesu:tm:{' .. b .. '}', 'jiesu:tl:{' .. b .. '}'
  local out = {}
  local expired = redis.call('ZRANGE', tl, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
  for _, m in ipairs(expired) do
    redis.call('ZADD', tl, now + lease, m)
    out[#out + 1] = m
    out[#out + 1] = '0'
  end
  local room = limit - #expired
  if room > 0 then
    local due = redis.call('ZRANGE', tm, '-inf', now, 'BYSCORE', 'LIMIT', 0, room, 'WITHSCORES')
    for j = 1, #due, 2 do
      redis.call('ZREM', tm, due[j])
      redis.call('ZADD', tl, now + lease, due[j])
      out[#out + 1] = due[j]
      out[#out + 1] = due[j + 1]
    end
  end
  return out
end

--[[ jiesu_timer_ack: record fired timers, once.
  ARGV: bucket, maxlen, then per timer 6 args: member, order id, event type
  ('' to record nothing), Envelope bytes, next fire time (0: none), next member.
  A timer is recorded only if its claim is still held, so a repeat of the same
  acknowledgement records nothing twice. Reply per timer: 1 recorded, 0 not held. ]]
local function timer_ack(keys, args)
  local b, maxlen = args[1], num(args[2], 'maxlen')
  local tm, tl = 'jiesu:tm:{' .. b .. '}', 'jiesu:tl:{' .. b .. '}'
  local out = {}
  for p = 3, #args, 6 do
    local m, oid, etype, env = args[p], args[p + 1], args[p + 2], args[p + 3]
    local nxt, nm = num(args[p + 4], 'next'), args[p + 5]
    if redis.call('ZREM', tl, m) == 1 then
      if etype ~= '' then xadd(maxlen, etype, oid, env) end
      if nxt > 0 then redis.call('ZADD', tm, nxt, nm) end
      out[#out + 1] = 1
    else
      out[#out + 1] = 0
    end
  end
  return out
end

--[[ jiesu_next_due: the earliest fire time over buckets 0..n-1, or -1. ]]
local function next_due(keys, args)
  local n = num(args[1], 'buckets')
  local best = -1
  for b = 0, n - 1 do
    for _, k in ipairs({'jiesu:tm:{' .. b .. '}', 'jiesu:tl:{' .. b .. '}'}) do
      local r = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
      if r[2] then
        local s = tonumber(r[2])
        if best < 0 or s < best then best = s end
      end
    end
  end
  return best
end

redis.register_function{function_name = 'jiesu_version', callback = function() return JIESU_LIB_VERSION end,
                        flags = {'no-writes'}}
redis.register_function('jiesu_receive', receive)
redis.register_function('jiesu_advance', advance)
redis.register_function('jiesu_claim', claim)
redis.register_function('jiesu_timer_claim', timer_claim)
redis.register_function('jiesu_timer_ack', timer_ack)
redis.register_function{function_name = 'jiesu_next_due', callback = next_due, flags = {'no-writes'}}
