import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Context, type ContextRuntime } from '../../src/context.js'
import { ContextError } from '../../src/errors.js'
import type { CompletionMessage } from '../../src/state/messages.js'
import type { TurnMessage } from '../../src/state/turns.js'
import type { OutcomeType } from '../../src/experiments/session/outcomes.js'

// 250 runs keep the whole file near a second per runtime (0.5 s in Node, 0.4 s in Chromium here).
const RUNS = 250
const NOW = 1_700_000_000_000
/** A fixed clock: no cache entry expires between toJSON and fromJSON, so the round trip is exact. */
const runtime: ContextRuntime = { now: () => NOW }

/** Keys, with the names that trip prototype-aware code far more often than fc.string() alone would give them. */
const key = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('constructor', 'prototype', 'toString', 'hasOwnProperty', '__proto__'))
const name = fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), fc.constantFrom('constructor', 'prototype', 'toString'))
/**
 * JSON values like fc.jsonValue(), with -0 and tricky keys common: fc.jsonValue() gives -0 in about
 * 1 value in 1,000, too rare for 250 runs to notice that a copy kept it.
 */
const json: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    fc.constant(null),
    fc.boolean(),
    fc.constantFrom(-0, 0, 1, -1.5, Number.MAX_SAFE_INTEGER, 5e-324),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value
const text = fc.string({ maxLength: 30 })

const part = fc.oneof(
  fc.record({ type: fc.constant('text' as const), text }),
  fc.record({ type: fc.constant('image' as const), url: fc.webUrl() }),
  fc.record({ type: fc.constant('image' as const), data: fc.base64String({ maxLength: 12 }), mediaType: fc.constantFrom('image/png', 'image/jpeg') }, { requiredKeys: ['type', 'data'] }),
)
const content = fc.oneof(text, fc.array(part, { maxLength: 3 }))
const toolCall = fc.record({ id: name, name, arguments: json })
/** Valid completion messages of every role. */
const message = fc.oneof(
  fc.record({ role: fc.constant('system' as const), content: text }),
  fc.record({ role: fc.constant('user' as const), content, name: text }, { requiredKeys: ['role', 'content'] }),
  fc.record({ role: fc.constant('assistant' as const), content, name: text, toolCalls: fc.array(toolCall, { maxLength: 2 }) }, { requiredKeys: ['role', 'content'] }),
  fc.record({ role: fc.constant('tool' as const), content, toolCallId: name, name: text }, { requiredKeys: ['role', 'content', 'toolCallId'] }),
) as fc.Arbitrary<CompletionMessage>
const turnMessage = fc.oneof(text, fc.dictionary(key, json, { maxKeys: 3 }), fc.record({ text })) as fc.Arbitrary<string | TurnMessage>
const label = fc.record({ flow: name, node: name })
const weights = fc.dictionary(name, fc.oneof(fc.constant(0), fc.double({ min: 0, max: 100, noNaN: true })), { minKeys: 1, maxKeys: 4 })
const stop = fc.record(
  { maxIterations: fc.integer({ min: 1, max: 10_000 }), maxConfidence: fc.integer({ min: 0, max: 100 }), targetOutcome: name, stopOn: fc.constantFrom(1 as const, 2 as const), notify: fc.array(text, { maxLength: 2 }) },
  { requiredKeys: [] },
)
const outcomeType = fc.constantFrom<OutcomeType>('boolean', 'integer', 'float', 'string')
const outcomeValue = fc.oneof(fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), text)

