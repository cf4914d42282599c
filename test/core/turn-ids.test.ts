import { describe, expect, it } from 'vitest'
import { Context } from '../../src/context.js'
import { ContextError } from '../../src/errors.js'
import { MAX_TURN_ID } from '../../src/state/turns.js'

// Issue 8: a currentTurnId of 2^53 was accepted, and then `currentTurnId + 1 === currentTurnId`, so
// every new turn overwrote the last; a store keys turn ids in 10 digits. Turn ids are capped at
// MAX_TURN_ID = 9,999,999,999 everywhere a turn id enters: fromJSON (currentTurnId, turns[].id) and addRequest.
const state = (currentTurnId: number, turnId = currentTurnId) => ({
  ...new Context({ contextId: 'c' }).toJSON(),
  currentTurnId,
  turns: [{ id: turnId, request: { text: 'q' } }],
})

function refused(run: () => unknown): ContextError {
  try {
    run()
  } catch (e) {
    expect(e).toBeInstanceOf(ContextError)
    return e as ContextError
  }
  throw new Error('accepted')
}

describe('turn ids are capped at what a store can key (issue 8: currentTurnId of 2^53 let turns overwrite each other)', () => {
  it('MAX_TURN_ID is 10 digits and a safe integer', () => {
    expect(String(MAX_TURN_ID)).toHaveLength(10)
    expect(Number.isSafeInteger(MAX_TURN_ID + 1)).toBe(true)
  })

  it('fromJSON refuses a currentTurnId or a turn id past the cap, naming the field', () => {
    for (const big of [2 ** 53, 2 ** 53 + 2, 1e10, MAX_TURN_ID + 1, 1e300]) {
      const e = refused(() => Context.fromJSON(state(big, 1)))
      expect([e.code, e.path]).toEqual(['invalid_state', 'currentTurnId'])
      const t = refused(() => Context.fromJSON(state(MAX_TURN_ID, big)))
      expect([t.code, t.path]).toEqual(['invalid_state', 'turns[0].id'])
    }
  })

  it('the last turn id is accepted; a request past it is a too_large ContextError and changes nothing', () => {
    const ctx = Context.fromJSON(state(MAX_TURN_ID - 1))
    ctx.addRequest('last')
    expect(ctx.currentTurnId).toBe(MAX_TURN_ID)
    expect(ctx.lastRequest).toEqual({ text: 'last' })
    const before = JSON.stringify(ctx)
    const e = refused(() => ctx.addRequest('one too many'))
    expect([e.code, e.path]).toEqual(['too_large', 'currentTurnId'])
    expect(JSON.stringify(ctx)).toBe(before)
    // The current turn still takes its response and label.
    ctx.addResponse('fine')
    expect(ctx.lastResponse).toEqual({ text: 'fine' })
    expect(Context.fromJSON(JSON.parse(JSON.stringify(ctx))).currentTurnId).toBe(MAX_TURN_ID)
  })
})
