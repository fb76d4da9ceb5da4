// The registry client's public face, for the engine and the CLI.
export { pullImage, type PullOptions, type PullProgress, type PullResult, type LayerStatus } from "./pull.js";
export { pushImage, type PushOptions, type PushProgress, type PushResult } from "./push.js";
export { shouldPull, pullInterval, parseDuration, type PullDecisionPolicy } from "./pull-policy.js";
export { lastPulledAt, recordPull } from "./pull-record.js";
export { RegistryClient, mayUsePlainHttp, type RegistryAccess } from "./client.js";
export { loadCredentials, storeCredentials, removeCredentials, authKeyFor, type Credentials } from "./auth-config.js";
export { parsePlatform, formatPlatform, hostPlatform, selectManifest, type Platform } from "./platform.js";
export { DEFAULT_CERTS_DIR } from "./tls-config.js";
