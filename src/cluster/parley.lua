#!lua name=parley
-- The backplane's state changes, one Redis function each (docs/cluster.md).
-- Redis runs one function at a time, so each is atomic and every channel's
-- changes have one total order; a function's PUBLISH goes out in that order.
--
-- Keys (P is --cluster-prefix; {..} is a Redis Cluster hash tag):
--   P:{c:NAME}        hash  name, topic, seq, epoch      (also the pub/sub channel)
--   P:{c:NAME}:m      hash  nick key -> "OWNER NICK"     (OWNER "" while held)
--   P:{c:NAME}:log    stream, ids SEQ-0, fields ts f t o g (time, from, text, owner, tag)
--   P:{u:NICK}        hash  nick, session, node, owner, until, quit
--   P:{u:NICK}:ch     set   channel keys
--   P:channels        hash  channel key -> name (for `list`)
--   P:held            zset  nick key -> when its grace ends
--   P:nodes           set   nodes that hold a lease
--   P:lease:NODE      string, expires after --node-lease
--   P:node:NODE:users set   nick keys of the node's sessions
-- Pub/sub: P:{c:NAME} (channel events), P:users (nick and quit events),
-- P:to:NODE (direct messages, `replaced`). Payloads are a header line and
-- the event's line as clients get it:
--   "m SEQ OWNER TAG"  "e OWNER"  "u OWNER KEY,KEY,.."  "d CONN"  "r CONN"
-- OWNER is NODE/CONN, the connection that acted ("-" for none).
-- NAME and NICK keys are ASCII-lowercased; names and nicks need no JSON
-- escaping, so only quotes are added around them.

