import { vi } from 'vitest'
import { CLIENTS, redisClients } from './redis-clients.js'
import { storeSuite } from './store-run.js'

// The context store on redisStorage against a real redis-server this file starts, through each
// client. `recorded` logs what the server itself executes (MONITOR), so the case cutting a save after
// every prefix of its writes sees the order inside the Lua script, not what the client asked.
const redis = redisClients()
// A case through @upstash/redis makes hundreds of HTTP requests (each a round trip through the
// loopback REST server): 5 s is too short on a loaded 2-core machine (seen at load average 19).
vi.setConfig({ testTimeout: 60_000 })

for (const name of CLIENTS) {
  storeSuite(`redis (${name}, real redis-server)`, { make: () => redis.make(name), recorded: () => redis.recorded(name) }, redis.missing)
}