/** One operation on a context. It may be refused (a ContextError), never anything else. */
type Op = (ctx: Context) => unknown
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.tuple(key, json).map(([k, v]): Op => (ctx) => ctx.setData(k, v)),
  fc.tuple(key, json, fc.option(fc.integer({ min: 1, max: 3600 }), { nil: undefined })).map(([k, v, ttl]): Op => (ctx) => ctx.cacheSet(k, v, ttl === undefined ? undefined : { ttl })),
  message.map((m): Op => (ctx) => ctx.addCompletionMessage(m)),
  fc.array(message, { maxLength: 3 }).map((ms): Op => (ctx) => ctx.setCompletionMessages(ms)),
  turnMessage.map((m): Op => (ctx) => ctx.addRequest(m)),
  turnMessage.map((m): Op => (ctx) => ctx.addResponse(m)),
  label.map((l): Op => (ctx) => ctx.addLabel(l)),
  fc.tuple(name, weights, text, stop).map(([n, w, d, s]): Op => (ctx) => ctx.addTest(n, w, d, s)),
  fc.tuple(name, outcomeType, text).map(([n, t, d]): Op => (ctx) => ctx.addOutcome(n, t, d)),
  name.map((n): Op => (ctx) => ctx.triggerOutcome(n)),
  fc.tuple(name, outcomeValue).map(([n, v]): Op => (ctx) => ctx.setOutcome(n, v)),
  name.map((n): Op => (ctx) => ctx.resetOutcome(n)),
  fc.tuple(key, json).map(([k, v]): Op => (ctx) => ctx.setTestingMetadata(k, v)),
)

/** A context built by a random sequence of operations; each refused one must leave the state as it was. */
const context: fc.Arbitrary<Context> = fc
  .tuple(fc.option(label, { nil: undefined }), fc.array(op, { maxLength: 25 }), fc.option(fc.constantFrom({ maxTokens: 100 }, { maxTime: 1.5, maxCost: 0 }), { nil: undefined }))
  .map(([start, ops, constraints]) => {
    const ctx = start ? Context.init(start, { constraints }, runtime) : new Context({ constraints }, runtime)
    for (const apply of ops) {
      const before = ctx.toJSON()
      try {
        apply(ctx)
      } catch (e) {
        if (!(e instanceof ContextError)) throw e
        expect(ctx.toJSON()).toEqual(before)
      }
    }
    return ctx
  })

/** `fromJSON` either returns a Context or throws a ContextError with a code; any other outcome fails. */
function readsOrRefuses(input: unknown): void {
  let ctx: Context
  try {
    ctx = Context.fromJSON(input as string, runtime)
  } catch (e) {
    if (!(e instanceof ContextError)) throw new Error(`fromJSON threw ${(e as Error)?.name}: ${(e as Error)?.message}`)
    expect(typeof e.code).toBe('string')
    return
  }
  expect(ctx).toBeInstanceOf(Context)
  // What it accepted, it can write and read again.
  expect(Context.fromJSON(JSON.stringify(ctx), runtime).toJSON()).toEqual(ctx.toJSON())
}

/** Every path (as keys) in a JSON value, the root included. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at]
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...at, Array.isArray(value) ? Number(k) : k]))
  }
  return out
}

/** `state` with the value at `path` replaced (or deleted when `replacement` is the DELETE marker). */
const DELETE = Symbol('delete')
function mutate(state: unknown, path: (string | number)[], replacement: unknown): unknown {
  if (path.length === 0) return replacement === DELETE ? undefined : replacement
  const copy = structuredClone(state) as Record<string | number, unknown>
  let parent = copy
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>
  const last = path.at(-1)!
  if (replacement === DELETE) {
    if (Array.isArray(parent)) parent.splice(last as number, 1)
    else delete parent[last]
  } else parent[last] = replacement
  return copy
}

const hostile = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  maxDepth: 4,
})

