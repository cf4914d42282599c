import { expectHeader, loopback, unknownKeys, type Loopback, type Seen } from './loopback.js'

/**
 * A fake Gemini API (https://ai.google.dev/api/generate-content): checks what the reference
 * requires of `models.generateContent` / `models.streamGenerateContent` and answers in its format.
 */

const BODY_FIELDS = ['contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig']
const CONFIG_FIELDS = ['temperature', 'maxOutputTokens', 'responseMimeType', 'responseJsonSchema']

/** What is wrong with a request by the Gemini API reference. */
export function checkGemini(seen: Seen): string[] {
  const p: string[] = []
  const b = seen.body
  if (seen.method !== 'POST') p.push(`method ${seen.method}`)
  const m = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(seen.path)
  if (!m) p.push(`path ${seen.path}`)
  else if (m[2] === 'streamGenerateContent' && seen.query.get('alt') !== 'sse') p.push('streamGenerateContent without alt=sse')
  if (seen.query.has('key')) p.push('API key in the URL')
  p.push(...expectHeader(seen, 'x-goog-api-key', (v) => !!v, 'the API key'))
  p.push(...expectHeader(seen, 'content-type', (v) => !!v?.startsWith('application/json'), 'application/json'))
  if (typeof b !== 'object' || b === null) return [...p, 'body is not a JSON object']
  p.push(...unknownKeys(b, BODY_FIELDS, 'body'))
  if (!Array.isArray(b.contents) || b.contents.length === 0) return [...p, 'contents must be a non-empty array']
  if (b.systemInstruction !== undefined && !b.systemInstruction.parts?.every((x: any) => typeof x.text === 'string'))
    p.push('systemInstruction must be { parts: [{ text }] }')
  let calls: string[] = []
  b.contents.forEach((c: any, i: number) => {
    const at = `contents[${i}]`
    p.push(...unknownKeys(c, ['role', 'parts'], at))
    if (c.role !== 'user' && c.role !== 'model') p.push(`${at}.role ${c.role}`)
    if (!Array.isArray(c.parts) || c.parts.length === 0) return p.push(`${at}.parts must be non-empty`)
    const responses: string[] = []
    c.parts.forEach((part: any, j: number) => {
      const where = `${at}.parts[${j}]`
      const kinds = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse'].filter((k) => k in part)
      if (kinds.length !== 1) p.push(`${where}: exactly one of text, inlineData, fileData, functionCall, functionResponse`)
      p.push(...unknownKeys(part, [...kinds, 'thoughtSignature'], where))
      if (part.inlineData && !(part.inlineData.mimeType && part.inlineData.data)) p.push(`${where}: inlineData needs mimeType and data`)
      if (part.fileData && !part.fileData.fileUri) p.push(`${where}: fileData needs fileUri`)
      if (part.functionCall) {
        if (c.role !== 'model') p.push(`${where}: functionCall outside a model turn`)
        if (typeof part.functionCall.name !== 'string' || typeof part.functionCall.args !== 'object') p.push(`${where}: bad functionCall`)
        calls.push(part.functionCall.name)
      }
      if (part.functionResponse) {
        const r = part.functionResponse
        if (c.role !== 'user') p.push(`${where}: functionResponse outside a user turn`)
        if (typeof r.response !== 'object' || r.response === null || Array.isArray(r.response)) p.push(`${where}: response must be an object`)
        responses.push(r.name)
      }
    })
    if (responses.length) {
      // Responses answer the previous model turn's calls, by name and in order.
      if (responses.join() !== calls.join()) p.push(`${at}: function responses ${responses.join()} do not match calls ${calls.join()}`)
      calls = []
    }
  })
  for (const t of b.tools ?? [])
    for (const f of t.functionDeclarations ?? []) {
      if (typeof f.name !== 'string') p.push('functionDeclarations: name missing')
      if (f.parameters !== undefined && f.parametersJsonSchema !== undefined) p.push('parameters and parametersJsonSchema are exclusive')
    }
  const mode = b.toolConfig?.functionCallingConfig?.mode
  if (b.toolConfig && !['AUTO', 'ANY', 'NONE'].includes(mode)) p.push('toolConfig.functionCallingConfig.mode invalid')
  if (b.generationConfig) {
    p.push(...unknownKeys(b.generationConfig, CONFIG_FIELDS, 'generationConfig'))
    if (b.generationConfig.responseJsonSchema && b.generationConfig.responseMimeType !== 'application/json')
      p.push('responseJsonSchema needs responseMimeType application/json')
  }
  return p
}

/** Starts a fake Gemini server; its base URL for `gemini()` is `url + '/v1beta'`. */
export const geminiServer = (): Promise<Loopback> => loopback(checkGemini)

export interface FunctionCallSpec {
  name: string
  args: object
  thoughtSignature?: string
}

const usage = ([input, output]: [number, number], thoughts = 0) => ({
  promptTokenCount: input,
  candidatesTokenCount: output,
  ...(thoughts && { thoughtsTokenCount: thoughts }),
  totalTokenCount: input + output + thoughts,
})

/** A whole `GenerateContentResponse`. */
export function generateResponse(o: { text?: string; calls?: FunctionCallSpec[]; finish?: string; usage?: [number, number]; thoughts?: number }) {
  return {
    candidates: [
      {
        content: {
          role: 'model',
          parts: [
            ...(o.text !== undefined ? [{ text: o.text }] : []),
            ...(o.calls ?? []).map((c) => ({ functionCall: { name: c.name, args: c.args }, ...(c.thoughtSignature && { thoughtSignature: c.thoughtSignature }) })),
          ],
        },
        finishReason: o.finish ?? 'STOP',
        index: 0,
      },
    ],
    usageMetadata: usage(o.usage ?? [17, 5], o.thoughts),
    modelVersion: 'gemini-test-001',
    responseId: 'resp-test',
  }
}

// Gemini separates its SSE events with CRLF pairs: the parser must take both line endings.
const frame = (value: unknown) => `data: ${JSON.stringify(value)}\r\n\r\n`

/** The SSE frames of `streamGenerateContent?alt=sse`: one response chunk per delta, the last with finishReason and usage. */
export function generateChunks(deltas: string[], o: { calls?: FunctionCallSpec[]; finish?: string | null; usage?: [number, number] } = {}): string[] {
  const frames = deltas.map((text) =>
    frame({ candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0 }], usageMetadata: { promptTokenCount: 17 }, modelVersion: 'gemini-test-001' }),
  )
  if (o.finish !== null) frames.push(frame({ ...generateResponse({ calls: o.calls, finish: o.finish, usage: o.usage }) }))
  return frames
}

/** An API error body: `{ error: { code, message, status } }`. */
export const geminiError = (code: number, message: string, status: string) => ({ error: { code, message, status } })
