import { unstorageStorage } from '../../src/storage/unstorage.js'
import { recordingUnstorage } from './recorders.js'
import { redisFixture } from './redis.js'
import type { BackendWrite } from './store-helpers.js'
import { storeSuite } from './store-run.js'

// The context store on unstorage's Redis driver against a real redis-server this file starts and stops.
const { missing, storage, client } = redisFixture('agentctx-store-test')

storeSuite(
  'unstorage (redis driver, real redis-server)',
  {
    make: async () => {
      await client().flushdb()
      return unstorageStorage(storage(), { consistency: 'strong' })
    },
    recorded: async () => {
      await client().flushdb()
      const log: BackendWrite[] = []
      return { adapter: unstorageStorage(recordingUnstorage(storage(), log), { consistency: 'strong' }), log }
    },
  },
  missing,
)
