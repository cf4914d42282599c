import { describe, expect, it } from 'vitest'
import { encodeKey, namespaced } from '../../src/storage/adapter.js'
import { unstorageStorage } from '../../src/storage/unstorage.js'
import { conformance } from './run.js'
import { redisFixture } from './redis.js'

// unstorage's Redis driver (ioredis) against a real redis-server this file starts and stops.
const { missing, storage, client } = redisFixture('agentctx-test')

conformance(
  'unstorage (redis driver, real redis-server)',
  {
    make: async () => {
      await client().flushdb()
      return unstorageStorage(storage(), { consistency: 'strong' })
    },
  },
  missing,
)

describe.skipIf(missing)('unstorage redis layout', () => {
  it('keeps our keys readable in Redis: driver base, then one `:` per key segment', async () => {
    await client().flushdb()
    const store = namespaced(unstorageStorage(storage()), 'agentctx')
    await store.set(encodeKey(['ctx', '1', 'h']), { turns: 1 })
    await store.set(encodeKey(['ctx', '10', 'h']), { turns: 10 })
    expect((await client().keys('*')).sort()).toEqual(['agentctx-test:_agentctx:_ctx:_10:_h:_', 'agentctx-test:_agentctx:_ctx:_1:_h:_'])
    expect(await client().get('agentctx-test:_agentctx:_ctx:_1:_h:_')).toBe('{"turns":1}')
    expect((await store.list(encodeKey(['ctx', '1']))).keys).toEqual(['ctx/1/h/'])
  })
})