local function ch(p, c) return p .. ':{c:' .. c .. '}' end
local function usr(p, u) return p .. ':{u:' .. u .. '}' end
local function q(s) return '"' .. s .. '"' end
local function node_of(owner) return string.match(owner, '^(.*)/[^/]*$') end
local function conn_of(owner) return string.match(owner, '/([^/]*)$') end
-- A seq (a Lua number) as text, exact up to 2^53: tostring and '..' print
-- one above 1e14 in exponent form, '%d' goes through a C long.
local function seq_text(n) return string.format('%.0f', n) end
-- The history stream id of seq n.
local function id(n) return seq_text(n) .. '-0' end
local function owned_by(value, owner) return string.sub(value, 1, #owner + 1) == owner .. ' ' end

local function drop_if_empty(p, c)
  local k = ch(p, c)
  if redis.call('HLEN', k .. ':m') == 0 then
    redis.call('DEL', k, k .. ':m', k .. ':log')
    redis.call('HDEL', p .. ':channels', c)
  end
end

-- Sets the member entry of user `u` (nick `nick`) in each of its channels.
local function set_member_entries(p, u, nick, owner)
  local chans = redis.call('SMEMBERS', usr(p, u) .. ':ch')
  for _, c in ipairs(chans) do redis.call('HSET', ch(p, c) .. ':m', u, owner .. ' ' .. nick) end
  return chans
end

-- Ends a session: out of every channel, nick free, its quit line published
-- once to every server (each tells its members sharing a channel).
local function end_session(p, u, line, origin)
  local uk = usr(p, u)
  local chans = redis.call('SMEMBERS', uk .. ':ch')
  for _, c in ipairs(chans) do
    redis.call('HDEL', ch(p, c) .. ':m', u)
    drop_if_empty(p, c)
  end
  local node = redis.call('HGET', uk, 'node')
  if node then redis.call('SREM', p .. ':node:' .. node .. ':users', u) end
  redis.call('DEL', uk, uk .. ':ch')
  redis.call('ZREM', p .. ':held', u)
  if #chans > 0 and line and line ~= '' then
    redis.call('PUBLISH', p .. ':users', 'u ' .. origin .. ' ' .. table.concat(chans, ',') .. '\n' .. line)
  end
end

local function fenced(p, u, owner)
  return redis.call('HGET', usr(p, u), 'owner') ~= owner
end

-- hello: P U NICK SESSION NODE OWNER RESUME [NOW]
-- A held session whose grace is over (NOW, wall ms, past its until) is
-- ended here as the next sweep would end it (its quit published once):
-- no resume takes it over, and its nick is free.
redis.register_function('parley_hello', function(_, a)
  local p, u, nick, session, node, owner, resume, now = a[1], a[2], a[3], a[4], a[5], a[6], a[7], tonumber(a[8])
  local uk = usr(p, u)
  local rec = redis.call('HMGET', uk, 'nick', 'session', 'node', 'owner', 'until')
  if rec[1] and now and rec[4] == '' and tonumber(rec[5] or 0) > 0 and tonumber(rec[5]) <= now then
    end_session(p, u, redis.call('HGET', uk, 'quit'), '-')
    rec = {}
  end
  if rec[1] then
    if resume == '' or rec[2] ~= resume then return {'nick_in_use'} end
    redis.call('HSET', uk, 'node', node, 'owner', owner, 'until', 0)
    redis.call('ZREM', p .. ':held', u)
    if rec[3] ~= node then
      redis.call('SREM', p .. ':node:' .. rec[3] .. ':users', u)
      redis.call('SADD', p .. ':node:' .. node .. ':users', u)
    end
    local old = rec[4] or ''
    if old ~= '' and node_of(old) ~= node then
      redis.call('PUBLISH', p .. ':to:' .. node_of(old), 'r ' .. conn_of(old))
    end
    local out = {'resumed', rec[1], rec[2], old}
    for _, c in ipairs(set_member_entries(p, u, rec[1], owner)) do
      local meta = redis.call('HMGET', ch(p, c), 'name', 'seq', 'epoch')
      table.insert(out, meta[1] or c)
      table.insert(out, meta[2] or '0')
      table.insert(out, meta[3] or '')
    end
    return out
  end
  redis.call('HSET', uk, 'nick', nick, 'session', session, 'node', node, 'owner', owner, 'until', 0)
  redis.call('SADD', p .. ':node:' .. node .. ':users', u)
  return {'ok'}
end)

-- nick: P OLD NEW NICK OWNER LINE
redis.register_function('parley_nick', function(_, a)
  local p, old, new, nick, owner, line = a[1], a[2], a[3], a[4], a[5], a[6]
  if fenced(p, old, owner) then return {'gone'} end
  local ok, nk = usr(p, old), usr(p, new)
  if new ~= old then
    if redis.call('EXISTS', nk) == 1 then return {'nick_in_use'} end
    local chans = redis.call('SMEMBERS', ok .. ':ch')
    for _, c in ipairs(chans) do redis.call('HDEL', ch(p, c) .. ':m', old) end
    redis.call('RENAME', ok, nk)
    if #chans > 0 then redis.call('RENAME', ok .. ':ch', nk .. ':ch') end
    local node = redis.call('HGET', nk, 'node')
    redis.call('SREM', p .. ':node:' .. node .. ':users', old)
    redis.call('SADD', p .. ':node:' .. node .. ':users', new)
  end
  redis.call('HSET', nk, 'nick', nick)
  local chans = set_member_entries(p, new, nick, owner)
  if #chans > 0 and line ~= '' then
    redis.call('PUBLISH', p .. ':users', 'u ' .. owner .. ' ' .. table.concat(chans, ',') .. '\n' .. line)
  end
  return {'ok'}
end)

-- join: P C NAME U OWNER MAX_CHANNELS EPOCH HEAD MIDDLE
redis.register_function('parley_join', function(_, a)
  local p, c, name, u, owner, max, epoch, head, middle = a[1], a[2], a[3], a[4], a[5], tonumber(a[6]), a[7], a[8], a[9]
  local k, uk = ch(p, c), usr(p, u)
  local rec = redis.call('HMGET', uk, 'owner', 'nick')
  if rec[1] ~= owner then return {'gone'} end
  if redis.call('HEXISTS', k .. ':m', u) == 0 then
    if redis.call('SCARD', uk .. ':ch') >= max then return {'too_many_channels'} end
    if redis.call('EXISTS', k) == 0 then
      redis.call('HSET', k, 'name', name, 'seq', 0, 'epoch', epoch)
      redis.call('HSET', p .. ':channels', c, name)
    end
    redis.call('HSET', k .. ':m', u, owner .. ' ' .. rec[2])
    redis.call('SADD', uk .. ':ch', c)
    redis.call('PUBLISH', k, 'e ' .. owner .. '\n' .. head .. q(redis.call('HGET', k, 'name')) .. middle)
  end
  local meta = redis.call('HMGET', k, 'name', 'topic', 'seq', 'epoch')
  return {'ok', meta[1], meta[2] or false, meta[3], meta[4], redis.call('HVALS', k .. ':m')}
end)

-- part: P C U OWNER HEAD MIDDLE
redis.register_function('parley_part', function(_, a)
  local p, c, u, owner, head, middle = a[1], a[2], a[3], a[4], a[5], a[6]
  local k = ch(p, c)
  local name = redis.call('HGET', k, 'name')
  if not name then return {'no_such_channel'} end
  local v = redis.call('HGET', k .. ':m', u)
  if not v then return {'not_in_channel', name} end
  if not owned_by(v, owner) then return {'gone'} end
  redis.call('HDEL', k .. ':m', u)
  redis.call('SREM', usr(p, u) .. ':ch', c)
  redis.call('PUBLISH', k, 'e ' .. owner .. '\n' .. head .. q(name) .. middle)
  drop_if_empty(p, c)
  return {'ok', name}
end)

-- One say to channel key `k` (its name `name`, false when there is no such
-- channel) as OWNER, whose sender's member entry is `entry` (false: not a
-- member) -> {'ok', SEQ, NAME} | {'not_in_channel', NAME} |
-- {'no_such_channel'} | {'gone'}. TAG is the sender's number for this say,
-- so its server can answer it when the message is back.
local function say_one(k, name, entry, owner, history, head, middle, tail, ts, from, text, tag)
  if not entry then
    if not name then return {'no_such_channel'} end
    return {'not_in_channel', name}
  end
  if not owned_by(entry, owner) then return {'gone'} end
  local seq = redis.call('HINCRBY', k, 'seq', 1)
  local s = seq_text(seq)  -- once: Lua formats a number with sprintf at every concatenation
  redis.call('XADD', k .. ':log', 'MAXLEN', '~', history, s .. '-0', 'ts', ts, 'f', from, 't', text, 'o', owner, 'g', tag)
  redis.call('PUBLISH', k, 'm ' .. s .. ' ' .. owner .. ' ' .. tag .. '\n' .. head .. q(name) .. middle .. s .. tail)
  return {'ok', seq, name}
