// Entry of the detached supervisor daemon:
//   node dist/supervisor/main.js --project NAME --state-dir S --run-dir R [--runtime NAME] [--idle-ms N]
// Started by ensureSupervisor (client.ts); its stdout/stderr go to
// $RUN/<project>/supervisor.log. Runtimes by name: "oci" (the default: real
// containers through src/runtime, and the project's embedded DNS server) and
// "host-process" (host commands with the container process model, for the
// supervisor's own tests; see host-process-runtime.ts).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isStackError } from "../errors.js";
import { runDaemon } from "./daemon.js";
import { projectStateDir } from "./paths.js";
import { HostProcessRuntime } from "./host-process-runtime.js";
import type { RuntimePort } from "./runtime-port.js";

const runtimeFactories: Record<string, (stateDir: string, runDir: string, project: string) => Promise<RuntimePort>> = {
  "host-process": async (stateDir, _runDir, project) => new HostProcessRuntime(join(projectStateDir(stateDir, project), "containers")),
  oci: async (stateDir, runDir, project) => {
    const { openRuntime } = await import("../runtime/index.js");
    const { OciRuntimePort } = await import("./oci-runtime-port.js");
    return new OciRuntimePort(openRuntime({ stateDir, runDir, ...(process.env.STACK_RUNTIME ? { runtimeOverride: process.env.STACK_RUNTIME } : {}) }), project);
  },
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
  const runtimeName = args.runtime ?? "oci";
  const factory = runtimeFactories[runtimeName];
  if (!factory) throw new Error(`unknown runtime ${JSON.stringify(runtimeName)}; known: ${Object.keys(runtimeFactories).sort().join(", ")}`);
  process.stderr.write(`${new Date().toISOString()} supervisor ${process.pid} for ${args.project} starting (runtime ${runtimeName})\n`);
  const log = (m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`);
  // The embedded DNS belongs with real containers on real networks.
  // An `up -d` that did not wait for this daemon bound the DNS sockets itself (queries wait in them): they are ours now.
  const inheritedDns = args["inherited-dns"] ? (JSON.parse(args["inherited-dns"]) as import("../network/index.js").DnsListenSocket[]) : [];
  const dns = runtimeName === "oci" && args.dns !== "off" ? new (await import("./dns-host.js")).DnsHost({ project: args.project!, stateDir: args["state-dir"]!, log, inherited: inheritedDns }) : undefined;
  // Live rebuild (stack watch -d) needs real containers too.
  const fileWatch = runtimeName === "oci"
    ? new (await import("./file-watch.js")).FileWatchHost({
        project: args.project!,
        stateDir: args["state-dir"]!,
        runDir: args["run-dir"]!,
        log,
        supervisorEntry: fileURLToPath(import.meta.url),
        ...(process.env.STACK_RUNTIME ? { runtimeOverride: process.env.STACK_RUNTIME } : {}),
      })
    : undefined;
  void fileWatch?.resume();
  // Warm `stack run`s: real containers only.
  const runHost = runtimeName === "oci" ? (await import("./run-host.js")).createRunHost({ project: args.project!, stateDir: args["state-dir"]!, runDir: args["run-dir"]!, log }) : undefined;
  // A supervisor started after a crash serves the names at once, before any container changes.
  void dns?.refresh();
  await runDaemon({
    project: args.project!,
    stateDir: args["state-dir"]!,
    runDir: args["run-dir"]!,
    runtime: await factory(args["state-dir"]!, args["run-dir"]!, args.project!),
    idleMs: args["idle-ms"] === undefined ? undefined : Number(args["idle-ms"]),
    ...(dns ? { onChange: () => void dns.refresh() } : {}),
    // A run in flight ends and answers its client before the daemon exits (`stack down` meanwhile, a shutdown).
    ...(dns || fileWatch || runHost ? { onClose: async () => void (await Promise.all([fileWatch?.close(), dns?.close(), runHost?.drain()])) } : {}),
    ...(fileWatch ? { busy: () => fileWatch.active(), extraOps: fileWatch.ops() } : {}),
    ...(runHost ? { runHost: runHost.serve } : {}),
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
