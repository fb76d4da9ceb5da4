// Entry of the detached supervisor daemon:
//   node dist/supervisor/main.js --project NAME --state-dir S --run-dir R [--runtime NAME] [--idle-ms N]
// Started by ensureSupervisor (client.ts); its stdout/stderr go to
// $RUN/<project>/supervisor.log. Runtimes by name: "host-process" (host
// commands with the container process model; see host-process-runtime.ts).
import { join } from "node:path";
import { isStackError } from "../errors.js";
import { projectStateDir, runDaemon } from "./daemon.js";
import { HostProcessRuntime } from "./host-process-runtime.js";
import type { RuntimePort } from "./runtime-port.js";

const runtimeFactories: Record<string, (stateDir: string, project: string) => RuntimePort> = {
  "host-process": (stateDir, project) => new HostProcessRuntime(join(projectStateDir(stateDir, project), "containers")),
};

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!;
    const value = argv[i + 1];
    if (!key.startsWith("--") || value === undefined) throw new Error(`bad argument ${JSON.stringify(key)}: expected --name value pairs`);
    out[key.slice(2)] = value;
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  for (const k of ["project", "state-dir", "run-dir"]) if (!args[k]) throw new Error(`--${k} is required`);
  const runtimeName = args.runtime ?? "host-process";
  const factory = runtimeFactories[runtimeName];
  if (!factory) throw new Error(`unknown runtime ${JSON.stringify(runtimeName)}; known: ${Object.keys(runtimeFactories).sort().join(", ")}`);
  process.stderr.write(`${new Date().toISOString()} supervisor ${process.pid} for ${args.project} starting (runtime ${runtimeName})\n`);
  await runDaemon({
    project: args.project!,
    stateDir: args["state-dir"]!,
    runDir: args["run-dir"]!,
    runtime: factory(args["state-dir"]!, args.project!),
    idleMs: args["idle-ms"] === undefined ? undefined : Number(args["idle-ms"]),
  });
  process.stderr.write(`${new Date().toISOString()} supervisor ${process.pid} stopped\n`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${new Date().toISOString()} supervisor failed: ${isStackError(e) ? `${e.message} (${e.hint ?? ""})` : (e as Error).stack}\n`);
    process.exit(1);
  },
);
