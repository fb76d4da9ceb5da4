// Lifecycle hooks (Compose 2.30's `post_start` and `pre_stop`): commands run
// in a service's container right after stack started it and right before
// stack stops it, one after the other in the order written. Each runs as
// `stack exec` would: as the service's user, in its working directory, with
// its environment, unless the hook sets its own (`privileged`: every
// capability). Restarts by a restart policy run none (Compose's don't
// either), and neither do one-off `run` containers.
import { InvalidInputError, SystemError } from "../errors.js";
import { splitShellWords } from "../export/kubernetes/shell-words.js";
import type { ExecOptions } from "../runtime/index.js";
import type { LifecycleHookModel, ServiceModel } from "../schema/model.js";

export type HookExec = (argv: string[], options: ExecOptions) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

/** What of a failed hook's output an error shows: its end, where the reason usually is. */
const SHOWN_OUTPUT = 800;

/**
 * Runs the service's hooks of one kind in the container `container`. The
 * first that fails (exits non-zero, or cannot run) ends the run: its error
 * is returned, naming the hook and showing the end of its output;
 * undefined when every hook succeeded.
 */
export async function runLifecycleHooks(service: Pick<ServiceModel, "name" | "post_start" | "pre_stop">, which: "post_start" | "pre_stop", container: string, exec: HookExec): Promise<SystemError | InvalidInputError | undefined> {
  const hooks = service[which] ?? [];
  for (let i = 0; i < hooks.length; i++) {
    const hook = hooks[i]!;
    const path = `services.${service.name}.${which}[${i}]`;
    const hint = `the hook runs in ${container} as \`stack exec ${service.name} …\` would; try it that way, or fix ${path}`;
    let argv: string[];
    try {
      argv = typeof hook.command === "string" ? splitShellWords(hook.command, `${path}.command`) : hook.command;
    } catch (e) {
      return e as InvalidInputError; // an unterminated quote: it says where, and how to mend it
    }
    if (argv.length === 0) return new InvalidInputError(`${path}: the command is empty`, { hint: `give ${path}.command a program to run` });
    let result: Awaited<ReturnType<HookExec>>;
    try {
      result = await exec(argv, hookOptions(hook));
    } catch (e) {
      return new SystemError(`${path}: could not run in ${container}: ${(e as Error).message}`, { hint, cause: e });
    }
    if (result.exitCode !== 0) {
      const output = `${result.stdout}${result.stderr}`.trimEnd();
      const shown = output.length > SHOWN_OUTPUT ? `…${output.slice(-SHOWN_OUTPUT)}` : output;
      const how = result.exitCode < 0 ? "did not finish" : `exited with ${result.exitCode}`;
      return new SystemError(`${path}: ${JSON.stringify(argv.join(" "))} ${how} in ${container}${shown ? `; its output:\n${shown}` : ""}`, { hint });
    }
  }
  return undefined;
}

function hookOptions(hook: LifecycleHookModel): ExecOptions {
  return {
    ...(hook.user !== undefined ? { user: hook.user } : {}),
    ...(hook.working_dir !== undefined ? { cwd: hook.working_dir } : {}),
    ...(Object.keys(hook.environment).length > 0 ? { env: hook.environment } : {}),
    ...(hook.privileged ? { privileged: true } : {}),
  };
}
