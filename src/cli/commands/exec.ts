// `stack exec` and `stack run`: flags as in `docker compose`; everything after
// the service name belongs to the command (`stack exec db psql -U app`).
import type { Command } from "commander";
import { contextFrom } from "../context.js";
import { adds } from "./only.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerExec(program: Command, only?: string): void {
  if (adds(only, "exec")) {
    program
      .command("exec")
      .description("Run a command in a running service container")
      .argument("<service>")
      .argument("[command...]")
      .option("-d, --detach", "run the command in the background")
      .option("-T, --no-TTY", "no pseudo-terminal (default: one when stdin and stdout are terminals)")
      .option("-i, --interactive", "keep stdin open (always on; accepted for compatibility)")
      .option("-t, --tty", "accepted for compatibility (a terminal is used when there is one)")
      .option("-u, --user <user>", "run as this user")
      .option("-w, --workdir <dir>", "working directory")
      .option("-e, --env <KEY=VAL>", "environment variable (repeatable)", collect, [])
      .option("--index <n>", "replica number", "1")
      .option("--privileged", "give the command every capability")
      .passThroughOptions()
      .action(async (service: string, argv: string[], o: Record<string, unknown>, command: Command) => {
        const { runExec } = await import("../verbs/exec.js");
        const code = await runExec(contextFrom(command), service, argv, { ...o, tty: o.TTY !== false });
        if (code !== 0) process.exitCode = code;
      });
  }

  if (adds(only, "run")) {
    program
      .command("run")
      .description("Run a one-off command in a new container of a service")
      .argument("<service>")
      .argument("[command...]")
      .option("--rm", "remove the container when it exits")
      .option("-d, --detach", "run in the background and print the container name")
      .option("--name <name>", "container name")
      .option("--entrypoint <entrypoint>", "override the image's entrypoint")
      .option("-e, --env <KEY=VAL>", "environment variable (repeatable)", collect, [])
      .option("-v, --volume <mount>", "bind mount or volume SRC:DST[:ro] (repeatable)", collect, [])
      .option("-p, --publish <port>", "publish a port [[IP:]HOST:]CONTAINER (repeatable)", collect, [])
      .option("-P, --service-ports", "publish the service's ports")
      .option("--no-deps", "do not start the services it depends on")
      .option("-u, --user <user>", "run as this user")
      .option("-w, --workdir <dir>", "working directory")
      .option("-T, --no-TTY", "no pseudo-terminal")
      .option("-i, --interactive", "keep stdin open (always on; accepted for compatibility)")
      .option("-l, --label <KEY=VAL>", "accepted for compatibility (repeatable)", collect, [])
      .option("--build", "build the image first")
      .passThroughOptions()
      .action(async (service: string, argv: string[], o: Record<string, unknown>, command: Command) => {
        const { runRun } = await import("../verbs/exec.js");
        const code = await runRun(contextFrom(command), service, argv, { ...o, tty: o.TTY !== false });
        if (code !== 0) process.exitCode = code;
      });
  }
}
