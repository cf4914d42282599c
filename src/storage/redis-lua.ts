/**
 * The Lua scripts of the Redis adapter (see redis.ts). Every string a script returns starts with
 * `~`: @upstash/redis passes results through `JSON.parse` unless told not to
 * (`automaticDeserialization`), and text that starts with `~` is never JSON, so it comes back as sent
 * whatever the client's setting. Integers and nil are the same in every client.
 */

/**
 * Writes a batch, optionally under a compare. KEYS[1] is the list index (a sorted set), KEYS[2] the
 * compared key (the batch's last), ARGV[1] the compare (`''` none, `'-'` KEYS[2] must be absent, `'='`
 * its text must be ARGV[2] exactly). The entries come one of two ways:
 *
 * - inline: KEYS[3..] the value keys, ARGV[3..] a member (our key) and a value text per key;
 * - staged (no ARGV[3]): KEYS[3] a hash filled by `STAGE`, field the value key, value
 *   `<bytes of member>:<member><text>` (a key may hold any byte, ':' and newlines included). The
 *   hash is deleted here whatever the outcome.
 *
 * A text `''` deletes (JSON text is never empty). Entries apply in order, KEYS[2] last. Returns 1
 * when written, 0 when the compare failed on presence, `'~' .. text` when KEYS[2] holds other text
 * (the caller compares values, see `compareAndSet` in redis.ts).
 */
export const WRITE = `local mode, cur = ARGV[1], redis.call('GET', KEYS[2])
local fail = (mode == '-' and cur and 0) or (mode == '=' and (not cur and 0 or (cur ~= ARGV[2] and '~' .. cur)))
local ops, last = {}, nil
if ARGV[3] then
  if fail then return fail end
  for i = 3, #KEYS do ops[#ops + 1] = {KEYS[i], ARGV[2 * i - 3], ARGV[2 * i - 2]} end
else
  local all = redis.call('HGETALL', KEYS[3])
  redis.call('DEL', KEYS[3])
  if fail then return fail end
  for i = 1, #all, 2 do
    local v = all[i + 1]
    local c = string.find(v, ':', 1, true)
    local e = c + tonumber(string.sub(v, 1, c - 1))
    local op = {all[i], string.sub(v, c + 1, e), string.sub(v, e + 1)}
    if all[i] == KEYS[2] then last = op else ops[#ops + 1] = op end
  end
  ops[#ops + 1] = last
end
for _, op in ipairs(ops) do
  if op[3] == '' then
    redis.call('DEL', op[1])
    redis.call('ZREM', KEYS[1], op[2])
  else
    redis.call('SET', op[1], op[3])
    redis.call('ZADD', KEYS[1], 0, op[2])
  end
end
return 1`

/**
 * Adds ARGV's field-value pairs to the hash KEYS[1], for a batch too large for one request (see
 * `WRITE`); it expires in an hour, so a writer that dies before its `WRITE` leaves no garbage.
 */
export const STAGE = `for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], 3600)
return 1`

/** The values of KEYS, each `'~' .. text` or nil (absent). */
export const READ = `local out = {}
for i = 1, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v then out[i] = '~' .. v else out[i] = false end
end
return out`

/**
 * One page of the index KEYS[1] (ZRANGEBYLEX: byte order, UTF-8 keys sort as Workers KV's): members
 * starting with ARGV[1], after ARGV[3] when ARGV[2] is '1', at most ARGV[4]. The upper bound is the
 * prefix followed by byte 255, which no UTF-8 text holds; it is made here because a client would send
 * a JavaScript `'\xff'` as two bytes (C3 BF).
 */
export const LIST = `local min = ARGV[2] == '1' and ('(' .. ARGV[3]) or ('[' .. ARGV[1])
local max = ARGV[1] == '' and '+' or ('(' .. ARGV[1] .. '\\255')
local r = redis.call('ZRANGEBYLEX', KEYS[1], min, max, 'LIMIT', 0, tonumber(ARGV[4]))
for i = 1, #r do r[i] = '~' .. r[i] end
return r`
