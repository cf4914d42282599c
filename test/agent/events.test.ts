import { describe, expect, it } from 'vitest'
import * as v from 'valibot'
import fc from 'fast-check'
import {
  AgentEvent,
  ErrorEvent,
  StartEvent,
  StopEvent,
  TextEvent,
  TextToSpeechEvent,
  defineEvent,
  eventFromJSON,
} from '../../src/agent/events.js'
import { ContextError, ValidationError } from '../../src/errors.js'

/** The ValidationError `fn` throws, for asserting its path. */
function validationError(fn: () => unknown): ValidationError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError)
    return e as ValidationError
  }
  throw new Error('expected a ValidationError')
}

describe('built-in events', () => {
  it('are instances of their class and of AgentEvent, with wire names from the platform', () => {
    const cases: [AgentEvent, Function, string][] = [
      [new StartEvent(), StartEvent, 'start'],
      [new TextEvent({ text: 'hi' }), TextEvent, 'text'],
      [new TextToSpeechEvent({ text: 'hi' }), TextToSpeechEvent, 'text_to_speech'],
      [new ErrorEvent({ message: 'x' }), ErrorEvent, 'error'],
      [new StopEvent(), StopEvent, 'stop'],
    ]
    for (const [event, cls, type] of cases) {
      expect(event).toBeInstanceOf(cls)
      expect(event).toBeInstanceOf(AgentEvent)
      expect(event.type).toBe(type)
      expect((cls as unknown as { type: string }).type).toBe(type)
    }
    expect(new TextEvent({ text: 'hi' })).not.toBeInstanceOf(TextToSpeechEvent)
  })

  it('TextEvent carries text, source (default "text") and an optional language', () => {
    expect(new TextEvent({ text: 'Place order' }).data).toEqual({ text: 'Place order', source: 'text' })
    expect(new TextEvent({ text: 'hola', source: 'speech', language: 'es' }).data).toEqual({ text: 'hola', source: 'speech', language: 'es' })
  })

  it('TextToSpeechEvent has the documented defaults and keeps what is given', () => {
    expect(new TextToSpeechEvent({ text: 'Processing your order in the background.', voice: 'nova' }).data).toEqual({
      text: 'Processing your order in the background.',
      voice: 'nova',
      cache: true,
      instructions: '',
      speed: 1,
      language: 'en',
    })
    const full = { text: 'Welcome!', voice: 'alloy', cache: false, interruptible: false, instructions: 'enthusiastic', speed: 1.25, language: 'fr', stream: true }
    expect(new TextToSpeechEvent(full).data).toEqual(full)
    expect(new TextToSpeechEvent({ text: '' }).data.voice).toBe('nova') // empty text is allowed (a pause)
  })

  it('StopEvent and StartEvent have their defaults', () => {
    expect(new StopEvent().data).toEqual({ speed: 1, language: 'en' })
    expect(new StopEvent({ closingSpeech: 'Bye', voice: 'nova' }).data).toEqual({ closingSpeech: 'Bye', voice: 'nova', speed: 1, language: 'en' })
    expect(new StartEvent().data).toEqual({})
  })

  it('sets an ISO timestamp, and takes turn and background from meta', () => {
    const before = Date.now()
    const e = new TextEvent({ text: 'x' })
    expect(Date.parse(e.timestamp)).toBeGreaterThanOrEqual(before)
    const tagged = new TextToSpeechEvent({ text: 'x' }, { turn: 2, background: { task: 'order_processing' }, timestamp: '2025-01-01T00:00:00.000Z' })
    expect(tagged.toJSON()).toMatchObject({ turn: 2, background: { task: 'order_processing' }, timestamp: '2025-01-01T00:00:00.000Z' })
    expect(new TextEvent({ text: 'x' }, { turn: undefined }).turn).toBeUndefined()
  })

  it('treats a field given as undefined as not given', () => {
    expect(new TextToSpeechEvent({ text: 'x', voice: undefined, interruptible: undefined }).data).toEqual(new TextToSpeechEvent({ text: 'x' }).data)
    expect(new AgentEvent('custom', { a: 1, b: undefined } as never).data).toEqual({ a: 1 })
  })

  it.each<[string, () => unknown, string]>([
    ['a non-string text', () => new TextToSpeechEvent({ text: 1 as never }), 'text_to_speech.text'],
    ['a speed above 4', () => new TextToSpeechEvent({ text: 'x', speed: 9 }), 'text_to_speech.speed'],
    ['a speed below 0.25', () => new StopEvent({ speed: 0.1 }), 'stop.speed'],
    ['an empty voice', () => new TextToSpeechEvent({ text: 'x', voice: '' }), 'text_to_speech.voice'],
    ['a missing text', () => new TextEvent({} as never), 'text.text'],
    ['a missing message', () => new ErrorEvent({} as never), 'error.message'],
    ['an empty type', () => new AgentEvent(''), 'type'],
    ['non-JSON data', () => new AgentEvent('custom', { when: new Date() as never }), 'custom.when'],
    ['array data', () => new AgentEvent('custom', [1] as never), 'custom'],
    ['a nested undefined', () => new AgentEvent('custom', { a: { b: undefined } } as never), 'custom.a.b'],
    ['a negative turn', () => new TextEvent({ text: 'x' }, { turn: -1 }), 'meta.turn'],
    ['a bad timestamp', () => new TextEvent({ text: 'x' }, { timestamp: 'yesterday' }), 'meta.timestamp'],
    ['an empty background task', () => new TextEvent({ text: 'x' }, { background: { task: '' } }), 'meta.background.task'],
  ])('refuses %s with a ValidationError naming the field', (_, make, path) => {
    const e = validationError(make)
    expect(e.path).toBe(path)
    expect(e.code).toBe('invalid_argument')
    expect(e.message.startsWith(`${path}: `)).toBe(true)
  })
})

