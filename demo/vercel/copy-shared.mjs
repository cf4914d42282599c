// `vercel build` runs this (package.json's `vercel-build`) before it packs api/agent.js: the demo's
// rules live in ../shared, shared with demo/cloudflare, and Vercel packs only files inside this
// folder into the function, so they are copied to lib/ (ignored by git) for api/agent.js to import.
import { copyFileSync, mkdirSync } from 'node:fs'

const here = new URL('.', import.meta.url)
mkdirSync(new URL('lib/', here), { recursive: true })
for (const file of ['handler.js', 'auth.js']) copyFileSync(new URL(`../shared/${file}`, here), new URL(`lib/${file}`, here))
