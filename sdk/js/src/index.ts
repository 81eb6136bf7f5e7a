export * from "./engine/index.js";
export { type ChangeEvent, type ChangeListener, Client, type EvaluationDetail, ExperimentationClient } from "./node/client.js";
export { exposureId } from "./node/exposures.js";
export type { ClientOptions, Logger } from "./node/options.js";
