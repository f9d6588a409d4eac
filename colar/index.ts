// The CoLaR package's public API: the latent head, the supervised and GRPO objectives, latent
// reasoning at inference, evaluation, and the training runs built from a config.
export { LatentHead, embeddingStd, type LatentHeadParams, type LatentDistribution } from './latent_head.js';
export { buildSlotBatch, IGNORE_INDEX, type SlotBatch, type SlotOptions, type Pooling } from './sequence.js';
export { sftLosses, DEFAULT_SFT_LOSS, type SftLossConfig, type SftLosses, type LatentLossKind } from './sft.js';
export { groupAdvantages, aggregationWeights, clippedObjective, type Aggregation, type ClippedObjective } from './grpo.js';
export { latentReasoning, explicitReasoning, teacherForcedReasoning, nearestTokens, PAPER_ANSWER_SAMPLING, type AnswerSampling, type LatentInferenceOptions, type ExplicitReasoningOptions, type LatentTrace, type ReasoningResult } from './inference.js';
export { evaluateAccuracy, meanCI, type EvalMode, type EvalOptions, type EvalResult, type SampleRecord, type MeanCI } from './evaluate.js';
export { resolveConfig, presetConfig, presetNames, normalizeRunConfig, configToYaml, type TrainConfig, type Stage, type ResolveOptions } from './train_config.js';
export { runStage, type StageResult } from './stage.js';
export { claimRunDir, type ClaimMode } from './run_dir.js';
export { applyOverrides } from './overrides.js';
export { train, type TrainResult } from './trainer.js';
export { trainRl } from './rl.js';
export { buildRunModel, loadRun, readRunConfig, type RunModel } from './run.js';
export { readPlan, expandPlan, type Plan, type PlanStage, type PlanRow, type PlanSettings } from './plan.js';
export { runPlan, readPlanResults, type PlanResults, type RowResult, type StageRecord } from './experiment.js';
export { loadModelFiles, memoryFiles, type InferenceModel, type LoadedModelFiles, type LoadModelFilesOptions, type ModelFiles } from './model_files.js';
