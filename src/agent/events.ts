import * as v from 'valibot'
import { ContextError, ValidationError } from '../errors.js'
import { cloneJson, type JsonObject } from '../state/json.js'
import { int, nonEmpty, parse, range } from '../state/validate.js'

/**
 * Agent events: what a handler receives (`StartEvent`, `TextEvent`) and yields (`TextToSpeechEvent`,
 * `ErrorEvent`, `StopEvent`, custom events). Wire names and defaults follow the voice-agent platform
 * of `spec/000` (`text_to_speech`, `voice = "nova"`, `speed = 1.0`, …); data keys are camelCase.
 *
 * JSON form: `{ "type": "text", "data": { "text": "hi", "source": "text" },
 *              "timestamp": "2025-01-01T00:00:00.000Z", "turn"?: 3, "background"?: { "task": "order" } }`
 */

/** Marks an event a background task yielded, with the task's name. */
export interface BackgroundTag {
  /** The name of the task that yielded the event. */
  task: string
}

/** Fields every event has besides its type and data. */
export interface EventMeta {
  /** ISO 8601. Default: now. */
  timestamp?: string
  /** Turn the event belongs to, set by the agent runtime. */
  turn?: number
  /** Set on events a background task yielded: which task. */
  background?: BackgroundTag
}

/** The JSON form of an event (`JSON.stringify(event)` produces it). */
export interface EventJSON extends EventMeta {
  /** Wire name: `start`, `text`, `text_to_speech`, … */
  type: string
  /** The event's data, a JSON object. */
  data: JsonObject
  /** ISO 8601. */
  timestamp: string
}

const NonEmpty = nonEmpty()
/**
 * What an event type may be: 1-64 of `A-Z a-z 0-9 _ . : -`. The type is the one part of an event
 * written to the SSE stream outside JSON (`event: <type>`), so a CR or LF in it would end the field
 * and let a client or a handler forge a frame (`x\ndata: {...}`); a small safe set refuses that and
 * anything else odd (spaces, quotes, control and non-ASCII characters) before any event exists.
 */
export const EVENT_TYPE = /^[\w.:-]{1,64}$/
const EventType = v.pipe(v.string(), v.check((s) => EVENT_TYPE.test(s), 'must be 1-64 of the characters A-Z a-z 0-9 _ . : -'))
const Speed = range(0.25, 4) // the platform's 0.25x-4.0x
const Meta = {
  timestamp: v.optional(v.pipe(v.string(), v.isoTimestamp())),
  turn: v.optional(int(0)),
  background: v.optional(v.object({ task: NonEmpty })),
}
// Behind `parse`, whose toJson has checked every value. Not v.record: it turns `[1]` into `{ "0": 1 }`.
const JsonObj = v.custom<JsonObject>((x) => x !== null && typeof x === 'object' && !Array.isArray(x), 'must be a JSON object')
const Envelope = v.object({ type: EventType, data: v.optional(JsonObj, {}), ...Meta })
const MetaSchema = v.object(Meta)

/** `{ voice: undefined }` means "not given" (as in JSON.stringify), not a value that is not JSON. */
const defined = (o: object): object =>
  o && typeof o === 'object' && !Array.isArray(o) ? Object.fromEntries(Object.entries(o).filter((e) => e[1] !== undefined)) : o

/**
 * Base class of every event; also what `eventFromJSON` returns for a type nobody defined, so a newer
 * client's event reaches the handler (branch on `event.type`) instead of failing the request.
 */
export class AgentEvent<D extends JsonObject = JsonObject> {
  /** Wire name: `start`, `text`, `text_to_speech`, … */
  readonly type: string
  /** The event's data, checked against its class's schema when built. */
  readonly data: D
  /** When the event was made, ISO 8601. */
  timestamp: string
  /** The turn the event belongs to, set by the agent runtime. */
  turn?: number
  /** Set on events yielded by a background task (the agent sets it from the task's name). */
  background?: BackgroundTag

  /** `data` must be a JSON object; a `ValidationError` names the first field that is not. */
  constructor(type: string, data: D = {} as D, meta: EventMeta = {}) {
    this.type = parse(EventType, type, 'type')
    this.data = parse(JsonObj, defined(data), type) as D
    const m = parse(MetaSchema, defined(meta ?? {}), 'meta')
    this.timestamp = m.timestamp ?? new Date().toISOString()
    if (m.turn !== undefined) this.turn = m.turn
    if (m.background) this.background = m.background
  }