describe('JSON', () => {
  const events = () => [
    new StartEvent(),
    new TextEvent({ text: 'check status', source: 'speech', language: 'en' }),
    new TextToSpeechEvent({ text: 'Your order status is: pending', voice: 'nova', interruptible: true, stream: false }, { turn: 3 }),
    new ErrorEvent({ message: 'model unavailable', code: 'provider' }),
    new StopEvent({ closingSpeech: 'Goodbye' }, { background: { task: 'wrap_up' } }),
    new AgentEvent('custom_unregistered', { a: [1, { b: null }] }),
  ]

  it('round-trips every event through JSON.stringify and eventFromJSON (string and object)', () => {
    for (const event of events()) {
      const text = JSON.stringify(event)
      for (const input of [text, JSON.parse(text)]) {
        const back = eventFromJSON(input)
        expect(back.constructor).toBe(event.constructor)
        expect(back.toJSON()).toEqual(event.toJSON())
      }
    }
  })

  it('toJSON has exactly type, data, timestamp and the optional meta, as a copy', () => {
    const e = new TextEvent({ text: 'hi' })
    const json = e.toJSON()
    expect(Object.keys(json)).toEqual(['type', 'data', 'timestamp'])
    json.data.text = 'changed'
    expect(e.data.text).toBe('hi')
  })

  it('accepts the platform\'s nulls for absent optional fields and fills defaults', () => {
    const e = eventFromJSON({ type: 'text_to_speech', data: { text: 'hi', interruptible: null } })
    expect(e).toBeInstanceOf(TextToSpeechEvent)
    expect(e.data).toEqual({ text: 'hi', voice: 'nova', cache: true, interruptible: null, instructions: '', speed: 1, language: 'en' })
    expect(eventFromJSON({ type: 'start' })).toBeInstanceOf(StartEvent)
  })

  it('gives a plain AgentEvent for an unknown type, or an error at event.type when strict', () => {
    const e = eventFromJSON({ type: 'dtmf', data: { digits: '12#' } })
    expect(e.constructor).toBe(AgentEvent)
    expect(e.data).toEqual({ digits: '12#' })
    expect(validationError(() => eventFromJSON({ type: 'dtmf' }, { strict: true })).path).toBe('event.type')
    // Names of Object.prototype members are not event types.
    expect(eventFromJSON({ type: 'toString' }).constructor).toBe(AgentEvent)
    expect(eventFromJSON({ type: 'constructor' }).constructor).toBe(AgentEvent)
  })

  it.each<[string, unknown, string]>([
    ['a string that is not JSON', '{"type": "text",', 'event'],
    ['a non-object', 42, 'event'],
    ['null', null, 'event'],
    ['an array', [], 'event'],
    ['a missing type', { data: {} }, 'event.type'],
    ['an empty type', { type: '' }, 'event.type'],
    ['data that is not an object', { type: 'text', data: 'hi' }, 'event.data'],
    ['data that is an array', { type: 'start', data: [] }, 'event.data'],
    ['a missing text', { type: 'text', data: {} }, 'event.data.text'],
    ['a wrong-typed field', { type: 'text_to_speech', data: { text: 'x', cache: 'yes' } }, 'event.data.cache'],
    ['a speed out of range', { type: 'text_to_speech', data: { text: 'x', speed: 5 } }, 'event.data.speed'],
    ['a bad timestamp', { type: 'start', timestamp: 'soon' }, 'event.timestamp'],
    ['a fractional turn', { type: 'start', turn: 1.5 }, 'event.turn'],
    ['a background without task', { type: 'start', background: {} }, 'event.background.task'],
    ['a __proto__ key', JSON.parse('{"type":"start","data":{"__proto__":{"x":1}}}'), 'event.data.__proto__'],
  ])('refuses %s with a ValidationError at its path', (_, input, path) => {
    const e = validationError(() => eventFromJSON(input))
    expect(e.path).toBe(path)
    expect(e.message.startsWith(`${path}: `)).toBe(true)
  })

  it('refuses hostile nesting with a ValidationError, not a stack overflow', () => {
    const deep = '{"type":"x","data":{"a":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}}'
    expect(() => eventFromJSON(deep)).toThrow(ContextError)
  })

  it('round-trips any text-to-speech event (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          text: fc.string(),
          voice: fc.string({ minLength: 1 }),
          speed: fc.double({ min: 0.25, max: 4, noNaN: true }),
          cache: fc.boolean(),
          interruptible: fc.option(fc.boolean(), { nil: undefined }),
        }, { requiredKeys: ['text'] }),
        fc.option(fc.nat(), { nil: undefined }),
        (init, turn) => {
          const e = new TextToSpeechEvent(init, { turn })
          const back = eventFromJSON(JSON.stringify(e))
          expect(back).toBeInstanceOf(TextToSpeechEvent)
          expect(back.toJSON()).toEqual(e.toJSON())
        },
      ),
    )
  })
})

