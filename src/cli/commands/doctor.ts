// `stack doctor [--fix] [--format text|json]`: checks the host stack runs on
// and the leftovers of earlier crashes. The checks load lazily.
import type { Command } from "commander";
import { InvalidInputError } from "../../errors.js";
import { contextFrom } from "../context.js";

interface DoctorFlags {
  fix?: boolean;
  format: string;
}

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("Check the host (root, kernel, overlayfs, cgroups, runtime, network tools, disk, DNS port) and find leftovers of crashes")
    .option("--fix", "remove the leftovers this state dir provably abandoned")
    .option("--format <format>", "text or json (an array of {name, status, detail, fix})", "text")
    .action(async (opts: DoctorFlags, command: Command) => {
      if (opts.format !== "text" && opts.format !== "json") {
        throw new InvalidInputError(`--format: ${JSON.stringify(opts.format)} is not a doctor format`, { hint: "use text or json" });
      }
      const ctx = contextFrom(command);
      const { runDoctor, renderJson, renderText } = await import("../../doctor/index.js");
      const report = await runDoctor({
        stateDir: ctx.stateDir,
        runDir: ctx.runDir,
        fix: !!opts.fix,
        ...(ctx.env.STACK_RUNTIME ? { runtimeOverride: ctx.env.STACK_RUNTIME } : {}),
      });
      if (opts.format === "json") {
        if (report.fixes) for (const line of [...report.fixes.done.map((d) => `fixed: ${d}`), ...report.fixes.failed.map((f) => `not fixed: ${f}`)]) ctx.stderr.write(`${line}\n`);
        ctx.stdout.write(renderJson(report.results));
      } else {
        ctx.stdout.write(renderText(report.results, report.fixes));
      }
      const failed = report.results.filter((r) => r.status === "fail");
      if (failed.length > 0) {
        const { SystemError } = await import("../../errors.js");
        throw new SystemError(`${failed.length} required check${failed.length > 1 ? "s" : ""} failed: ${failed.map((r) => r.name).join(", ")}`, { hint: "apply the fix shown for each, then run `stack doctor` again" });
      }
    });
}
