import { CLIENTS, redisClients } from './redis-clients.js'
import { storeSuite } from './store-run.js'

// The context store on redisStorage against a real redis-server this file starts, through each
// client. `recorded` logs what the server itself executes (MONITOR), so the case cutting a save after
// every prefix of its writes sees the order inside the Lua script, not what the client asked.
const redis = redisClients()

for (const name of CLIENTS) {
  storeSuite(`redis (${name}, real redis-server)`, { make: () => redis.make(name), recorded: () => redis.recorded(name) }, redis.missing)
}