end

-- says: P C HISTORY, then per say U OWNER HEAD MIDDLE TAIL TS FROM TEXT TAG
-- -> one result per say, in their order (say_one's). The says of one loop
-- turn of one server for one channel, run back to back in one call
-- (docs/cluster.md, "Batched says"); each is checked and published as if
-- it were alone. A say changes neither the channel's name nor anyone's
-- membership, so both are read once per call (the entry once per sender).
redis.register_function('parley_says', function(_, a)
  local p, c, history = a[1], a[2], a[3]
  local k = ch(p, c)
  local name = redis.call('HGET', k, 'name')
  local entries = {}
  local out = {}
  for i = 4, #a - 8, 9 do
    local u = a[i]
    local entry = entries[u]
    if entry == nil then
      entry = redis.call('HGET', k .. ':m', u)
      entries[u] = entry
    end
    out[#out + 1] = say_one(k, name, entry, a[i + 1], history, a[i + 2], a[i + 3], a[i + 4], a[i + 5], a[i + 6],
                            a[i + 7], a[i + 8])
  end
  return out
end)

-- say: P C U OWNER HISTORY HEAD MIDDLE TAIL TS FROM TEXT TAG -> say_one's
-- result. One say alone: what a server of the previous release calls
-- during a rolling deploy (this library replaces the one it loaded).
redis.register_function('parley_say', function(_, a)
  local k = ch(a[1], a[2])
  return say_one(k, redis.call('HGET', k, 'name'), redis.call('HGET', k .. ':m', a[3]), a[4], a[5], a[6], a[7],
                 a[8], a[9], a[10], a[11], a[12])
end)

-- msg: P TO U OWNER HEAD MIDDLE
redis.register_function('parley_msg', function(_, a)
  local p, t, u, owner, head, middle = a[1], a[2], a[3], a[4], a[5], a[6]
  if fenced(p, u, owner) then return {'gone'} end
  local rec = redis.call('HMGET', usr(p, t), 'nick', 'owner')
  if not rec[1] then return {'no_such_nick'} end
  if rec[2] and rec[2] ~= '' then
    redis.call('PUBLISH', p .. ':to:' .. node_of(rec[2]), 'd ' .. conn_of(rec[2]) .. '\n' .. head .. q(rec[1]) .. middle)
  end
  return {'ok', rec[1]}
end)

-- topic: P C U OWNER SET TOPIC HEAD MIDDLE (SET "1" sets, "" clears to null)
redis.register_function('parley_topic', function(_, a)
  local p, c, u, owner, set, topic, head, middle = a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]
  local k = ch(p, c)
  local name = redis.call('HGET', k, 'name')
  if not name then return {'no_such_channel'} end
  if set == '1' then
    local v = redis.call('HGET', k .. ':m', u)
    if not v then return {'not_in_channel', name} end
    if not owned_by(v, owner) then return {'gone'} end
    if topic == '' then redis.call('HDEL', k, 'topic') else redis.call('HSET', k, 'topic', topic) end
    redis.call('PUBLISH', k, 'e ' .. owner .. '\n' .. head .. q(name) .. middle)
  end
  return {'ok', name, redis.call('HGET', k, 'topic') or false}
end)

