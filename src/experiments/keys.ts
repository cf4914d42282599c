import { encodeKey } from '../storage/adapter.js'
import { hashBucket } from './session/hash.js'

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
 * c = 16, 15 with one shard, about 1.9 with 8. Measured behind 1 ms a storage call
 * (bench/experiments-record.bench.ts, 16 recorders back to back): 1 shard, 2.6 retries a recording,
 * 247 recordings/s, and 4 of 800 gave up after 32 tries; 8 shards, 1 retry, 702/s, none gave up;
 * 32 shards, 0.3 retries, 1,488/s. Evaluating reads every shard in one batch: 8 records of about
 * 100 bytes an option, so evaluation stays one small read while contention drops 8-fold.
 */
export const DEFAULT_SHARDS = 8

/**
 * The shard of a session: GrowthBook's double FNV-1a hash of its id (`hashBucket`, seeded apart from
 * any test's assignment) scaled to the shard count. The same session always lands on the same shard,
 * so its re-recordings meet on one record and that record's compare-and-set serializes them (its
 * previous contribution is subtracted exactly once).
 *
 * Not one FNV-1a pass: its low k bits depend only on the low k bits of each character (XOR and a
 * multiply modulo 2^k never carry upward), so `fnv % 8` put ids differing in '0' and '8' on one
 * shard every time, and its high bits barely change with the last character (73 of 100 such pairs
 * shared a shard). The second pass hashes the decimal text of the first, which every bit changes.
 */
export function shardOf(session: string, shards: number): number {
  return Math.floor(hashBucket('agentctx-shard:', session) * shards)
}
