// The real pipeline (validation, normalization and semantic checks included)
// on a fixture project that uses every loading feature at once.
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { loadStack } from "../../../src/schema/load.js";

const dir = fileURLToPath(new URL("../../fixtures/schema-load/full", import.meta.url));
const load = (over: { env?: Record<string, string>; profiles?: string[]; files?: string[]; readStdin?: () => string } = {}) =>
  loadStack({ files: over.files ?? [], cwd: dir, env: over.env ?? {}, profiles: over.profiles ?? [], envFiles: [], interpolate: true, readStdin: over.readStdin });

describe("loadStack (real stages)", () => {
  it("discovers, merges the override, resolves extends and include, interpolates and normalizes", async () => {
    const { model, warnings } = await load();
    expect(model.name).toBe("fullstack");
    expect(model.project_dir).toBe(dir);
    expect(model.files).toEqual([join(dir, "compose.yaml"), join(dir, "compose.override.yaml")]);
    expect(Object.keys(model.services)).toEqual(["db", "web"]);
    expect(Object.keys(model.disabled_services)).toEqual(["debug"]);
    const web = model.services.web!;
    expect(web.image).toBe("web:1.0");
    expect(web.ports.map((p) => [p.published, p.target])).toEqual([["9090", 80]]);
    expect(web.environment).toMatchObject({ MODE: "dev", EXTRA: "1", FROM_FILE: "yes" });
    expect(web.build?.context).toBe(join(dir, "common/app"));
    expect(web.restart).toBe("unless-stopped");
    expect(web.labels).toEqual({ team: "core" });
    expect(Object.keys(web.depends_on)).toEqual(["db"]);
    expect(model.services.db!.image).toBe("postgres:16");
    expect(Object.keys(model.volumes)).toEqual(["data"]);
    expect(warnings).toEqual([]);
  });

  it("the shell environment and profiles reach the model", async () => {
    const { model } = await load({ env: { TAG: "2.0", MODE: "prod", PROJECT: "other" }, profiles: ["debug"] });
    expect(model.name).toBe("other");
    expect(model.services.web!.image).toBe("web:2.0");
    expect(model.services.web!.environment.MODE).toBe("prod");
    expect(Object.keys(model.services)).toEqual(["db", "debug", "web"]);
  });

  it("reports validation problems of all files at once, with locations", async () => {
    const stdin = "services:\n  a:\n    image: x\n    restart: sometimes\n  b:\n    image: y\n    ports: ['80x:80']\n";
    const err = await load({ files: ["-"], readStdin: () => stdin }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).message).toBe("2 problems in the stack file");
    expect((err as InvalidInputError).problems.map((p) => p.split(": ")[0])).toEqual(["-:4:14", "-:7:13"]);
  });
});
