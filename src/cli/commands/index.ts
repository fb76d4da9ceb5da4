// Every CLI verb registers itself here. A registration file only declares the
// command and its flags; its action imports the implementation lazily, so
// `stack <verb>` loads only what that verb needs (start-up time counts).
//
// Each entry also names the top-level commands it adds, in the order it adds
// them: `stack ps` builds only `ps` (src/cli/main.ts), as building all ~40
// commands with commander costs more than running many of them. A file that
// adds several commands takes `only`, the one to add; without it, all.
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

export interface Registration {
  /** The top-level commands `register` adds, in help order (a name missing here, an alias say, is only slower: it builds every command). */
  readonly commands: readonly string[];
  readonly register: (program: Command, only?: string) => void;
}

export const registrations: readonly Registration[] = [
  { commands: ["build"], register: registerBuild },
  { commands: ["config"], register: registerConfig },
  { commands: ["dockerfile"], register: registerDockerfile },
  { commands: ["doctor"], register: registerDoctor },
  { commands: ["exec", "run"], register: registerExec },
  { commands: ["export"], register: registerExport },
  { commands: ["graph"], register: registerGraph },
  { commands: ["images", "image"], register: registerImage },
  {
    commands: ["up", "create", "down", "start", "stop", "restart", "kill", "rm", "pause", "unpause", "wait", "ps", "logs", "top", "stats", "port", "ls"],
    register: registerLifecycle,
  },
  { commands: ["login", "logout", "pull", "push"], register: registerRegistryVerbs },
  { commands: ["version"], register: registerVersion },
  { commands: ["watch"], register: registerWatch },
];