describe('fromJSON(toJSON(ctx)) equals ctx', () => {
  it('for contexts built by random operations, through the object and through JSON text', () => {
    fc.assert(
      fc.property(context, (ctx) => {
        const state = ctx.toJSON()
        expect(Context.fromJSON(state, runtime).toJSON()).toEqual(state)
        expect(Context.fromJSON(JSON.stringify(ctx), runtime).toJSON()).toEqual(state)
        // The text form is the object form exactly: no -0, undefined or other value JSON would change.
        expect(JSON.parse(JSON.stringify(state))).toEqual(state)
      }),
      { numRuns: RUNS },
    )
  })

  it('setData of any JSON value reads back as its JSON text would (-0 included)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), json), (value) => {
        const ctx = new Context()
        try {
          ctx.setData('v', value)
        } catch (e) {
          // Only a "__proto__" key, which fast-check generates now and then, may be refused.
          expect(e).toBeInstanceOf(ContextError)
          expect(JSON.stringify(value)).toContain('"__proto__"')
          return
        }
        expect(ctx.getData('v')).toEqual(JSON.parse(JSON.stringify(value)))
      }),
      { numRuns: RUNS },
    )
  })

  it('regression: -0 anywhere becomes 0, so the object and text round trips agree', () => {
    const ctx = new Context()
    ctx.setData('z', { a: -0, b: [-0] })
    ctx.cacheSet('z', -0)
    ctx.setTestingMetadata('z', -0)
    ctx.addOutcome('f', 'float')
    ctx.setOutcome('f', -0)
    ctx.addRequest({ n: -0 } as never)
    const state = ctx.toJSON()
    expect(JSON.parse(JSON.stringify(state))).toEqual(state)
    expect(Context.fromJSON(state).toJSON()).toEqual(Context.fromJSON(JSON.stringify(state)).toJSON())
  })
})

describe('fromJSON of arbitrary input returns a Context or throws a ContextError', () => {
  it('fc.anything() (bigints, Maps, Dates, boxed values, null prototypes, sparse arrays…)', () => {
    fc.assert(fc.property(hostile, readsOrRefuses), { numRuns: RUNS })
  })

  it('fc.jsonValue(), as the value and as its text', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        readsOrRefuses(value)
        readsOrRefuses(JSON.stringify(value))
      }),
      { numRuns: RUNS },
    )
  })

  it('arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 50 }), readsOrRefuses), { numRuns: RUNS })
  })

  it('objects carrying version 1 and random other keys', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom('id', 'sessionId', 'data', 'turns', 'cache', 'testing', 'messages', 'currentTurnId', 'x'), hostile), (rest) => {
        readsOrRefuses({ ...rest, version: 1 })
      }),
      { numRuns: RUNS },
    )
  })

  it('valid states with one random path replaced or deleted', () => {
    fc.assert(
      fc.property(
        context.chain((ctx) => {
          const state = ctx.toJSON()
          const all = paths(state)
          return fc.tuple(fc.constant(state), fc.constantFrom(...all), fc.oneof(fc.jsonValue({ maxDepth: 2 }), hostile, fc.constant(DELETE)))
        }),
        ([state, path, replacement]) => {
          const mutated = mutate(state, path, replacement)
          readsOrRefuses(mutated)
          if (replacement !== DELETE) {
            let textForm: string | undefined
            try {
              textForm = JSON.stringify(mutated)
            } catch {
              return // a bigint or a cycle: there is no text form to try
            }
            if (textForm !== undefined) readsOrRefuses(textForm)
          }
        },
      ),
      { numRuns: RUNS },
    )
  })

  it('valid state text with one character inserted, deleted or replaced', () => {
    fc.assert(
      fc.property(
        context.chain((ctx) => {
          const textForm = JSON.stringify(ctx)
          return fc.tuple(fc.constant(textForm), fc.nat({ max: textForm.length }), fc.nat({ max: 2 }), fc.constantFrom('"', '{', '}', '[', ']', ',', ':', '0', '-', 'e', '\\', 'x', ' '))
        }),
        ([textForm, at, kind, char]) => {
          const edited = kind === 0 ? textForm.slice(0, at) + char + textForm.slice(at) : kind === 1 ? textForm.slice(0, at) + textForm.slice(at + 1) : textForm.slice(0, at) + char + textForm.slice(at + 1)
          readsOrRefuses(edited)
        },
      ),
      { numRuns: RUNS },
    )
  })
})
