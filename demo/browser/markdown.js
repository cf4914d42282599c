// A small, safe markdown renderer for model text: it builds DOM nodes with `textContent`, never
// `innerHTML`, so whatever a model writes (`<img onerror>`, `<script>`) stays text. It knows what
// chat answers use: paragraphs, # headings, - and 1. lists, | tables |, ``` fences, `code`,
// **bold**, *italic* and [links](https://…) (http and https only). Streaming text is rendered
// again as it grows; a half-written construct shows as plain text until it closes.

/** @param {string} tag @param {string | Node[]} [content] */
function el(tag, content) {
  const node = document.createElement(tag)
  if (typeof content === 'string') node.textContent = content
  else if (content) node.append(...content)
  return node
}

const INLINE = /`([^`\n]+)`|\*\*([^*\n]+)\*\*|\*([^*\s][^*\n]*?)\*|\[([^\]\n]+)\]\(([^)\s]+)\)/g

/** Inline markdown of one line as nodes. @param {string} text @returns {Node[]} */
export function inline(text) {
  const out = []
  let at = 0
  for (const m of text.matchAll(INLINE)) {
    if (m.index > at) out.push(document.createTextNode(text.slice(at, m.index)))
    at = m.index + m[0].length
    if (m[1] !== undefined) out.push(el('code', m[1]))
    else if (m[2] !== undefined) out.push(el('strong', inline(m[2])))
    else if (m[3] !== undefined) out.push(el('em', inline(m[3])))
    else {
      let url
      try {
        url = new URL(m[5])
      } catch {}
      // javascript:, data: and relative URLs stay text.
      if (url && (url.protocol === 'https:' || url.protocol === 'http:')) {
        const a = el('a', inline(m[4]))
        a.href = url.href
        a.rel = 'noopener noreferrer nofollow'
        a.target = '_blank'
        out.push(a)
      } else out.push(document.createTextNode(m[0]))
    }
  }
  if (at < text.length) out.push(document.createTextNode(text.slice(at)))
  return out
}

const cells = (row) => row.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim())

/** Markdown text as a fragment of block nodes. @param {string} text @returns {DocumentFragment} */
export function markdown(text) {
  const root = document.createDocumentFragment()
  const lines = text.replace(/\r\n?/g, '\n').split('\n')
  let paragraph = []
  const flush = () => {
    if (paragraph.length) root.append(el('p', inline(paragraph.join(' '))))
    paragraph = []
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    // A fence opens with ``` and at most a language name (anything else after it would be lost), and
    // closes with ``` alone (regression: "```<script>" dropped its text, found by the property test).
    if (/^```[\w+.-]*\s*$/.test(line)) {
      flush()
      const code = []
      while (++i < lines.length && !/^```\s*$/.test(lines[i])) code.push(lines[i])
      root.append(el('pre', [el('code', code.join('\n'))]))
    } else if (/^#{1,4}\s/.test(line)) {
      flush()
      const level = /^#+/.exec(line)[0].length
      root.append(el(`h${Math.min(level + 2, 6)}`, inline(line.replace(/^#+\s*/, ''))))
    } else if (/^\s*([-*]|\d+\.)\s/.test(line)) {
      flush()
      const ordered = /^\s*\d+\./.test(line)
      const list = el(ordered ? 'ol' : 'ul')
      for (; i < lines.length && /^\s*([-*]|\d+\.)\s/.test(lines[i]); i++) list.append(el('li', inline(lines[i].replace(/^\s*([-*]|\d+\.)\s+/, ''))))
      i--
      root.append(list)
    } else if (/^\s*\|.*\|\s*$/.test(line) && /^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1] ?? '')) {
      flush()
      const table = el('table')
      table.append(el('thead', [el('tr', cells(line).map((c) => el('th', inline(c))))]))
      const body = el('tbody')
      for (i += 2; i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i]); i++) body.append(el('tr', cells(lines[i]).map((c) => el('td', inline(c)))))
      i--
      table.append(body)
      root.append(table)
    } else if (!line.trim()) flush()
    else paragraph.push(line.trim())
  }
  flush()
  return root
}
