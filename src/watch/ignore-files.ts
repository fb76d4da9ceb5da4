// Reads each watched service's build-context ignore file (the first of
// `<Dockerfile>.dockerignore`, `.dockerignore` that exists, as a build uses).
import { readFileSync } from "node:fs";
import { SystemError } from "../errors.js";
import { ignoreFileCandidates } from "../image/dockerignore.js";
import type { StackModel } from "../schema/model.js";
import { localBuildContext, type IgnoreFileText } from "./rules.js";

export function readBuildIgnoreFiles(model: StackModel, services: string[]): Record<string, IgnoreFileText | undefined> {
  const out: Record<string, IgnoreFileText | undefined> = {};
  for (const name of services) {
    const service = model.services[name];
    if (service === undefined) continue;
    const context = localBuildContext(service);
    if (context === undefined) continue;
    for (const candidate of ignoreFileCandidates(context, service.build?.dockerfile ?? "Dockerfile")) {
      try {
        out[name] = { path: candidate, text: readFileSync(candidate, "utf8") };
        break;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") continue;
        throw new SystemError(`cannot read ${candidate}: ${(e as Error).message}`, { cause: e, hint: "make the ignore file readable, or remove it" });
      }
    }
  }
  return out;
}
