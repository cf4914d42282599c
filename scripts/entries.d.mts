/** See entries.mjs. */
export const entries: { specifier: string; input: string; output: string; budget: number; addsToCore?: number }[]
