import * as v from 'valibot'
import { JsonValue, nonEmpty } from './validate.js'

/**
 * One provider-neutral chat message shape. Each provider executor maps it to its own wire format
 * (OpenAI `tool_calls` / `tool` role, Anthropic `tool_use` / `tool_result` blocks, Gemini
 * `functionCall` / `functionResponse` parts), so a history survives switching providers.
 */

const NonEmpty = nonEmpty()

const TextPart = v.strictObject({
  /** `'text'`. */
  type: v.literal('text'),
  /** The text. */
  text: v.string(),
})
const ImagePart = v.pipe(
  v.strictObject({
    /** `'image'`. */
    type: v.literal('image'),
    /** An https: or data: URL. */
    url: v.optional(v.string()),
    /** Base64 bytes, with `mediaType`. */
    data: v.optional(v.string()),
    /** The image's MIME type (`image/png`), needed with `data`. */
    mediaType: v.optional(v.string()),
  }),
  v.check((p) => (p.url === undefined) !== (p.data === undefined), 'an image part needs exactly one of url or data'),
)
/** Schema of one content part: text, or an image by URL or by bytes. */
export const ContentPartSchema = v.variant('type', [TextPart, ImagePart])
const Parts = v.array(ContentPartSchema, 'must be a string or an array of content parts')
/**
 * A string, or an array of parts. Not `v.union`: under `abortEarly` a union reports only its own
 * vague issue at `content`, where running the array schema directly names the part and its problem
 * (`message.content[1]: an image part needs exactly one of url or data`), for fewer bytes.
 */
const Content = {
  ...Parts,
  '~run': (dataset: { value: unknown }, config: v.Config<v.BaseIssue<unknown>>) =>
    typeof dataset.value === 'string' ? { typed: true, value: dataset.value } : Parts['~run'](dataset, config),
} as unknown as v.GenericSchema<string | v.InferOutput<typeof ContentPartSchema>[]>

const ToolCall = v.strictObject({
  /** The call's id, which the tool message answering it names in `toolCallId`. */
  id: NonEmpty,
  /** The tool's name. */
  name: NonEmpty,
  /** Parsed arguments; the raw string when the model produced arguments that are not valid JSON. */
  arguments: JsonValue,
})

/** Schema of one completion message. */
export const CompletionMessageSchema = v.variant(
  'role',
  [
    // `name` on a system message too: OpenAI's Chat Completions takes it on every role.
    v.strictObject({
      /** Instructions to the model. */
      role: v.literal('system'),
      /** The instructions' text. */
      content: v.string(),
      /** A participant's name, as OpenAI takes it. */
      name: v.optional(v.string()),
    }),
    v.strictObject({
      /** What the user said. */
      role: v.literal('user'),
      /** A string, or text and image parts. */
      content: Content,
      /** A participant's name, as OpenAI takes it. */
      name: v.optional(v.string()),
    }),
    v.strictObject({
      /** The model's reply. */
      role: v.literal('assistant'),
      /** A string, or text and image parts; `''` when the reply is only tool calls. */
      content: Content,
      /** A participant's name, as OpenAI takes it. */
      name: v.optional(v.string()),
      /** The tools the model asked to call. */
      toolCalls: v.optional(v.array(ToolCall)),
    }),
    v.strictObject({
      /** A tool's result. */
      role: v.literal('tool'),
      /** What the tool returned, as text (or parts). */
      content: Content,
      /** The id of the assistant's tool call it answers. */
      toolCallId: NonEmpty,
      /** A participant's name, as OpenAI takes it. */
      name: v.optional(v.string()),
    }),
  ],
)

/** A text or image part of a message's content. */
export type ContentPart = v.InferOutput<typeof ContentPartSchema>
/** A tool call the assistant asked for. */
export type ToolCall = v.InferOutput<typeof ToolCall>
/** A chat message: `system`, `user`, `assistant` (maybe with tool calls) or `tool` (a tool's result). */
export type CompletionMessage = v.InferOutput<typeof CompletionMessageSchema>

/** The text of a message's content: parts joined, images left out. */
export function messageText(content: CompletionMessage['content']): string {
  if (typeof content === 'string') return content
  let out = ''
  for (const part of content) if (part.type === 'text') out += part.text
  return out
}