describe('custom events', () => {
  const OrderEvent = defineEvent('order_placed', v.object({ id: v.string(), total: v.number(), items: v.optional(v.array(v.string()), []) }))

  it('are AgentEvents of their own class, validated, with defaults', () => {
    const e = new OrderEvent({ id: 'A1', total: 15.99 })
    expect(e).toBeInstanceOf(OrderEvent)
    expect(e).toBeInstanceOf(AgentEvent)
    expect(e.type).toBe('order_placed')
    expect(e.data).toEqual({ id: 'A1', total: 15.99, items: [] })
    expect(validationError(() => new OrderEvent({ id: 'A1', total: 'lots' as never })).path).toBe('order_placed.total')
  })

  it('come back from JSON as their class, with data errors at their path', () => {
    const e = new OrderEvent({ id: 'A1', total: 3, items: ['coffee'] }, { background: { task: 'order_processing' } })
    const back = eventFromJSON(JSON.stringify(e), { strict: true })
    expect(back).toBeInstanceOf(OrderEvent)
    expect(back.toJSON()).toEqual(e.toJSON())
    expect(validationError(() => eventFromJSON({ type: 'order_placed', data: { id: 'A1', total: 1, items: [2] } })).path).toBe('event.data.items[0]')
  })

  it('accept any JSON object without a schema, and can be subclassed', () => {
    const Note = defineEvent('note')
    class Loud extends Note {
      shout() {
        return String(this.data.text).toUpperCase()
      }
    }
    expect(new Loud({ text: 'hi', n: [1] }).shout()).toBe('HI')
    expect(new Loud({ text: 'hi' })).toBeInstanceOf(Note)
    expect(eventFromJSON({ type: 'note', data: { x: 1 } })).toBeInstanceOf(Note)
    expect(validationError(() => new Note({ f: (() => 1) as never })).path).toBe('note.f')
  })

  it('refuse a second definition of a type, a built-in type and an empty type', () => {
    defineEvent('once')
    expect(validationError(() => defineEvent('once')).path).toBe('type')
    expect(validationError(() => defineEvent('text_to_speech')).message).toMatch(/already defined/)
    expect(validationError(() => defineEvent('')).path).toBe('type')
  })
})

describe('ErrorEvent.fromError', () => {
  it('keeps a ContextError\'s message and code', () => {
    const e = ErrorEvent.fromError(new ValidationError('invalid_argument', 'options.timeout: must be positive', { path: 'options.timeout' }))
    expect(e.data).toEqual({ message: 'options.timeout: must be positive', code: 'invalid_argument' })
  })

  it('never carries a stack or the message of an unknown error unless exposed', () => {
    const secret = new Error('401 for https://api.example.test/?key=sk-SECRET123')
    const e = ErrorEvent.fromError(secret, { meta: { background: { task: 'lookup' } } })
    expect(e.data).toEqual({ message: 'internal error', code: 'internal' })
    const text = JSON.stringify(e)
    expect(text).not.toContain('SECRET')
    expect(text).not.toContain('stack')
    expect(e.background).toEqual({ task: 'lookup' })
    expect(ErrorEvent.fromError(secret, { expose: true }).data.message).toBe(secret.message)
    expect(ErrorEvent.fromError('plain string', { expose: true }).data.message).toBe('plain string')
  })

  it('names aborts and timeouts', () => {
    expect(ErrorEvent.fromError(new DOMException('task "x" timed out after 1 s', 'TimeoutError')).data).toEqual({ message: 'timed out', code: 'timeout' })
    expect(ErrorEvent.fromError(new DOMException('stop', 'AbortError')).data).toEqual({ message: 'aborted', code: 'aborted' })
    expect(ErrorEvent.fromError(null).data.code).toBe('internal')
  })
})
