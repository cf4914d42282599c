/**
 * The Lua scripts of the Redis adapter (see redis.ts). Every string a script returns starts with
 * `~`: @upstash/redis passes results through `JSON.parse` unless told not to
 * (`automaticDeserialization`), and text that starts with `~` is never JSON, so it comes back as sent
 * whatever the client's setting. Integers and nil are the same in every client.
 */

/**
 * Writes a batch, optionally under a compare: KEYS[1] is the list index (a sorted set), KEYS[2..]
 * the value keys; ARGV[1] is the compare (`''` none, `'-'` the last key must be absent, `'='` its text
 * must be ARGV[2] exactly); then a member (our key) and a value text per key, `''` deleting it (JSON
 * text is never empty). Entries apply in order, the compared key last. Returns 1 when written, 0 when
 * the compare failed on presence, `'~' .. text` when the last key holds other text (the caller
 * compares values, see `compareAndSet` in redis.ts).
 */
export const WRITE = `local n = #KEYS - 1
local mode = ARGV[1]
if mode ~= '' then
  local cur = redis.call('GET', KEYS[n + 1])
  if mode == '-' then
    if cur then return 0 end
  elseif not cur then
    return 0
  elseif cur ~= ARGV[2] then
    return '~' .. cur
  end
end
for i = 1, n do
  local member, text = ARGV[1 + 2 * i], ARGV[2 + 2 * i]
  if text == '' then
    redis.call('DEL', KEYS[i + 1])
    redis.call('ZREM', KEYS[1], member)
  else
    redis.call('SET', KEYS[i + 1], text)
    redis.call('ZADD', KEYS[1], 0, member)
  end
end
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
