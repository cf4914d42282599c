import { encodeKey } from '../storage/adapter.js'
import { fnv1a32 } from './session/hash.js'

/**
 * Where `agentctx/experiments` keeps its records, under its own namespace (`'agentctx-exp'` by
 * default, see `createExperiments`), apart from the context store's `ctx/…` keys:
 *
 *     t/<test>/def/            the test's definition as first recorded (options in order, weights, stop, shards)
 *     t/<test>/shard/<i>/      running aggregates of the sessions whose id hashes to shard i
 *     t/<test>/s/<session>/    one session's last contribution (option and outcome values)
 *     t/<test>/state/          running minimum p-values across evaluations
 *     c/<test>/                the conclusion, written once
 *
 * Segments are escaped by `encodeKey`, so a test named `a/b` or a session `x%2F` stays one segment,
 * and the conclusions sit under one prefix that `attach` lists in a single page (up to 1,000 tests).
 */
export const keys = {
  definition: (test: string) => encodeKey(['t', test, 'def']),
  shard: (test: string, i: number) => encodeKey(['t', test, 'shard', String(i)]),
  session: (test: string, session: string) => encodeKey(['t', test, 's', session]),
  state: (test: string) => encodeKey(['t', test, 'state']),
  conclusion: (test: string) => encodeKey(['c', test]),
  /** The prefix every conclusion key starts with. */
  conclusions: encodeKey(['c']),
}

/**
 * Shards a test's aggregates are split into, unless `createExperiments({ shards })` says otherwise.
 *
 * Why 8: a recording reads its shard, reads the session's previous contribution, and writes both by
 * compare-and-set; it must try again when another session wrote the same shard in between. With c
 * recorders of distinct sessions at once, each shard has on average (c − 1) / S other writers: at
 * c = 16, one shard (S = 1) makes 15 of 16 recorders retry each round (about 8.5 attempts a
 * recording on average), S = 8 about 1.9 others, S = 16 about 0.9. Evaluating reads every shard in
 * one batch: S = 8 is 8 records of ~100 bytes per option. bench/experiments-record.bench.ts measures
 * recordings per second at 1, 4 and 16 recorders.
 */
export const DEFAULT_SHARDS = 8

/**
 * The shard of a session: FNV-1a of its id, modulo the test's shard count. The same session always
 * lands on the same shard, so its re-recordings meet on one record and that record's compare-and-set
 * serializes them (its previous contribution is subtracted exactly once).
 */
export function shardOf(session: string, shards: number): number {
  return fnv1a32(session) % shards
}