-- list: P [CURSOR OFFSET COUNT]
-- Without CURSOR (the previous release's servers): ok, then name, member
-- count, topic for every channel. With it, one page of the walk: ok,
-- NEXT_CURSOR, NEXT_OFFSET, then at most COUNT channels. HSCAN's batch (a
-- small hash comes whole) is cut into pages of COUNT by OFFSET; NEXT_CURSOR
-- "0" with NEXT_OFFSET 0 ends the walk. Each reply holds at most COUNT
-- topics, so the caller bounds its size.
local function list_entry(out, p, c, name)
  local k = ch(p, c)
  table.insert(out, name)
  table.insert(out, redis.call('HLEN', k .. ':m'))
  table.insert(out, redis.call('HGET', k, 'topic') or false)
end

redis.register_function('parley_list', function(_, a)
  local p = a[1]
  if not a[2] then
    local all = redis.call('HGETALL', p .. ':channels')
    local out = {'ok'}
    for i = 1, #all, 2 do list_entry(out, p, all[i], all[i + 1]) end
    return out
  end
  local cursor, offset, count = a[2], tonumber(a[3]), tonumber(a[4])
  local scan = redis.call('HSCAN', p .. ':channels', cursor, 'COUNT', count)
  local batch = scan[2]
  local found = #batch / 2
  local last = math.min(found, offset + count)
  local out = {'ok', scan[1], 0}
  for i = offset + 1, last do list_entry(out, p, batch[2 * i - 1], batch[2 * i]) end
  if last < found then
    out[2] = cursor
    out[3] = last
  end
  return out
end)

-- members: P C
redis.register_function('parley_members', function(_, a)
  local k = ch(a[1], a[2])
  local name = redis.call('HGET', k, 'name')
  if not name then return {'no_such_channel'} end
  return {'ok', name, redis.call('HVALS', k .. ':m')}
end)

-- The oldest seq a channel whose latest is `latest` still keeps, when its
-- server keeps `keep` (--history; nil from the previous release's servers,
-- which send none): says trim the history stream approximately (whole
-- stream nodes, docs/cluster.md "History"), so it may hold up to one node
-- more than --history; readers see exactly the last --history.
local function kept_from(latest, keep)
  if not keep then return 1 end
  return math.max(1, latest - tonumber(keep) + 1)
