/**
 * `agentctx/experiments`: A/B tests tracked across sessions on your own storage, with stop rules that
 * conclude them and the conclusion handed to every later session. See docs/experiments.md.
 *
 * @module agentctx/experiments
 */
export { createExperiments, type Evaluation, type Experiments, type ExperimentsOptions, type RecordResult } from './tracker.js'
export type { Conclusion } from './records.js'
export { WebhookError, type WebhookOptions } from './webhook.js'
export { sequentialTest, type Aggregate, type SequentialResult } from './stats.js'
export type { ExperimentReport, Interval, OptionReport, OutcomeReport, SampleRatio } from './report.js'
export type { StopReason } from './rules.js'
