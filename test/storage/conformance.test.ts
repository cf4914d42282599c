import { memoryStorage } from '../../src/storage/memory.js'
import { conformance } from './run.js'

// The reference adapter, in Node and in Chromium.
conformance('memory', { make: async () => memoryStorage() })
