// The Compose verbs over containers: up, down, create, start, stop, restart,
// kill, rm, pause, unpause, wait, ps, logs, top, stats, port, ls. Flags as in
// `docker compose`; implementations in ../verbs/, loaded per command.
import type { Command } from "commander";
import { contextFrom } from "../context.js";
import { adds } from "./only.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function setExit(code: number): void {
  if (code !== 0) process.exitCode = code;
}

export function registerLifecycle(program: Command, only?: string): void {
  if (adds(only, "up")) {
    program
      .command("up")
      .description("Create and start containers (attached: follow their logs; Ctrl-C stops them)")
      .argument("[services...]")
      .option("-d, --detach", "run in the background")
      .option("--wait", "wait for services to be running and healthy (implies -d)")
      .option("--wait-timeout <seconds>", "give up waiting after this long")
      .option("--abort-on-container-exit", "stop all containers when any one exits")
      .option("--abort-on-container-failure", "stop all containers when any one exits with a non-zero code")
      .option("--exit-code-from <service>", "return this service's exit code (implies --abort-on-container-exit)")
      .option("--attach <service>", "show the logs of this service only (repeatable)", collect, [])
      // commander shares one attribute between --attach and --no-attach: mark the negated names.
      .option("--no-attach <service>", "do not show this service's logs (repeatable)", (v: string, p: string[]) => [...p, `!${v}`])
      .option("-t, --timeout <seconds>", "shutdown timeout when stopping on exit or Ctrl-C")
      .option("--timestamps", "show timestamps")
      .option("--no-color", "monochrome output")
      .option("--no-log-prefix", "no service prefix on log lines")
      .option("--force-recreate", "recreate containers even when unchanged")
      .option("--no-recreate", "keep existing containers even when changed")
      .option("--no-deps", "do not start linked services")
      .option("--remove-orphans", "remove containers of services no longer in the stack file")
      .option("--no-start", "create containers without starting them")
      .option("--scale <service=n>", "number of containers of a service (repeatable)", collect, [])
      .option("--build", "build images before starting")
      .option("--no-build", "do not build missing images")
      .option("--pull <policy>", "pull images: always, missing, never")
      .option("--quiet-pull", "no pull progress")
      .option("-w, --watch", "watch source code and rebuild or sync on change")
      .option("--rebuild-on-change", "with --watch: rebuild build: services without develop.watch rules on any change in their build context")
      .action(async (services: string[], o: Record<string, unknown>, command: Command) => {
        const { runUp } = await import("../verbs/up.js");
        const named = (o.attach as string[] | undefined) ?? [];
        const flags = {
          ...o,
          attach: named.filter((s) => !s.startsWith("!")),
          noAttach: named.filter((s) => s.startsWith("!")).map((s) => s.slice(1)),
          detach: !!o.detach || !!o.wait,
          abortOnContainerExit: !!o.abortOnContainerExit || !!o.exitCodeFrom,
        };
        setExit(await runUp(contextFrom(command), services, flags as never));
      });
  }

  if (adds(only, "create")) {
    program
      .command("create")
      .description("Create containers without starting them")
      .argument("[services...]")
      .option("--force-recreate", "recreate containers even when unchanged")
      .option("--no-recreate", "keep existing containers even when changed")
      .option("--remove-orphans", "remove containers of services no longer in the stack file")
      .option("--scale <service=n>", "number of containers of a service (repeatable)", collect, [])
      .option("--build", "build images before creating")
      .option("--no-build", "do not build missing images")
      .option("--pull <policy>", "pull images: always, missing, never")
      .action(async (services: string[], o: Record<string, unknown>, command: Command) => {
        const { runUp } = await import("../verbs/up.js");
        setExit(await runUp(contextFrom(command), services, { ...o, start: false, detach: true } as never));
      });
  }

  if (adds(only, "down")) {
    program
      .command("down")
      .description("Stop and remove containers and networks (and volumes with -v)")
      .option("-v, --volumes", "remove named volumes declared in the stack file, and anonymous ones")
      .option("--rmi <which>", "remove images: local (built ones without an image: name) or all")
      .option("--remove-orphans", "remove containers of services no longer in the stack file")
      .option("-t, --timeout <seconds>", "shutdown timeout")
      .action(async (o: Record<string, unknown>, command: Command) => {
        const { runDown } = await import("../verbs/lifecycle.js");
        await runDown(contextFrom(command), o);
      });
  }

  if (adds(only, "start")) {
    program
      .command("start")
      .description("Start existing containers")
      .argument("[services...]")
      .action(async (services: string[], _o: unknown, command: Command) => {
        const { runStart } = await import("../verbs/lifecycle.js");
        await runStart(contextFrom(command), services);
      });
  }

  if (adds(only, "stop")) {
    program
      .command("stop")
      .description("Stop running containers without removing them")
      .argument("[services...]")
      .option("-t, --timeout <seconds>", "shutdown timeout")
      .action(async (services: string[], o: { timeout?: string }, command: Command) => {
        const { runStop } = await import("../verbs/lifecycle.js");
        await runStop(contextFrom(command), services, o);
      });
  }

  if (adds(only, "restart")) {
    program
      .command("restart")
      .description("Restart containers")
      .argument("[services...]")
      .option("-t, --timeout <seconds>", "shutdown timeout")
      .option("--no-deps", "do not restart dependencies")
      .action(async (services: string[], o: { timeout?: string; deps?: boolean }, command: Command) => {
        const { runRestart } = await import("../verbs/lifecycle.js");
        await runRestart(contextFrom(command), services, o);
      });
  }

  if (adds(only, "kill")) {
    program
      .command("kill")
      .description("Send a signal to running containers")
      .argument("[services...]")
      .option("-s, --signal <signal>", "signal to send", "SIGKILL")
      .option("--remove-orphans", "accepted for compatibility")
      .action(async (services: string[], o: { signal?: string }, command: Command) => {
        const { runKill } = await import("../verbs/lifecycle.js");
        await runKill(contextFrom(command), services, o);
      });
  }

  if (adds(only, "rm")) {
    program
      .command("rm")
      .description("Remove stopped containers")
      .argument("[services...]")
      .option("-f, --force", "do not ask (stack never asks)")
      .option("-s, --stop", "stop the containers first")
      .option("-v, --volumes", "remove anonymous volumes")
      .action(async (services: string[], o: { force?: boolean; stop?: boolean; volumes?: boolean }, command: Command) => {
        const { runRm } = await import("../verbs/lifecycle.js");
        await runRm(contextFrom(command), services, o);
      });
  }

  for (const [verb, pause] of [["pause", true], ["unpause", false]] as const) {
    if (!adds(only, verb)) continue;
    program
      .command(verb)
      .description(pause ? "Pause running containers (freeze their processes)" : "Unpause paused containers")
      .argument("[services...]")
      .action(async (services: string[], _o: unknown, command: Command) => {
        const { runPause } = await import("../verbs/lifecycle.js");
        await runPause(contextFrom(command), services, pause);
      });
  }

  if (adds(only, "wait")) {
    program
      .command("wait")
      .description("Block until containers exit; print their exit codes")
      .argument("[services...]")
      .option("--down-project", "run `down` once they have exited")
      .action(async (services: string[], o: { downProject?: boolean }, command: Command) => {
        const { runWait } = await import("../verbs/lifecycle.js");
        setExit(await runWait(contextFrom(command), services, o));
      });
  }

  if (adds(only, "ps")) {
    program
      .command("ps")
      .description("List the project's containers")
      .argument("[services...]")
      .option("-a, --all", "also stopped containers")
      .option("-q, --quiet", "only container IDs")
      .option("--services", "only service names")
      .option("--status <state>", "only containers in this state (repeatable)", collect, [])
      .option("--format <format>", "table or json", "table")
      .action(async (services: string[], o: Record<string, unknown>, command: Command) => {
        const { runPs } = await import("../verbs/observe.js");
        await runPs(contextFrom(command), services, o);
      });
  }

  if (adds(only, "logs")) {
    program
      .command("logs")
      .description("Show container output, merged in time order")
      .argument("[services...]")
      .option("-f, --follow", "follow new output (across restarts and recreates)")
      .option("-t, --timestamps", "show timestamps")
      .option("-n, --tail <lines>", "last lines per container, or all")
      .option("--since <time>", "from this time (RFC 3339, date, Unix seconds, or a duration like 10m)")
      .option("--until <time>", "until this time")
      .option("--no-color", "monochrome output")
      .option("--no-log-prefix", "no service prefix")
      .option("--index <n>", "only this replica")
      .action(async (services: string[], o: Record<string, unknown>, command: Command) => {
        const { runLogs } = await import("../verbs/observe.js");
        await runLogs(contextFrom(command), services, o);
      });
  }

  if (adds(only, "top")) {
    program
      .command("top")
      .description("Show the processes of running containers")
      .argument("[services...]")
      .action(async (services: string[], _o: unknown, command: Command) => {
        const { runTop } = await import("../verbs/observe.js");
        await runTop(contextFrom(command), services);
      });
  }

  if (adds(only, "stats")) {
    program
      .command("stats")
      .description("Live CPU, memory, PIDs and block I/O of running containers")
      .argument("[services...]")
      .option("--no-stream", "print one sample and exit")
      .option("--format <format>", "table or json", "table")
      .action(async (services: string[], o: { stream?: boolean; format?: string }, command: Command) => {
        const { runStats } = await import("../verbs/observe.js");
        await runStats(contextFrom(command), services, o);
      });
  }

  if (adds(only, "port")) {
    program
      .command("port")
      .description("Print the host address a container port is published on")
      .argument("<service>")
      .argument("<private_port>")
      .option("--protocol <protocol>", "tcp or udp")
      .option("--index <n>", "replica number", "1")
      .action(async (service: string, port: string, o: { protocol?: string; index?: string }, command: Command) => {
        const { runPort } = await import("../verbs/observe.js");
        await runPort(contextFrom(command), service, port, o);
      });
  }

  if (adds(only, "ls")) {
    program
      .command("ls")
      .description("List projects")
      .option("-a, --all", "also projects with no running container")
      .option("-q, --quiet", "only names")
      .option("--format <format>", "table or json", "table")
      .action(async (o: Record<string, unknown>, command: Command) => {
        const { runLs } = await import("../verbs/observe.js");
        await runLs(contextFrom(command), o);
      });
  }
}
