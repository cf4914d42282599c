import * as v from 'valibot'
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { loadSchemaConverter, toJsonSchema, validateSchema, type InferSchemaOutput } from '../../src/llm/schema.js'

// The converter loads on demand (see schema-lazy.test.ts); the executor awaits it before converting.
beforeAll(() => loadSchemaConverter(v.string()))

/** The ValidationError `fn` threw, failing when it did not throw one. */
function thrown(fn: () => unknown): ValidationError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError)
    return e as ValidationError
  }
  throw new Error('expected a ValidationError')
}

const Person = v.object({
  name: v.pipe(v.string(), v.minLength(1)),
  tags: v.array(v.string()),
  age: v.optional(v.number()),
  kind: v.union([v.literal('a'), v.literal('b')]),
})

describe('toJsonSchema', () => {
  it('converts valibot object, array, optional and union schemas (draft-07, optional keys not required)', () => {
    const out = toJsonSchema(Person, 'schema')
    // No "$schema": providers read none (Gemini's responseJsonSchema lists the keywords it takes).
    expect(out).toEqual({
      type: 'object',
      properties: {
        name: { type: 'string', minLength: 1 },
        tags: { type: 'array', items: { type: 'string' } },
        age: { type: 'number' },
        kind: { anyOf: [{ const: 'a' }, { const: 'b' }] },
      },
      required: ['name', 'tags', 'kind'],
    })
    // v.strictObject is the one that forbids other keys (OpenAI's strict mode wants it).
    expect(toJsonSchema(v.strictObject({ a: v.string() }), 'schema')).toMatchObject({ additionalProperties: false })
    expect(toJsonSchema(v.array(v.number()), 'schema')).toMatchObject({ type: 'array', items: { type: 'number' } })
  })

  it('converts the input side of a pipe with a transform: the model writes what the schema takes in', () => {
    const out = toJsonSchema(v.object({ n: v.pipe(v.string(), v.transform(Number)) }), 'schema')
    expect(out.properties).toEqual({ n: { type: 'string' } })
  })

  it('a JSON Schema object passes through as a copy', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } }
    const out = toJsonSchema(schema, 'schema')
    expect(out).toEqual(schema)
    expect(out).not.toBe(schema)
  })

  it('a valibot schema with no JSON Schema (v.date()) is a ValidationError naming the path and the reason', () => {
    const e = thrown(() => toJsonSchema(v.object({ at: v.date() }), 'tools.book.parameters'))
    expect(e.path).toBe('tools.book.parameters')
    expect(e.message).toMatch(/^tools\.book\.parameters: .*date/)
  })

  it('a Standard Schema without ~standard.jsonSchema is refused, telling to pass a JSON Schema', () => {
    const zod3 = { '~standard': { version: 1, vendor: 'zod', validate: (value: unknown) => ({ value }) } }
    const e = thrown(() => toJsonSchema(zod3, 'schema'))
    expect(e.path).toBe('schema')
    expect(e.message).toMatch(/zod schema .*pass a JSON Schema object/)
  })

  it('a Standard Schema with ~standard.jsonSchema (zod 4.2, ArkType) is converted by its own library; its throw is a ValidationError', () => {
    let asked: unknown
    const ark = Object.assign(() => {}, {
      '~standard': {
        version: 1,
        vendor: 'arktype',
        validate: (value: unknown) => ({ value }),
        jsonSchema: { input: (o: unknown) => ((asked = o), { type: 'string' }), output: () => ({}) },
      },
    })
    expect(toJsonSchema(ark, 'schema')).toEqual({ type: 'string' })
    expect(asked).toEqual({ target: 'draft-07' })
    const broken = { '~standard': { ...ark['~standard'], jsonSchema: { input: () => { throw new Error('morph has no JSON Schema') } } } }
    expect(thrown(() => toJsonSchema(broken, 'output.schema')).message).toMatch(/^output\.schema: .*morph has no JSON Schema/)
    const notObject = { '~standard': { ...ark['~standard'], jsonSchema: { input: () => [] } } }
    expect(thrown(() => toJsonSchema(notObject, 'schema')).path).toBe('schema')
  })

  it('refuses what is not a schema: arrays, strings, null, class instances, functions, a __proto__ key, a cycle', () => {
    for (const bad of [[], 'string', null, undefined, 42, new Date(), () => {}, new Map()]) {
      expect(thrown(() => toJsonSchema(bad, 'schema')).path).toBe('schema')
    }
    const proto = JSON.parse('{"type":"object","properties":{"__proto__":{"type":"string"}}}')
    expect(thrown(() => toJsonSchema(proto, 'schema')).path).toBe('schema.properties.__proto__')
    const cyclic: Record<string, unknown> = { type: 'object' }
    cyclic.self = cyclic
    expect(thrown(() => toJsonSchema(cyclic, 'schema')).message).toMatch(/circular/)
    expect(thrown(() => toJsonSchema({ type: 'object', default: () => 1 }, 'schema')).path).toBe('schema.default')
  })
})

