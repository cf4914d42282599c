/** A uniform float in [0, 1) from `crypto.getRandomValues`, available in every runtime we support. */
export function secureRandom(): number {
  const words = crypto.getRandomValues(new Uint32Array(2))
  // 53 random bits (21 from the first word, 32 from the second) over 2^53: every float step is reachable.
  return ((words[0]! >>> 11) * 2 ** 32 + words[1]!) / 2 ** 53
}