  /** Plain JSON (see `EventJSON`); a copy, so editing it leaves the event as it was. */
  toJSON(): EventJSON {
    const out: EventJSON = { type: this.type, data: cloneJson(this.data), timestamp: this.timestamp }
    if (this.turn !== undefined) out.turn = this.turn
    if (this.background) out.background = { task: this.background.task }
    return out
  }
}

/** A class of events of one type, as made by `defineEvent` (built-ins have the same shape). */
export interface EventClass<I = JsonObject, D extends JsonObject = JsonObject> {
  /** Makes an event of this class from its data (checked against `schema`) and optional meta (timestamp, turn). */
  new (data: I, meta?: EventMeta): AgentEvent<D>
  /** Wire name. */
  readonly type: string
  /** Validates and completes `data` (defaults). */
  readonly schema: v.GenericSchema<unknown, D>
}

/* @__NO_SIDE_EFFECTS__ */
function builtin<S extends v.GenericSchema<unknown, JsonObject>>(type: string, schema: S) {
  return class extends AgentEvent<v.InferOutput<S>> {
    /** Wire name of the events of this class. */
    static readonly type = type
    /** Validates and completes an event's `data` (defaults). */
    static readonly schema = schema
    /** `data` is checked against the event's schema and completed with its defaults; a `ValidationError` names the first wrong field. */
    constructor(data: v.InferInput<S>, meta?: EventMeta) {
      super(type, parse(schema, defined(data as object), type), meta)
    }
  }
}

const StartSchema = v.object({})
/** A new session started (delivered first, before the session's first event). No data. */
export class StartEvent extends builtin('start', StartSchema) {
  /** A start event; it carries no data. */
  constructor(data: v.InferInput<typeof StartSchema> = {}, meta?: EventMeta) {
    super(data, meta)
  }
}

const TextSchema = v.object({
  /** What the user said or typed. */
  text: v.string(),
  /** `"speech"` or `"text"` (the default). */
  source: v.optional(v.string(), 'text'),
  /** The language, when known (`en`, `de-DE`). */
  language: v.nullish(v.string()),
})
/** The user spoke or typed: `event.data.text`; `source` is `"speech"` or `"text"` (default, our choice). */
export class TextEvent extends builtin('text', TextSchema) {}

const TtsSchema = v.object({
  /** What to say. */
  text: v.string(),
  /** The voice, `"nova"` by default. */
  voice: v.optional(NonEmpty, 'nova'),
  /** Whether the platform may cache the audio; true by default. */
  cache: v.optional(v.boolean(), true),
  /** Whether the user may talk over it; left to the platform unless given. */
  interruptible: v.nullish(v.boolean()),
  /** Voice styling (OpenAI voices); `""` by default. */
  instructions: v.optional(v.string(), ''),
  /** Speaking rate, 0.25 to 4; 1 by default. */
  speed: v.optional(Speed, 1),
  /** The language, `"en"` by default. */
  language: v.optional(v.string(), 'en'),
  /** Whether to stream the audio; left to the platform unless given. */
  stream: v.nullish(v.boolean()),
})
/**
 * Speak `text` to the user. Defaults as on the platform: `voice` `"nova"`, `cache` true, `instructions`
 * `""` (voice styling, OpenAI voices), `speed` 1 (0.25-4), `language` `"en"`; `interruptible` and
 * `stream` are left out (the platform decides) unless given.
 */
export class TextToSpeechEvent extends builtin('text_to_speech', TtsSchema) {}

const StopSchema = v.object({
  /** Said before the session ends, when given. */
  closingSpeech: v.nullish(v.string()),
  /** The voice of the closing speech. */
  voice: v.nullish(NonEmpty),
  /** Speaking rate of the closing speech, 0.25 to 4; 1 by default. */
  speed: v.optional(Speed, 1),
  /** The language of the closing speech, `"en"` by default. */
  language: v.optional(v.string(), 'en'),
})
/** Ends the session, optionally speaking `closingSpeech` first (in `voice`, at `speed`, in `language`). */
export class StopEvent extends builtin('stop', StopSchema) {
  /** A stop event; every field is optional (`speed` 1 and `language` `en` by default). */
  constructor(data: v.InferInput<typeof StopSchema> = {}, meta?: EventMeta) {
    super(data, meta)
  }
}

