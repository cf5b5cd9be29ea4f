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
    jiesu:corrections stream: operators' classifications of manual orders (jiesu_classify)
    jiesu:prov        set: ids of orders with a clock counting through an unpublished year
    jiesu:overdue     zset: orders whose handling clock went overdue, for the dispatcher (overdue.escalate)
    o:{ID} fields g:KIND|UNIT (a clock's current timer generation) and
    f:KIND|UNIT|WHAT|EPOCH (a fired timer: when): common/timer.h

  Rule for every transition that stores clocks (common/timer.h):
    - a change of a clock's schedule (pause, resume, stop, reset, extend) HSETs
      g:KIND|UNIT = the new version and ZADDs js_timer_plan(gen = new version);
    - a stored clock with provisional set (it counts through a year whose
      calendar is not published) SADDs the order id to jiesu:prov, so a
      calendar reload recomputes it (jiesu_recompute).

  Every order of a batch is applied or refused on its own; one call is atomic.
]]

local JIESU_LIB_VERSION = 3

local EVENTS = 'jiesu:events'

-- @FSM_TABLE@

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

-- ZADD the timers args[tp .. tp + 3*nt) (bucket, fire time, member each),
-- one ZADD per run of one bucket: the clocks of an order usually share one.
local function arm_timers(args, tp, nt)
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
end