describe('validateSchema', () => {
  it('returns the Standard Schema output (transforms applied)', async () => {
    const S = v.object({ n: v.pipe(v.string(), v.transform(Number)) })
    expect(await validateSchema(S, { n: '42' })).toEqual({ value: { n: 42 } })
  })

  it('lists every issue with its path, array indices in brackets', async () => {
    const verdict = await validateSchema(Person, { name: '', tags: ['x', 2], kind: 'c' })
    expect('issues' in verdict && verdict.issues.map((i) => i.path)).toEqual(['name', 'tags[1]', 'kind'])
    const root = await validateSchema(Person, 'not an object')
    expect(root).toEqual({ issues: [{ message: expect.stringMatching(/object/) }] })
  })

  it('an async Standard Schema is awaited; a path of { key } segments and odd keys is formatted', async () => {
    const S = {
      '~standard': { version: 1 as const, vendor: 'x', validate: async () => ({ issues: [{ message: 'bad', path: [{ key: 'a b' }, 0, { key: 1 }] }] }) },
    }
    expect(await validateSchema(S, {})).toEqual({ issues: [{ message: 'bad', path: '["a b"][0][1]' }] })
  })

  it('a JSON Schema object validates nothing: the value passes as it is', async () => {
    const value = { anything: true }
    expect(await validateSchema({ type: 'string' }, value)).toEqual({ value })
  })

  it('prototype keys in a value do not pollute: __proto__ and constructor are data, refused by a strict schema', async () => {
    const value = JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"name":"x","tags":[],"kind":"a"}')
    const loose = await validateSchema(v.looseObject({ name: v.string() }), value)
    expect('value' in loose).toBe(true)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    const strict = await validateSchema(v.strictObject({ name: v.string(), tags: v.array(v.string()), kind: v.string() }), value)
    // valibot reports the first unknown key only.
    expect('issues' in strict && strict.issues.map((i) => i.path)).toEqual(['__proto__'])
    // v.object drops unknown keys: the output holds no prototype key at all.
    const plain = await validateSchema(Person, value)
    expect('value' in plain && Object.keys(plain.value)).toEqual(['name', 'tags', 'kind'])
    expect(Object.getPrototypeOf('value' in plain && plain.value)).toBe(Object.prototype)
  })

  it('types: a Standard Schema infers its output, a JSON Schema unknown', () => {
    expectTypeOf<InferSchemaOutput<typeof Person>>().toEqualTypeOf<{ name: string; tags: string[]; age?: number | undefined; kind: 'a' | 'b' }>()
    expectTypeOf<InferSchemaOutput<{ type: 'object' }>>().toBeUnknown()
    const transformed = v.pipe(v.string(), v.transform(Number))
    expectTypeOf<InferSchemaOutput<typeof transformed>>().toEqualTypeOf<number>()
  })
})
