/**
 * A Worker that runs the suites of `sqlStorage` over a D1 binding inside workerd, bundled by esbuild
 * and started by miniflare from ../sql-d1.node.test.ts. Each route answers with JSON:
 *   GET /conformance   the adapter conformance cases      (CaseResult[])
 *   GET /limited       the same with maxValueBytes 1,900,000, what D1's 2 MB rows call for
 *   GET /store         the context-store cases             (CaseResult[])
 *   GET /sql           SQL's own cases (sql-cases.ts)      (CaseResult[])
 *   GET /race          3 writers × 19 turns on one context (WritersRaceReport, or { error })
 *   GET /agents        two agents on one session           (TwoAgentsReport, or { error })
 *   GET /model         the model property, 50 runs         ({ ok: true } or { error })
 *   GET /sample        writes one record, for the test to read back from Node through miniflare
 */
import { encodeKey, namespaced } from '../../../src/storage/adapter.js'
import { sqlStorage } from '../../../src/storage/sql.js'
import { runCases } from '../conformance.js'
import { d1Database, type D1Like } from '../sql-clients.js'
import { sqlMatchesModel } from '../sql-model.js'
import { freshTable, sqlCases, sqlHarness, sqlStoreHarness, type SqlEngine } from '../sql-cases.js'
import { runStoreCases } from '../store-cases.js'
import { twoAgents } from '../two-agents.js'
import { writersRace } from '../writers-race.js'

interface Env {
  DB: D1Like
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const engine: SqlEngine = { db: d1Database(env.DB), dialect: 'sqlite' }
    const { pathname } = new URL(request.url)
    switch (pathname) {
      case '/conformance':
        return Response.json(await runCases(sqlHarness(engine)))
      case '/limited':
        return Response.json(await runCases(sqlHarness(engine, { maxValueBytes: 1_900_000 })))
      case '/store':
        return Response.json(await runStoreCases(sqlStoreHarness(engine)))
      case '/sql':
        return Response.json(await runCases(engine, undefined, sqlCases))
      case '/race': {
        const table = freshTable()
        try {
          // Each writer its own adapter over the one binding, as separate Worker invocations would be.
          return Response.json(await writersRace(() => sqlStorage(d1Database(env.DB), { dialect: 'sqlite', table })))
        } catch (e) {
          return Response.json({ error: String(e) })
        }
      }
      case '/agents': {
        const table = freshTable()
        try {
          return Response.json(await twoAgents(() => sqlStorage(d1Database(env.DB), { dialect: 'sqlite', table })))
        } catch (e) {
          return Response.json({ error: String(e) })
        }
      }
      case '/model':
        try {
          await sqlMatchesModel(() => sqlStorage(engine.db, { dialect: 'sqlite', table: freshTable() }), 50)
          return Response.json({ ok: true })
        } catch (e) {
          return Response.json({ error: String(e) })
        }
      case '/sample':
        await namespaced(sqlStorage(engine.db, { dialect: 'sqlite', table: 'sample' }), 'agentctx').set(encodeKey(['ctx', '1', 'h']), { turns: 1, text: 'ünï' })
        return new Response('ok')
      default:
        return new Response('not found', { status: 404 })
    }
  },
}
