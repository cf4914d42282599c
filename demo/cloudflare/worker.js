// The demo agent as a Cloudflare Worker: one Durable Object per session. Every request of a session
// reaches the same object, so the agent there sees the turn still streaming when the user speaks
// again and interrupts it (barge-in); a stateless Worker cannot abort work another request started.
// The session is kept in the object's own transactional storage. With the secret AGENT_TOKEN set
// (`npx wrangler secret put AGENT_TOKEN`, or AGENT_TOKEN=… in .dev.vars for `wrangler dev`), every
// request must carry `Authorization: Bearer <token>`.
//
//   POST   /sessions/:id/events   a JSON event in ({"type":"text","data":{"text":"hello"}}), SSE out
//   GET    /sessions/:id          the session's context as JSON
//   DELETE /sessions/:id          deletes the session
import { createContextStore } from 'agentctx'
import { createAgent } from 'agentctx/agent'
import { durableObjectStorage } from 'agentctx/storage/durable-object'
import { bearer } from '../shared/auth.js'
import { createHandler } from '../shared/handler.js'

const handler = createHandler({ greeting: 'Hi! I am a small agent in a Durable Object on Cloudflare. What can I do for you?' })

/** @param {number} status @param {string} code @param {string} message */
const error = (status, code, message) => Response.json({ error: { code, message } }, { status })

export default {
  /**
   * Routes `/sessions/:id/…` to the session's object (`idFromName`: the same id, the same object, worldwide).
   * @param {Request} request
   * @param {{ SESSIONS: DurableObjectNamespace }} env
   */
  async fetch(request, env) {
    const match = /^\/sessions\/([^/]+)/.exec(new URL(request.url).pathname)
    if (!match) return error(404, 'not_found', 'try POST /sessions/:id/events with {"type":"text","data":{"text":"hello"}}')
    let id
    try {
      id = decodeURIComponent(match[1] ?? '')
    } catch {
      return error(400, 'invalid_argument', 'the session id is not valid percent-encoding')
    }
    return env.SESSIONS.get(env.SESSIONS.idFromName(id)).fetch(request)
  },
}

/** One session: the agent's store is this object's storage, its turns run in this object's memory. */
export class AgentSession {
  /** @param {DurableObjectState} state @param {{ AGENT_TOKEN?: string }} env */
  constructor(state, env) {
    this.state = state
    this.agent = createAgent({
      store: createContextStore(durableObjectStorage(state.storage)),
      handler,
      // Runs before the session is read or written, for every route.
      authorize: bearer(env.AGENT_TOKEN),
    })
  }

  /** @param {Request} request */
  fetch(request) {
    // The state's waitUntil gets each turn and background task, with the save after it.
    return this.agent.fetch(request, undefined, this.state)
  }
}
