import { EventSourceParserStream } from 'eventsource-parser/stream'
import type { EventJSON } from '../../src/agent/events.js'

/** One Server-Sent Event of the agent: its `event:` field and its parsed `data:`. */
export interface AgentSSE {
  event: string | undefined
  json: EventJSON
}

/**
 * Reads an SSE response the way a client does (eventsource-parser over the byte stream), one event
 * at a time, as they arrive. Fails on a response that is not `text/event-stream`.
 */
export async function* sseEvents(response: Response): AsyncGenerator<AgentSSE> {
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`)
  const type = response.headers.get('content-type') ?? ''
  if (!type.startsWith('text/event-stream')) throw new Error(`not an event stream: ${type}`)
  const reader = response.body!.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream({ onError: 'terminate' })).getReader()
  try {
    for (let step; !(step = await reader.read()).done; ) yield { event: step.value.event, json: JSON.parse(step.value.data) as EventJSON }
  } finally {
    await reader.cancel().catch(() => {})
  }
}

/** Every event of an SSE response, after it ended; checks each `event:` field equals the data's `type`. */
export async function readSSE(response: Response): Promise<EventJSON[]> {
  const out: EventJSON[] = []
  for await (const { event, json } of sseEvents(response)) {
    if (event !== json.type) throw new Error(`event field ${event} does not match the data's type ${json.type}`)
    out.push(json)
  }
  return out
}
