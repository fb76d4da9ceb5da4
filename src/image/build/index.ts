// The image builder's public face (docs/build.md).
export { buildImage, Builder, BuildStepError, type BuildEnvironment, type BuildProgress, type BuildResult } from "./builder.js";
export { buildRequestOf, imageNameFor, type BuildOverrides, type BuildRequest, type BuildSecret } from "./request.js";
export { BUILD_PROJECT } from "./run-step.js";