const ErrorSchema = v.object({
  /** What failed, safe to show the user (see `fromError`). */
  message: v.string(),
  /** A stable code to branch on (`internal`, `aborted`, `timeout`, a `ContextError`'s code). */
  code: v.optional(v.string()),
})
/**
 * Something failed. Carries a message and an optional stable code, never a stack; build it with
 * `ErrorEvent.fromError` so that only messages known to be safe reach the user.
 */
export class ErrorEvent extends builtin('error', ErrorSchema) {
  /**
   * A `ContextError` keeps its message and code (they never hold a secret); an abort or timeout
   * becomes code `aborted` / `timeout`; any other error becomes `"internal error"` with code
   * `internal`, since its message may hold a key or a URL, unless `expose` is true.
   */
  static fromError(error: unknown, options: { expose?: boolean; meta?: EventMeta } = {}): ErrorEvent {
    const e = error as { name?: unknown; message?: unknown } | null
    const name = typeof e?.name === 'string' ? e.name : ''
    let data: { message: string; code?: string }
    if (error instanceof ContextError) data = { message: error.message, code: error.code }
    else if (name === 'TimeoutError') data = { message: 'timed out', code: 'timeout' }
    else if (name === 'AbortError') data = { message: 'aborted', code: 'aborted' }
    else if (options.expose) data = { message: typeof e?.message === 'string' ? e.message : String(error) }
    else data = { message: 'internal error', code: 'internal' }
    return new ErrorEvent(data, options.meta)
  }
}

const custom = new Map<string, EventClass<never, JsonObject>>()

/**
 * Defines (and registers, for `eventFromJSON`) an event type. `schema` (valibot) validates the data
 * and fills defaults; without it any JSON object is accepted. Subclass the result to add methods.
 *
 *   const OrderEvent = defineEvent('order', v.object({ id: v.string(), total: v.number() }))
 *   yield new OrderEvent({ id: 'A1', total: 15.99 })
 *
 * A type can be defined once: a second definition, or one of a built-in type, is a `ValidationError`.
 * Not marked side-effect free on purpose: the registration is the effect, and a bundler must keep it.
 */
export function defineEvent<S extends v.GenericSchema<unknown, JsonObject> = v.GenericSchema<JsonObject, JsonObject>>(
  type: string,
  schema?: S,
): EventClass<v.InferInput<S>, v.InferOutput<S>> {
  parse(EventType, type, 'type')
  if (custom.has(type) || Object.hasOwn(builtins(), type)) throw new ValidationError('invalid_argument', `type: "${type}" is already defined`, { path: 'type' })
  const cls = builtin(type, (schema ?? JsonObj) as S)
  custom.set(type, cls as EventClass<never, JsonObject>)
  return cls as unknown as EventClass<v.InferInput<S>, v.InferOutput<S>>
}

const builtins = (): Record<string, EventClass<never, JsonObject>> => ({
  start: StartEvent,
  text: TextEvent,
  text_to_speech: TextToSpeechEvent,
  stop: StopEvent,
  error: ErrorEvent,
})

/**
 * Rebuilds an event from its JSON (a string or a parsed object) as an instance of its class.
 * Malformed input is a `ValidationError` whose `path` names the field (`event.data.speed`). A type
 * nobody defined gives a plain `AgentEvent`, or a `ValidationError` at `event.type` with `strict`.
 */
export function eventFromJSON(json: unknown, options: { strict?: boolean } = {}): AgentEvent {
  let value = json
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json)
    } catch {
      throw new ValidationError('invalid_argument', 'event: not valid JSON', { path: 'event' })
    }
  }
  if (Array.isArray(value)) throw new ValidationError('invalid_argument', 'event: must be a JSON object', { path: 'event' })
  const env = parse(Envelope, value, 'event')
  const cls = Object.hasOwn(builtins(), env.type) ? builtins()[env.type] : custom.get(env.type)
  const meta: EventMeta = { timestamp: env.timestamp, turn: env.turn, background: env.background }
  if (cls) return new cls(parse(v.object({ data: cls.schema }), { data: env.data }, 'event').data as never, meta)
  if (options.strict) throw new ValidationError('invalid_argument', `event.type: unknown event type "${env.type}"`, { path: 'event.type' })
  return new AgentEvent(env.type, env.data, meta)
}