-- HSET okey with the fixed pairs in h, then args[fp .. fp + 2*nf) as name, value pairs.
local function hset_fields(h, args, fp, nf)
  for f = 0, nf - 1 do
    h[#h + 1] = args[fp + f * 2]
    h[#h + 1] = args[fp + f * 2 + 1]
  end
  redis.call('HSET', unpack(h))
end

--[[ jiesu_receive: store new orders (intake).
  KEYS: o:{ID} of each order, in order.
  ARGV: now_ms, redrive_at_ms, maxlen, idem_ttl_s, same_window_ms,
        same_max_distance, same_keep, then per order 8 args:
        id, idempotency key ('' for none), Order bytes, sealed contact ('' for
        none), event type, Envelope bytes, requester key ('' for none), SimHash
        of the text as 16 hex digits ('' for none).
  The same matter (DOMAIN.md 分类处置): an order whose requester has an earlier
  order within same_window_ms whose SimHash differs in at most
  same_max_distance bits is stored with Order.duplicate_of = that order (the
  closest; the earliest of equals), and is not remembered itself, so a third
  telling links to the first too. sm:{requester key} keeps the last
  same_keep orders as "ID|HASH", scored by time; same_window_ms 0: off.
  Reply: per order {1, id} stored, {1, id, first_id, distance} stored as the
         same matter as first_id, {2, first_id} duplicate idempotency key,
         {3, id} the id exists already (a retried batch): treated as stored. ]]

-- Bits that differ between two 32-bit halves given as numbers.
local function hamming32(a, b)
  local x, c = bit.bxor(a, b), 0
  while x ~= 0 do
    x = bit.band(x, x - 1)
    c = c + 1
  end
  return c
end

-- The requester's earlier order of the same matter as hash h (16 hex digits): id, distance; or nil.
local function same_matter(smk, h, now, window, maxd)
  redis.call('ZREMRANGEBYSCORE', smk, '-inf', now - window)
  local hi, lo = tonumber(string.sub(h, 1, 8), 16), tonumber(string.sub(h, 9, 16), 16)
  local best, bestd
  for _, m in ipairs(redis.call('ZRANGE', smk, 0, -1)) do
    local id, mh = string.match(m, '^([^|]+)|(%x+)$')
    if id and #mh == 16 then
      local d = hamming32(hi, tonumber(string.sub(mh, 1, 8), 16)) + hamming32(lo, tonumber(string.sub(mh, 9, 16), 16))
      if d <= maxd and (not bestd or d < bestd) then best, bestd = id, d end
    end
  end
  return best, bestd
end

-- Order bytes with field 20 (duplicate_of, a string) set: a field appended to
-- an encoded message is that field's value when decoded (last one wins).
local function with_duplicate_of(blob, first)
  return blob .. string.char(0xA2, 0x01, #first) .. first
end

local function receive(keys, args)
  local redrive = num(args[2], 'redrive_at')
  local maxlen = num(args[3], 'maxlen')
  local ttl = num(args[4], 'idem_ttl')
  local window, maxd, keep = num(args[5], 'same_window'), num(args[6], 'same_max_distance'), num(args[7], 'same_keep')
  local now = num(args[1], 'now')
  local out = {}
  local n = (#args - 7) / 8
  if n ~= math.floor(n) or n ~= #keys then
    return redis.error_reply('jiesu_receive: want 7 + 8 args per order and one key per order')
  end
  for i = 0, n - 1 do
    local b = 7 + i * 8
    local id, idem, blob, contact = args[b + 1], args[b + 2], args[b + 3], args[b + 4]
    local etype, env, rk, sh = args[b + 5], args[b + 6], args[b + 7], args[b + 8]
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
      local same, dist
      if window > 0 and rk ~= '' and #sh == 16 then
        local smk = 'sm:' .. rk
        same, dist = same_matter(smk, sh, now, window, maxd)
        if same and #same < 128 then
          blob = with_duplicate_of(blob, same)
        else
          same = nil
          redis.call('ZADD', smk, now, id .. '|' .. sh)
          redis.call('ZREMRANGEBYRANK', smk, 0, -(keep + 1))
          redis.call('PEXPIRE', smk, window)
        end
      end
      if contact ~= '' then
        redis.call('HSET', okey, 'stage', 1, 'v', 1, 'd', blob, 'c', contact)
      else
        redis.call('HSET', okey, 'stage', 1, 'v', 1, 'd', blob)
      end
      redis.call('ZADD', due_key(1), redrive, id)
      xadd(maxlen, etype, id, env)
      out[#out + 1] = same and {1, id, same, dist} or {1, id}
    end
  end
  return out
end

--[[ jiesu_advance: move orders from one stage to the next.
  KEYS: o:{ID} of each order, in order.
  ARGV: maxlen, then per order 11 args + 3 per timer + 2 per field:
        id, expected stage, expected version, new stage, Order bytes (the new
        state, version = expected + 1), event type, Envelope bytes, re-drive
        time of the new stage (0: the new stage has no re-driving service),
        number of timers T, then T times: bucket, fire time ms, member;
        number of extra hash fields F, then F times: name, value (e.g. asg,
        the assignment map jiesu_act reads roles from); provisional ('1': a
        clock counts through an unpublished year: SADD jiesu:prov).
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
    local nf = num(args[tp + nt * 3], 'fields')
    local fp = tp + nt * 3 + 1
    local prov = args[fp + nf * 2]
    p = fp + nf * 2 + 1
    local cur = redis.call('HMGET', okey, 'stage', 'v')
    if not cur[1] then
      out[#out + 1] = {-1}
    elseif cur[1] ~= es or cur[2] ~= ev then
      out[#out + 1] = {0, tonumber(cur[1]), tonumber(cur[2])}
    else
      local nv = tonumber(ev) + 1
      hset_fields({okey, 'stage', ns, 'v', nv, 'd', blob}, args, fp, nf)
      if prov == '1' then redis.call('SADD', 'jiesu:prov', id) end
      redis.call('ZREM', due_key(es), id)
      if redrive > 0 then redis.call('ZADD', due_key(ns), redrive, id) end
      arm_timers(args, tp, nt)
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

--[[ jiesu_timer_ack: record fired timers, exactly once (common/timer.h).
  ARGV: bucket, maxlen, now_ms, then per timer 3 args: member, event type
  ('' to record nothing: a malformed member is only dropped), Envelope bytes.
  Member "ORDER|UNIT|KIND|WHAT|FIRE_MS|DUE_MS|GEN|EPOCH|LIMIT". A timer is
  recorded (HSETNX of the mark f:KIND|UNIT|WHAT|EPOCH = now in o:{ORDER},
  XADD of the event) only if its claim is still held, its order exists, its
  GEN is the clock's current one (field g:KIND|UNIT, absent: any) and its
  mark was not set. The claim is removed in every case. No next timer is
  armed here: the plan armed every timer of the clock at once.
  Reply per timer: 1 recorded (publish it); 0 claim not held (a repeat);
  2 stale generation; 3 fired before (mark set); 4 unknown order;
  5 malformed member. ]]
local function timer_ack(keys, args)
  local b, maxlen, now = args[1], num(args[2], 'maxlen'), args[3]
  num(now, 'now')
  local tl = 'jiesu:tl:{' .. b .. '}'
  local out = {}
  for p = 4, #args, 3 do
    local m, etype, env = args[p], args[p + 1], args[p + 2]
    if redis.call('ZREM', tl, m) == 0 then
      out[#out + 1] = 0
    else
      local f = {}
      for x in string.gmatch(m .. '|', '([^|]*)|') do f[#f + 1] = x end
      if #f ~= 9 or f[1] == '' or etype == '' then
        out[#out + 1] = 5
      else
        local okey = 'o:{' .. f[1] .. '}'
        -- one read: the order exists (v) and its clock's generation
        local cur = redis.call('HMGET', okey, 'v', 'g:' .. f[3] .. '|' .. f[2])
        local g = cur[2]
        if not cur[1] then
          out[#out + 1] = 4
        elseif g and g ~= f[7] then
          out[#out + 1] = 2
        elseif redis.call('HSETNX', okey, 'f:' .. f[3] .. '|' .. f[2] .. '|' .. f[4] .. '|' .. f[8], now) == 0 then
          out[#out + 1] = 3
        else
          xadd(maxlen, etype, f[1], env)
          -- an overdue handling clock: the dispatcher escalates it if the profile says so
          if f[4] == 'due' and f[3] == 'h' then redis.call('ZADD', 'jiesu:overdue', now, f[1]) end
          out[#out + 1] = 1
        end
      end
    end
  end
  return out
end

--[[ jiesu_recompute: store orders whose clocks a newly loaded calendar moved
  (the deadline-timer, after a calendar reload; docs/CALENDAR.md).
  KEYS: o:{ID} of each order, in order.
  ARGV: maxlen, then per order: id, expected version, Order bytes (version =
        expected + 1, clocks recomputed), still provisional (1/0), G, then G
        times: clock field (g:KIND|UNIT), generation; E, then E times: event
        type, Envelope bytes (one jiesu.clock.recomputed per changed clock);
        T, then T times: bucket, fire time ms, member (the new plans).
  Applied: HSET d, v+1 and the new gens, ZADD the plans, XADD the events,
  SREM from jiesu:prov unless still provisional. Reply per order: {1, new
  version}; {0, version} the order moved meanwhile (retried on a later pass);
  {-1} unknown order (removed from jiesu:prov). ]]
local function recompute(keys, args)
  local maxlen = num(args[1], 'maxlen')
  local out = {}
  local p, i = 2, 0
  while p <= #args do
    i = i + 1
    local okey = keys[i]
    if okey == nil then return redis.error_reply('jiesu_recompute: fewer keys than orders') end
    local id, ev, blob, prov = args[p], args[p + 1], args[p + 2], args[p + 3]
    local ng = num(args[p + 4], 'gens')
    local gp = p + 5
    local ne = num(args[gp + ng * 2], 'events')
    local ep = gp + ng * 2 + 1
    local nt = num(args[ep + ne * 2], 'timers')
    local tp = ep + ne * 2 + 1
    p = tp + nt * 3
    local cur = redis.call('HGET', okey, 'v')
    if not cur then
      redis.call('SREM', 'jiesu:prov', id)
      out[#out + 1] = {-1}
    elseif cur ~= ev then
      out[#out + 1] = {0, tonumber(cur)}
    else
      local nv = tonumber(ev) + 1
      local h = {'HSET', okey, 'v', nv, 'd', blob}
      for g = 0, ng - 1 do
        h[#h + 1] = args[gp + g * 2]
        h[#h + 1] = args[gp + g * 2 + 1]
      end
      redis.call(unpack(h))
      for t = 0, nt - 1 do
        local q = tp + t * 3
        redis.call('ZADD', 'jiesu:tm:{' .. args[q] .. '}', args[q + 1], args[q + 2])
      end
      for e = 0, ne - 1 do xadd(maxlen, args[ep + e * 2], id, args[ep + e * 2 + 1]) end
      if prov ~= '1' then redis.call('SREM', 'jiesu:prov', id) end
      out[#out + 1] = {1, nv}
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

--[[ The order's life: one table (common/fsm.c) decides which action each role
  may take in each stage and where it leads; jiesu_act enforces it on every
  write, so a bug or a stale writer in a service cannot take an order where
  the table does not go. ]]

-- role class of an actor ("operator", "reviewer", "admin", "system",
-- "unit:ID") on an order whose assignment map is asg ("UNIT=L UNIT=A ...":
-- L lead or coordinate, A assist, C copy)
local function role_class(actor, asg)
  local u = string.match(actor, '^unit:(.+)$')
  if not u then return RC[actor] end
  local r = string.match(' ' .. (asg or '') .. ' ', ' ' .. string.gsub(u, '%p', '%%%0') .. '=(%a) ')
  if r == 'L' then return RC.lead elseif r == 'A' then return RC.assist elseif r == 'C' then return RC.copy end
  return RC.stranger
end

local function fsm_row(stage, act, rc)
  local rows = FSM[stage] and FSM[stage][act]
  if not rows then return nil, 'not_allowed' end
  for _, row in ipairs(rows) do
    if bit.band(row[1], rc) ~= 0 then return row end
  end
  return nil, 'forbidden'
end

local function audit(maxlen, oid, actor, act, code, msg, aid)
  redis.call('XADD', 'jiesu:audit', 'MAXLEN', '~', maxlen > 0 and maxlen or 100000, '*',
             'o', oid, 'actor', actor, 'act', act, 'code', code, 'msg', msg, 'id', aid)
end

--[[ jiesu_load: what the dispatcher needs to decide an action.
  KEYS: o:{ID}. ARGV: the action's envelope id ('' for none).
  Reply: {} unknown order, else {HGETALL of the order, stored result of this
  action id or false}. ]]
local function load(keys, args)
  local h = redis.call('HGETALL', keys[1])
  if #h == 0 then return {} end
  local done = false
  if args[1] and args[1] ~= '' then
    done = redis.call('GET', 'a:' .. string.sub(keys[1], 3) .. ':' .. args[1])
  end
  return {h, done}
end

--[[ jiesu_act: apply actions to orders (units, reviewers, operators, the
  dispatcher's own steps).
  KEYS: o:{ID} of each action, in order.
  ARGV: now_ms, maxlen, action-id ttl s, then per action 14 args + 2 per
        field + 3 per timer: id, action id ('' none), action (enum js_act),
        actor, expected stage, expected version, new stage (as the caller
        decided), Order bytes, assignment map ('' unchanged), event type,
        Envelope bytes, re-drive time of the new stage (0 none), provisional
        (1: the order has a clock counting through an unpublished year),
        F hash fields to set, then F times name value, T timers, then T times
        bucket fire member.
  Reply per action: {1, version, stage} applied; {2, version, stage} this
  action id was applied before (nothing done); {0, code, message} refused:
  not_found, conflict (the order moved), not_allowed (not in this stage),
  forbidden (not for this role: audited in jiesu:audit), bad_request. ]]
local function act(keys, args)
  local now, maxlen, ttl = num(args[1], 'now'), num(args[2], 'maxlen'), num(args[3], 'ttl')
  local out = {}
  local p = 4
  local i = 0
  while p <= #args do
    i = i + 1
    local okey = keys[i]
    if okey == nil then return redis.error_reply('jiesu_act: fewer keys than actions') end
    local id, aid, a, actor = args[p], args[p + 1], num(args[p + 2], 'action'), args[p + 3]
    local es, ev, ns = num(args[p + 4], 'stage'), args[p + 5], num(args[p + 6], 'new stage')
    local blob, asg, etype, env = args[p + 7], args[p + 8], args[p + 9], args[p + 10]
    local redrive, prov = num(args[p + 11], 'redrive'), args[p + 12]
    local nf = num(args[p + 13], 'fields')
    local fp = p + 14
    local nt = num(args[fp + nf * 2], 'timers')
    local tp = fp + nf * 2 + 1
    p = tp + nt * 3
    local akey = 'a:' .. string.sub(okey, 3) .. ':' .. aid
    local cur = redis.call('HMGET', okey, 'stage', 'v', 'ps', 'asg')
    local prior = aid ~= '' and redis.call('GET', akey)
    if not cur[1] then
      out[#out + 1] = {0, 'not_found', 'no order ' .. id}
    elseif prior then
      local pv, pst = string.match(prior, '^(%d+):(%d+)$')
      out[#out + 1] = {2, tonumber(pv), tonumber(pst)}
    elseif tonumber(cur[1]) ~= es or cur[2] ~= ev then
      out[#out + 1] = {0, 'conflict', string.format('order %s moved: it is in stage %s at version %s, not %s at %s',
                       id, STAGE_NAME[tonumber(cur[1])] or cur[1], cur[2], STAGE_NAME[es] or es, ev)}
    else
      local rc = role_class(actor, cur[4])
      local row, why = nil, 'forbidden'
      if rc then row, why = fsm_row(es, a, rc) end
      local next_stage
      if row then
        next_stage = row[2]
        if next_stage == FSM_SAME then next_stage = es
        elseif next_stage == FSM_PREV then next_stage = tonumber(cur[3] or '') end
      end
      if not row then
        local msg = string.format('%s by %s is %s in stage %s', ACT_NAME[a] or a, actor,
                                  why == 'forbidden' and 'not allowed for that role' or 'not allowed',
                                  STAGE_NAME[es] or es)
        audit(maxlen, id, actor, ACT_NAME[a] or tostring(a), why, msg, aid)
        out[#out + 1] = {0, why, msg}
      elseif next_stage == nil or (ns ~= next_stage and ns ~= row[3]) then
        out[#out + 1] = {0, 'bad_request', string.format('%s in stage %s leads to %s, not %s', ACT_NAME[a] or a,
                         STAGE_NAME[es] or es, STAGE_NAME[next_stage] or '?', STAGE_NAME[ns] or ns)}
      else
        local nv = tonumber(ev) + 1
        local h = {okey, 'stage', ns, 'v', nv, 'd', blob}
        if asg ~= '' then h[#h + 1] = 'asg'; h[#h + 1] = asg end
        if bit.band(row[4], FX_SAVE_PREV) ~= 0 then h[#h + 1] = 'ps'; h[#h + 1] = es end
        hset_fields(h, args, fp, nf)
        if ns ~= es then redis.call('ZREM', due_key(es), id) end
        if redrive > 0 then redis.call('ZADD', due_key(ns), redrive, id) end
        arm_timers(args, tp, nt)
        if prov == '1' then redis.call('SADD', 'jiesu:prov', id) end
        if aid ~= '' then redis.call('SET', akey, nv .. ':' .. ns, 'EX', ttl) end
        xadd(maxlen, etype, id, env)
        out[#out + 1] = {1, nv, ns}
      end
    end
  end
  return out
end

--[[ jiesu_audit: record a refused action that never reached jiesu_act (the
  dispatcher refused it first). ARGV: maxlen, order id, actor, action, code,
  message, action id. ]]
local function audit_fn(keys, args)
  audit(num(args[1], 'maxlen'), args[2], args[3], args[4], args[5], args[6], args[7] or '')
  return 1
end

--[[ jiesu_classify: an operator's classification of an order in the manual
  queue (jiesuctl classify). The order goes on to the dispatcher at once and
  the correction is kept for training (jiesu-train --corrections).
  KEYS: o:{ID}.
  ARGV: maxlen, id, expected version, Order bytes (the new state: stage
        classified, version = expected + 1), event type, Envelope bytes,
        now_ms, corrections maxlen, then the correction's fields: topic, type,
        text, machine topic, machine type, actor.
  Reply: {1, new version} applied; {0, stage, version} refused: the order is
  not in stage manual (3) or not at the expected version; {-1} unknown order. ]]
local STAGE_CLASSIFIED, STAGE_MANUAL = '2', '3'
local CORRECTIONS = 'jiesu:corrections'

-- stages in which an order is with its units: its type may still be confirmed
local TYPE_CONFIRM_STAGES = {['4'] = true, ['5'] = true, ['6'] = true, ['7'] = true, ['8'] = true, ['9'] = true,
                             ['10'] = true, ['13'] = true}

local function classify(keys, args)
  if (#args ~= 14 and #args ~= 15) or #keys ~= 1 then
    return redis.error_reply('jiesu_classify: want 1 key and 14 or 15 args')
  end
  local maxlen = num(args[1], 'maxlen')
  local id, ev, blob, etype, env = args[2], args[3], args[4], args[5], args[6]
  local now, cmax = num(args[7], 'now'), num(args[8], 'corrections maxlen')
  local confirm = args[15] == 'type'  -- an unsure type confirmed on an order already with its units
  local cur = redis.call('HMGET', keys[1], 'stage', 'v')
  if not cur[1] then return {-1} end
  local ok_stage = confirm and TYPE_CONFIRM_STAGES[cur[1]] or (not confirm and cur[1] == STAGE_MANUAL)
  if not ok_stage or cur[2] ~= ev then return {0, tonumber(cur[1]), tonumber(cur[2])} end
  local nv = tonumber(ev) + 1
  if confirm then
    redis.call('HSET', keys[1], 'v', nv, 'd', blob)
  else
    redis.call('HSET', keys[1], 'stage', STAGE_CLASSIFIED, 'v', nv, 'd', blob)
    redis.call('ZREM', due_key(STAGE_MANUAL), id)
    -- due now: the dispatcher's re-drive sweep takes it on its next pass
    redis.call('ZADD', due_key(STAGE_CLASSIFIED), now, id)
  end
  xadd(maxlen, etype, id, env)
  local fields = {'o', id, 'topic', args[9], 'type', args[10], 'text', args[11],
                  'm_topic', args[12], 'm_type', args[13], 'by', args[14], 'ms', args[7]}
  if cmax > 0 then
    redis.call('XADD', CORRECTIONS, 'MAXLEN', '~', cmax, '*', unpack(fields))
  else
    redis.call('XADD', CORRECTIONS, '*', unpack(fields))
  end
  return {1, nv}
end

--[[ jiesu_overdue_claim: orders whose handling clock went overdue (jiesu:overdue,
  filled by jiesu_timer_ack), for the dispatcher's escalation.
  ARGV: now_ms, lease_ms, limit. Each id returned moves a lease ahead, so two
  dispatchers do not take the same one at once; the dispatcher ZREMs it when
  done. Reply: flat list id, version, stage, Order bytes, ...; an id whose
  order is gone is dropped. ]]
local function overdue_claim(keys, args)
  local now, lease, limit = num(args[1], 'now'), num(args[2], 'lease'), num(args[3], 'limit')
  local ids = redis.call('ZRANGE', 'jiesu:overdue', '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
  local out = {}
  for _, id in ipairs(ids) do
    local cur = redis.call('HMGET', 'o:{' .. id .. '}', 'v', 'stage', 'd')
    if cur[1] then
      redis.call('ZADD', 'jiesu:overdue', now + lease, id)
      out[#out + 1] = id
      out[#out + 1] = cur[1]
      out[#out + 1] = cur[2]
      out[#out + 1] = cur[3]
    else
      redis.call('ZREM', 'jiesu:overdue', id)
    end
  end
  return out
end

redis.register_function{function_name = 'jiesu_version', callback = function() return JIESU_LIB_VERSION end,
                        flags = {'no-writes'}}
redis.register_function('jiesu_receive', receive)
redis.register_function('jiesu_advance', advance)
redis.register_function('jiesu_claim', claim)
redis.register_function('jiesu_timer_claim', timer_claim)
redis.register_function('jiesu_timer_ack', timer_ack)
redis.register_function('jiesu_recompute', recompute)
redis.register_function{function_name = 'jiesu_next_due', callback = next_due, flags = {'no-writes'}}
redis.register_function{function_name = 'jiesu_load', callback = load, flags = {'no-writes'}}
redis.register_function('jiesu_act', act)
redis.register_function('jiesu_audit', audit_fn)
redis.register_function('jiesu_classify', classify)
redis.register_function('jiesu_overdue_claim', overdue_claim)
