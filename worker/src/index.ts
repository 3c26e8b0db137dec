export {
  type ImageGenerator,
  type ModelInfo,
  type GeneratedImage,
  type GenerationOutput,
  type GenerationRequest,
  type GenerationHooks,
} from './service/generator.js';
export {
  SimulatedGenerator,
  seedColour,
  seedGradient,
  effectiveSteps,
} from './service/simulated-generator.js';
export { latentsToRgb, previewPng } from './service/preview.js';
export { encodeRgbPng } from './service/rgb-png.js';
export { LAST_STEP_STATE_DELAY_MS, PROGRESS_INTERVAL_MS } from './service/progress-reporter.js';
export { WorkerService, type WorkerServiceOptions } from './service/worker-service.js';
export { JobEvents, type JobEndedEvent, type JobStartedEvent } from './service/job-events.js';
export { createWorkerMetrics, type WorkerMetrics, type DeliveryOutcome } from './service/metrics.js';
export { MaxDeliveriesHandler, type MaxDeliveriesHandlerOptions } from './service/max-deliveries.js';
export { OutcomePublisher, failureOutcome } from './service/outcomes.js';
export { publishDeadLetter, jobIdOf, type DeadLetterInput } from './service/dead-letters.js';
export { ThroughputTracker } from './service/throughput.js';
export { PipelineGenerator, modelIdOf } from './service/pipeline-generator.js';
export { UpscalingGenerator } from './upscale/upscaling-generator.js';
export { Upscaler, type UpscalerInfo } from './upscale/upscaler.js';
export { loadUpscalers } from './upscale/load.js';