end

-- history: P C U BEFORE AFTER LIMIT [KEEP] (BEFORE, AFTER "" when absent)
-- -> ok, name, epoch, latest seq, the oldest seq still kept (at or above
-- latest - KEEP + 1; latest + 1 when none is), entries (oldest first with
-- AFTER, newest first without)
redis.register_function('parley_history', function(_, a)
  local p, c, u, before, after, limit = a[1], a[2], a[3], a[4], a[5], a[6]
  local k = ch(p, c)
  local meta = redis.call('HMGET', k, 'name', 'seq', 'epoch')
  if not meta[1] then return {'no_such_channel'} end
  if redis.call('HEXISTS', k .. ':m', u) == 0 then return {'not_in_channel', meta[1]} end
  local latest = tonumber(meta[2])
  local floor = kept_from(latest, a[7])
  local first = redis.call('XRANGE', k .. ':log', id(floor), '+', 'COUNT', 1)
  local oldest = latest + 1
  if #first > 0 then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end
  local last = latest
  if before ~= '' then last = math.min(tonumber(before) - 1, latest) end
  local entries = {}
  if last >= oldest then
    if after ~= '' then
      local from = math.max(tonumber(after) + 1, oldest)
      if from <= last then
        entries = redis.call('XRANGE', k .. ':log', id(from), id(last), 'COUNT', limit)
      end
    else
      entries = redis.call('XREVRANGE', k .. ':log', id(last), id(oldest), 'COUNT', limit)
    end
  end
  return {'ok', meta[1], meta[3], latest, oldest, entries}
end)

-- range: P C FROM TO [COUNT [KEEP]] -> ok, name, epoch, entries of
-- FROM..TO still kept, at most COUNT (for gap repair, a page at a time: one
-- reply stays well below Redis's output limit and our reader's bound however
-- long the hole; the previous release's servers, sharing this library in a
-- rolling upgrade, send neither COUNT nor KEEP)
redis.register_function('parley_range', function(_, a)
  local k = ch(a[1], a[2])
  local meta = redis.call('HMGET', k, 'name', 'epoch', 'seq')
  if not meta[1] then return {'no_such_channel'} end
  local from = math.max(tonumber(a[3]), kept_from(tonumber(meta[3]), a[6]))
  local entries
  if a[5] then
    entries = redis.call('XRANGE', k .. ':log', id(from), a[4] .. '-0', 'COUNT', a[5])
  else
    entries = redis.call('XRANGE', k .. ':log', id(from), a[4] .. '-0')
  end
  return {'ok', meta[1], meta[2], entries}
end)

-- heads: P C... -> for each channel: name (or false), seq, epoch
redis.register_function('parley_heads', function(_, a)
  local out = {'ok'}
  for i = 2, #a do
    local meta = redis.call('HMGET', ch(a[1], a[i]), 'name', 'seq', 'epoch')
    table.insert(out, meta[1] or false)
    table.insert(out, meta[2] or '0')
    table.insert(out, meta[3] or '')
  end
  return out
end)

