/** The pure evaluation engine: no I/O; the same hashing and semantics as the Python engine. */
export { BUCKETS, bucket, murmur3 } from "./murmur.js";
export { type Context, type Condition, type Matcher, type Operator, OPERATORS } from "./conditions.js";
export { checkPattern, translatePattern, MAX_PATTERN_LENGTH, MAX_VALUE_LENGTH } from "./patterns.js";
export {
  type CompiledFlag,
  type ErrorCode,
  type EvaluationResult,
  type ExperimentResolver,
  type FlagConfig,
  type FlagType,
  type Reason,
  Ruleset,
  RuleValidationError,
  errorResult,
  evaluate,
  validateFlag,
} from "./flags.js";
export { type Assignment, type AssignmentReason, type CompiledExperiment, assign, compileExperiment } from "./assignment.js";
export { unitText } from "./values.js";
