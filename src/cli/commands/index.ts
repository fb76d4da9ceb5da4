// Every CLI verb registers itself here. A registration file only declares the
// command and its flags; its action imports the implementation lazily, so
// `stack <verb>` loads only what that verb needs (start-up time counts).
import type { Command } from "commander";
import { registerBuild } from "./build.js";
import { registerConfig } from "./config.js";
import { registerDockerfile } from "./dockerfile.js";
import { registerDoctor } from "./doctor.js";
import { registerExec } from "./exec.js";
import { registerExport } from "./export.js";
import { registerGraph } from "./graph.js";
import { registerImage } from "./image.js";
import { registerLifecycle } from "./lifecycle.js";
import { registerRegistryVerbs } from "./login.js";
import { registerVersion } from "./version.js";
import { registerWatch } from "./watch.js";

export const registrations: Array<(program: Command) => void> = [
  registerBuild,
  registerConfig,
  registerDockerfile,
  registerDoctor,
  registerExec,
  registerExport,
  registerGraph,
  registerImage,
  registerLifecycle,
  registerRegistryVerbs,
  registerVersion,
  registerWatch,
];
