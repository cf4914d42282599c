// The demo agent as a Cloudflare Worker: one Durable Object per session. Every request of a session
// reaches the same object, so the agent there sees the turn still streaming when the user speaks
// again and interrupts it (barge-in); a stateless Worker cannot abort work another request started.
// The session is kept in the object's own transactional storage.
//
// Or in D1 (`wrangler dev -c wrangler.d1.toml`): with a D1 database bound as DB, the Worker
// runs the agent itself, sessions in a D1 table through sqlStorage, and no Durable Object. Any
// instance serves any session; two saving one session at once are told by compare-and-set and the
// agent runs the loser's turn again on the stored version. What it cannot do: a new message does not
// interrupt a reply streaming in another request (barge-in needs the one object per session).
//
// With the secret AGENT_TOKEN set (`npx wrangler secret put AGENT_TOKEN`, or AGENT_TOKEN=… in
// .dev.vars for `wrangler dev`), every request must carry `Authorization: Bearer <token>`.
//
//   POST   /sessions/:id/events   a JSON event in ({"type":"text","data":{"text":"hello"}}), SSE out
//   GET    /sessions/:id          the session's context as JSON
//   DELETE /sessions/:id          deletes the session
import { createContextStore } from 'agentctx'
import { createAgent } from 'agentctx/agent'
import { durableObjectStorage } from 'agentctx/storage/durable-object'
import { sqlStorage } from 'agentctx/storage/sql'
import { bearer } from '../shared/auth.js'
import { createHandler } from '../shared/handler.js'

const handler = createHandler({ greeting: 'Hi! I am a small agent in a Durable Object on Cloudflare. What can I do for you?' })

/**
 * D1 as sqlStorage's database: one statement, or a batch D1 runs as one transaction.
 * @param {D1Database} db
 * @returns {import('agentctx/storage/sql').SqlDatabase}
 */
const d1 = (db) => ({
  query: async (sql, params) => {
    const r = await db.prepare(sql).bind(...params).all()
    return { rows: r.results, changes: r.meta.changes }
  },
  batch: async (statements) => (await db.batch(statements.map((s) => db.prepare(s.sql).bind(...s.params)))).map((r) => ({ rows: r.results, changes: r.meta.changes })),
})

/** The agent on D1, made on the first request (the binding comes with it) and kept by this isolate. */
let d1Agent

/** @param {number} status @param {string} code @param {string} message */
const error = (status, code, message) => Response.json({ error: { code, message } }, { status })

export default {
  /**
   * Routes `/sessions/:id/…` to the session's object (`idFromName`: the same id, the same object, worldwide).
   * @param {Request} request
   * @param {{ SESSIONS: DurableObjectNamespace, DB?: D1Database, AGENT_TOKEN?: string }} env
   * @param {ExecutionContext} ctx
   */
  async fetch(request, env, ctx) {
    if (env.DB) {
      d1Agent ??= createAgent({
        // 1,900,000: D1 holds 2,000,000 bytes a row, key included; a larger record is refused before any write.
        store: createContextStore(sqlStorage(d1(env.DB), { dialect: 'sqlite', maxValueBytes: 1_900_000 })),
        handler: createHandler({ greeting: 'Hi! I am a small agent on Cloudflare, my sessions in D1. What can I do for you?' }),
        authorize: bearer(env.AGENT_TOKEN),
      })
      // `ctx.waitUntil` keeps each turn and background task (with the save after it) alive after the response.
      return d1Agent.fetch(request, undefined, ctx)
    }
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