-- hold: P U OWNER UNTIL QUIT_LINE [MAX]: the connection is gone; the session waits for a resume
-- With MAX (--max-held; the previous release's servers send none), the
-- held sessions soonest to expire end now while the cluster holds MAX.
redis.register_function('parley_hold', function(_, a)
  local p, u, owner, untl, line, max = a[1], a[2], a[3], a[4], a[5], tonumber(a[6])
  if fenced(p, u, owner) then return {'gone'} end
  if max then
    local over = redis.call('ZCARD', p .. ':held') - max + 1
    if over > 0 then
      for _, v in ipairs(redis.call('ZRANGE', p .. ':held', 0, over - 1)) do
        end_session(p, v, redis.call('HGET', usr(p, v), 'quit'), '-')
      end
    end
  end
  local uk = usr(p, u)
  redis.call('HSET', uk, 'owner', '', 'until', untl, 'quit', line)
  redis.call('ZADD', p .. ':held', untl, u)
  set_member_entries(p, u, redis.call('HGET', uk, 'nick'), '')
  return {'ok'}
end)

-- quit: P U OWNER LINE
redis.register_function('parley_quit', function(_, a)
  local p, u, owner, line = a[1], a[2], a[3], a[4]
  if fenced(p, u, owner) then return {'gone'} end
  end_session(p, u, line, owner)
  return {'ok'}
end)

-- expire: P NOW MAX GRACE LOST_HEAD LOST_MIDDLE -> ok, sessions ended, nodes
-- found lost, sessions held now (in the whole cluster)
-- Sessions of a node whose lease is gone are held from now (their quit
-- says "server lost"); held sessions whose grace is over end.
redis.register_function('parley_expire', function(_, a)
  local p, now, max, grace, head, middle = a[1], tonumber(a[2]), a[3], tonumber(a[4]), a[5], a[6]
  local lost = 0
  for _, node in ipairs(redis.call('SMEMBERS', p .. ':nodes')) do
    if redis.call('EXISTS', p .. ':lease:' .. node) == 0 then
      lost = lost + 1
      redis.call('SREM', p .. ':nodes', node)
      for _, u in ipairs(redis.call('SMEMBERS', p .. ':node:' .. node .. ':users')) do
        local uk = usr(p, u)
        local rec = redis.call('HMGET', uk, 'owner', 'nick')
        if rec[1] and rec[1] ~= '' then
          redis.call('HSET', uk, 'owner', '', 'until', now + grace, 'quit', head .. q(rec[2]) .. middle)
          redis.call('ZADD', p .. ':held', now + grace, u)
          set_member_entries(p, u, rec[2], '')
        end
      end
    end
  end
  local due = redis.call('ZRANGEBYSCORE', p .. ':held', '-inf', now, 'LIMIT', 0, max)
  for _, u in ipairs(due) do end_session(p, u, redis.call('HGET', usr(p, u), 'quit'), '-') end
  return {'ok', #due, lost, redis.call('ZCARD', p .. ':held')}
end)

-- lease: P NODE MS FIRST -> ok, "fresh" | "kept" | "lost" (the node had
-- been found lost: its sessions are held, or gone)
redis.register_function('parley_lease', function(_, a)
  local p, node, ms, first = a[1], a[2], a[3], a[4]
  redis.call('SET', p .. ':lease:' .. node, '1', 'PX', ms)
  local added = redis.call('SADD', p .. ':nodes', node)
  if first == '1' then return {'ok', 'fresh'} end
  if added == 1 then return {'ok', 'lost'} end
  return {'ok', 'kept'}
end)

-- reclaim: P U NODE OWNER SESSION: after "lost", take back a held session of ours
redis.register_function('parley_reclaim', function(_, a)
  local p, u, node, owner, session = a[1], a[2], a[3], a[4], a[5]
  local uk = usr(p, u)
  local rec = redis.call('HMGET', uk, 'nick', 'session', 'node', 'owner')
  if not rec[1] or rec[2] ~= session or rec[3] ~= node or rec[4] ~= '' then return {'gone'} end
  redis.call('HSET', uk, 'owner', owner, 'until', 0)
  redis.call('ZREM', p .. ':held', u)
  redis.call('SADD', p .. ':node:' .. node .. ':users', u)
  set_member_entries(p, u, rec[1], owner)
  return {'ok'}
end)

-- leave: P NODE: a node that drained away (or stops) gives up its lease and
-- leaves the node set, so that no sweep logs it lost. Unless a session still
-- names it (a stop that could not hold them all): the next sweep then finds
-- the node lost and holds those, as for a node that died.
redis.register_function('parley_leave', function(_, a)
  local p, node = a[1], a[2]
  redis.call('DEL', p .. ':lease:' .. node)
  for _, u in ipairs(redis.call('SMEMBERS', p .. ':node:' .. node .. ':users')) do
    local owner = redis.call('HGET', usr(p, u), 'owner')
    if owner and owner ~= '' and node_of(owner) == node then return {'ok'} end
  end
  redis.call('SREM', p .. ':nodes', node)
  return {'ok'}
end)
