// runLifecycleHooks with a fake exec: order, what each hook is run with, and
// the error of the first that fails. (End to end: test/integration/engine/lifecycle-hooks.test.ts.)
import { describe, expect, it } from "vitest";
import { runLifecycleHooks, type HookExec } from "../../../src/engine/lifecycle-hooks.js";
import type { ExecOptions } from "../../../src/runtime/index.js";
import type { LifecycleHookModel } from "../../../src/schema/model.js";

function recorder(results: Array<{ exitCode: number; stdout?: string; stderr?: string } | Error>) {
  const calls: Array<{ argv: string[]; options: ExecOptions }> = [];
  const exec: HookExec = async (argv, options) => {
    calls.push({ argv, options });
    const r = results[calls.length - 1] ?? { exitCode: 0 };
    if (r instanceof Error) throw r;
    return { exitCode: r.exitCode, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  return { calls, exec };
}

const hook = (over: Partial<LifecycleHookModel>): LifecycleHookModel => ({ command: ["true"], environment: {}, ...over });

describe("runLifecycleHooks", () => {
  it("runs every hook in order, a string split into words, with only the options the hook sets", async () => {
    const { calls, exec } = recorder([]);
    const service = {
      name: "web",
      post_start: [
        hook({ command: `chown -R "1000:1000" /data\\ dir`, user: "root" }),
        hook({ command: ["sh", "-c", "echo $X"], working_dir: "/w", environment: { X: "1" }, privileged: true }),
      ],
    };
    expect(await runLifecycleHooks(service, "post_start", "p-web-1", exec)).toBeUndefined();
    expect(calls).toEqual([
      { argv: ["chown", "-R", "1000:1000", "/data dir"], options: { user: "root" } },
      { argv: ["sh", "-c", "echo $X"], options: { cwd: "/w", env: { X: "1" }, privileged: true } },
    ]);
  });

  it("runs nothing when the service has no hooks of that kind", async () => {
    const { calls, exec } = recorder([]);
    expect(await runLifecycleHooks({ name: "web", post_start: [hook({})] }, "pre_stop", "p-web-1", exec)).toBeUndefined();
    expect(calls).toEqual([]);
  });

  it("stops at the first hook that fails and names it, with the end of its output", async () => {
    const { calls, exec } = recorder([{ exitCode: 0 }, { exitCode: 2, stdout: "working\n", stderr: `${"x".repeat(2000)}the reason\n` }]);
    const err = await runLifecycleHooks({ name: "web", pre_stop: [hook({}), hook({ command: "flush --all" }), hook({})] }, "pre_stop", "p-web-1", exec);
    expect(calls).toHaveLength(2);
    expect(err!.message).toMatch(/^services\.web\.pre_stop\[1\]: "flush --all" exited with 2 in p-web-1; its output:\n…x+the reason$/);
    expect(err!.message.length).toBeLessThan(1000);
    expect(err!.hint).toBe("the hook runs in p-web-1 as `stack exec web …` would; try it that way, or fix services.web.pre_stop[1]");
  });

  it("says so when a hook did not finish, could not run, or has nothing to run", async () => {
    expect((await runLifecycleHooks({ name: "a", post_start: [hook({})] }, "post_start", "c", recorder([{ exitCode: -1 }]).exec))!.message).toBe('services.a.post_start[0]: "true" did not finish in c');
    expect((await runLifecycleHooks({ name: "a", post_start: [hook({})] }, "post_start", "c", recorder([new Error("runc: no such container")]).exec))!.message).toBe("services.a.post_start[0]: could not run in c: runc: no such container");
    expect((await runLifecycleHooks({ name: "a", post_start: [hook({ command: "   " })] }, "post_start", "c", recorder([]).exec))!.message).toBe("services.a.post_start[0]: the command is empty");
    expect((await runLifecycleHooks({ name: "a", post_start: [hook({ command: "echo 'open" })] }, "post_start", "c", recorder([]).exec))!.message).toBe(`services.a.post_start[0].command: "echo 'open" has an unterminated single quote`);
  });
});
