import { createParser } from 'eventsource-parser'
import type { EventJSON } from '../agent/events.js'
import { AgentHttpError } from './errors.js'

// One event (its data lines, or a line still without its end) is held up to 4 Mi characters: an
// agent's event is a few hundred bytes (a sentence, a tool result), and the agent refuses input
// events over 1 MiB; a server sending a longer one is refused rather than buffered without end.
export const MAX_EVENT = 1 << 22
// What an event type may be (the agent's EVENT_TYPE): checked again here, since the type is what a
// UI branches on, and the server is not trusted.
const TYPE = /^[\w.:-]{1,64}$/

// The agent's mark of a turn's save, an SSE comment (`: turn 3 saved`, its http.ts `savedComment`).
const SAVED = /^turn (\d{1,15}) saved$/

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x)

/**
 * `JSON.parse`, refusing a `"__proto__"` key anywhere (written plainly or escaped, `"\u005f_proto__"`):
 * the agent never sends one (its events refuse that key), and a UI that merges an event's data
 * into an object with `Object.assign` or a spread-then-assign would set a prototype with it.
 */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text, (key, value) => {
      if (key === '__proto__') throw new AgentHttpError(`agent: ${what} holds a "__proto__" key`)
      return value
    })
  } catch (e) {
    if (e instanceof AgentHttpError) throw e
    throw new AgentHttpError(`agent: ${what} is not valid JSON`)
  }
}

/**
 * Checks one event's JSON as the agent writes it (`EventJSON`): a type of 1-64 of
 * `A-Z a-z 0-9 _ . : -` equal to the SSE `event:` field when there is one, `data` an object,
 * `timestamp` a string, `turn` an integer >= 0, `background` `{ task }`. The error names the field.
 */
export function checkEvent(value: unknown, field: string | undefined, what: string): EventJSON {
  const bad = (path: string, problem: string) => new AgentHttpError(`agent: ${what}.${path} ${problem}`)
  if (!isObject(value)) throw new AgentHttpError(`agent: ${what} is not a JSON object`)
  const { type, data = {}, timestamp, turn, background } = value
  if (typeof type !== 'string' || !TYPE.test(type)) throw bad('type', 'must be 1-64 of A-Z a-z 0-9 _ . : -')
  if (field !== undefined && field !== type) throw bad('type', `is not the SSE event field (${field.slice(0, 64)})`)
  if (!isObject(data)) throw bad('data', 'must be an object')
  if (timestamp !== undefined && typeof timestamp !== 'string') throw bad('timestamp', 'must be a string')
  if (turn !== undefined && !(Number.isInteger(turn) && (turn as number) >= 0)) throw bad('turn', 'must be an integer >= 0')
  if (background !== undefined && !(isObject(background) && typeof background.task === 'string')) throw bad('background', 'must be { task: string }')
  return value as unknown as EventJSON
}

/**
 * The agent's output events from an SSE body, one at a time as they arrive. eventsource-parser
 * parses the stream and bounds what it buffers (`maxBufferSize`: 4 Mi characters). The reader is
 * cancelled, closing the connection, when the loop stops early, throws, or `signal` aborts (even
 * with a custom `fetch` that does not wire its signal to the body). `onSaved` is called, in order
 * with the events, at the agent's comment saying the turn was saved (other comments are skipped).
 */
export async function* readAgentEvents(body: ReadableStream<Uint8Array>, signal?: AbortSignal, onSaved?: (turn: number) => void): AsyncGenerator<EventJSON> {
  const reader = body.getReader()
  const cancel = () => void reader.cancel().catch(() => {})
  signal?.addEventListener('abort', cancel)
  const decoder = new TextDecoder()
  // Events, and the turn ids of save marks, in stream order.
  const ready: (EventJSON | number)[] = []
  let failure: AgentHttpError | undefined
  let count = 0
  let cr = false
  const parser = createParser({
    onEvent(e) {
      if (failure) return
      try {
        const what = `event ${++count}`
        ready.push(checkEvent(parseJson(e.data, what), e.event, what))
      } catch (error) {
        failure = error as AgentHttpError
      }
    },
    onComment(comment) {
      const saved = SAVED.exec(comment)
      if (saved && !failure) ready.push(Number(saved[1]))
    },
    // Unknown fields are reported as errors too; the SSE spec ignores them, and so do we.
    onError: (e) => void (e.type === 'max-buffer-size-exceeded' && (failure ??= new AgentHttpError(`agent: an event longer than ${MAX_EVENT} characters`))),
    maxBufferSize: MAX_EVENT,
  })
  try {
    for (;;) {
      const chunk = await reader.read().catch((cause) => {
        if (signal?.aborted) throw signal.reason
        throw new AgentHttpError('agent: the connection was lost mid-stream', { cause })
      })
      if (signal?.aborted) throw signal.reason
      // An event not ended by a blank line when the body ends is dropped, as the SSE spec says. A
      // final CR is held back by the parser for an LF that may follow: at the end it ends its line.
      if (chunk.done) {
        if (cr) parser.feed('\n')
      } else {
        const text = decoder.decode(chunk.value, { stream: true })
        if (text) cr = text.endsWith('\r')
        parser.feed(text)
      }
      // The events before a bad one are delivered first: what the agent said stays said.
      while (ready.length) {
        const next = ready.shift()!
        if (typeof next === 'number') onSaved?.(next)
        else yield next
      }
      if (failure) throw failure
      if (chunk.done) return
    }
  } finally {
    signal?.removeEventListener('abort', cancel)
    cancel()
  }
}
