import { describe, expect, it } from "vitest";
import { up, type EngineDeps } from "../../../src/engine/up.js";
import { down } from "../../../src/engine/down.js";
import type { ContainerPort, ContainerStatus, CreateRequest, ProgressEvent } from "../../../src/engine/ports.js";
import type { ProjectState } from "../../../src/engine/state.js";
import { dep, makeService, makeStack } from "../../helpers/model.js";
import type { HealthcheckModel, StackModel } from "../../../src/schema/model.js";

interface Script {
  /** Polls before the healthcheck reports healthy (or unhealthy with `unhealthy`). */
  healthyAfter?: number;
  unhealthy?: boolean;
  /** One-shot: exits with this code right after starting. */
  exitCode?: number;
}

class FakeContainers implements ContainerPort {
  log: string[] = [];
  private states = new Map<string, ContainerStatus & { polls: number }>();
  constructor(private scripts: Record<string, Script>) {}
  async create(req: CreateRequest) {
    this.log.push(`create ${req.name}`);
    this.states.set(req.name, { name: req.name, service: req.service.name, index: req.index, state: "created", polls: 0 });
    return { id: `id-${req.name}` };
  }
  async start(name: string) {
    this.log.push(`start ${name}`);
    const s = this.states.get(name)!;
    const script = this.scripts[s.service] ?? {};
    s.state = script.exitCode !== undefined ? "exited" : "running";
    s.exitCode = script.exitCode;
    if (script.healthyAfter !== undefined) s.health = "starting";
    s.polls = 0;
  }
  async stop(name: string) {
    this.log.push(`stop ${name}`);
    const s = this.states.get(name);
    if (s && s.state === "running") s.state = "exited";
  }
  async kill() {}
  async remove(name: string) {
    this.log.push(`remove ${name}`);
    this.states.delete(name);
  }
  async status(name: string): Promise<ContainerStatus> {
    const s = this.states.get(name);
    if (!s) return { name, service: "?", index: 0, state: "missing" };
    const script = this.scripts[s.service] ?? {};
    if (s.health === "starting" && script.healthyAfter !== undefined && ++s.polls > script.healthyAfter) {
      s.health = script.unhealthy ? "unhealthy" : "healthy";
      if (script.unhealthy) s.healthLog = ["connection refused"];
    }
    return { ...s };
  }
  async lastLogLines(name: string) {
    return [`${name}: last words`];
  }
}

const hc: HealthcheckModel = { test: ["CMD", "true"], interval: 1000, timeout: 1000, retries: 3, start_period: 0, start_interval: 5000, disable: false };

function harness(model: StackModel, scripts: Record<string, Script>) {
  let state: ProjectState = { version: 1, project: model.name, projectDir: "", files: [], containers: {} };
  let now = 0;
  const containers = new FakeContainers(scripts);
  const events: ProgressEvent[] = [];
  const warnings: string[] = [];
  const deps: EngineDeps & { volumes: { removeProjectVolumes: () => Promise<string[]> } } = {
    images: { ensure: async (s) => ({ ref: s.image ?? s.name, digest: `sha256:${s.image}` }) },
    networks: { ensure: async () => void containers.log.push("networks up"), removeUnused: async () => void containers.log.push("networks down") },
    volumes: { removeProjectVolumes: async () => ["demo_data"] },
    containers,
    state: { read: () => structuredClone(state), write: (s) => void (state = structuredClone(s)) },
    hash: (s, d) => `${s.image}|${d}|${JSON.stringify(s.environment)}`,
    progress: (e) => void events.push(e),
    warn: (w) => void warnings.push(w),
    clock: { now: () => now, sleep: async (ms) => void (now += ms) },
  };
  return { deps, containers, events, warnings, state: () => state };
}

const quick = () =>
  makeStack([
    makeService("app", { depends_on: { db: dep("service_healthy"), migrate: dep("service_completed_successfully") } }),
    makeService("migrate", { depends_on: { db: dep("service_healthy") } }),
    makeService("db", { healthcheck: hc }),
  ]);

describe("up", () => {
  it("gets an image that another service builds from that service's build, never from a registry", async () => {
    const model = makeStack([
      makeService("app", { image: "shop/app:dev", build: { context: "/srv/app" } as never }),
      makeService("worker", { image: "shop/app:dev" }),
      makeService("db", { image: "postgres:16" }),
    ]);
    const h = harness(model, {});
    const asked: string[] = [];
    h.deps.images = { ensure: async (s) => (asked.push(`${s.name}${s.build ? " (build)" : ""}`), { ref: s.image!, digest: "sha256:x" }) };
    await up(h.deps, model, { services: ["worker", "db"] });
    expect(asked.sort()).toEqual(["app (build)", "db"]); // worker's image came through app's build
  });

  it("lets the networks read the host ahead before it looks at images, never on a dry run", async () => {
    const model = makeStack([makeService("web")]);
    for (const dryRun of [false, true]) {
      const h = harness(model, {});
      const order: string[] = [];
      h.deps.networks.prepare = (m, services) => void order.push(`prepare ${m.name} ${services.join(",")}`);
      const ensure = h.deps.images.ensure;
      h.deps.images.ensure = async (s) => (order.push(`image ${s.name}`), ensure(s));
      await up(h.deps, model, { services: [], dryRun });
      expect(order).toEqual(dryRun ? ["image web"] : ["prepare demo web", "image web"]);
    }
  });

  it("waits for what networks.ensure left running before it returns, containers started or not; its failure fails up", async () => {
    const model = makeStack([makeService("web")]);
    for (const noStart of [false, true]) {
      const h = harness(model, {});
      let release!: () => void;
      const pending = new Promise<void>((r) => (release = r));
      h.deps.networks.ready = () => pending.then(() => void h.containers.log.push("firewall applied"));
      let returned = false;
      const running = up(h.deps, model, { services: [], noStart }).then(() => (returned = true));
      await new Promise((r) => setTimeout(r, 10));
      expect(returned).toBe(false);
      release();
      await running;
      expect(h.containers.log.at(-1)).toBe("firewall applied");
    }
    const h = harness(model, {});
    h.deps.networks.ready = () => Promise.reject(new Error("nft failed: Error: Could not process rule"));
    await expect(up(h.deps, model, { services: [], noStart: true })).rejects.toThrow(/Could not process rule/);
  });

  it("starts in dependency order, waiting for each condition", async () => {
    const h = harness(quick(), { db: { healthyAfter: 2 }, migrate: { exitCode: 0 } });
    await up(h.deps, quick(), { services: [] });
    const starts = h.containers.log.filter((l) => l.startsWith("start"));
    expect(starts).toEqual(["start demo-db-1", "start demo-migrate-1", "start demo-app-1"]);
    expect(h.events.some((e) => e.container === "demo-db-1" && e.phase === "healthy")).toBe(true);
    expect(Object.keys(h.state().containers).sort()).toEqual(["demo-app-1", "demo-db-1", "demo-migrate-1"]);
  });

  it("fails naming an unhealthy dependency with its health output and logs", async () => {
    const h = harness(quick(), { db: { healthyAfter: 1, unhealthy: true } });
    await expect(up(h.deps, quick(), { services: [] })).rejects.toThrow(/service "db" is unhealthy\n  last health check output: connection refused\n  last log lines of demo-db-1:\n    demo-db-1: last words/);
    expect(h.containers.log).not.toContain("start demo-app-1");
  });

  it("fails when a one-shot gate exits non-zero", async () => {
    const h = harness(quick(), { db: { healthyAfter: 0 }, migrate: { exitCode: 3 } });
    await expect(up(h.deps, quick(), { services: [] })).rejects.toThrow('service "migrate" didn\'t complete successfully: exit 3');
  });

  it("rejects service_healthy on a service without healthcheck", async () => {
    const m = makeStack([makeService("a", { depends_on: { b: dep("service_healthy") } }), makeService("b")]);
    const h = harness(m, {});
    await expect(up(h.deps, m, { services: [] })).rejects.toThrow('"b" has no healthcheck');
  });

  it("recreates only the changed service on the second up", async () => {
    const h = harness(quick(), { db: { healthyAfter: 0 }, migrate: { exitCode: 0 } });
    await up(h.deps, quick(), { services: [] });
    h.containers.log = [];
    const edited = quick();
    edited.services.app!.environment = { DEBUG: "1" };
    const r = await up(h.deps, edited, { services: [] });
    expect(r.plan.actions.map((a) => `${a.kind} ${a.name}`)).toEqual(["recreate demo-app-1", "keep demo-db-1", "start demo-migrate-1"]);
    expect(r.plan.actions[0]).toMatchObject({ changes: ["environment.DEBUG"] });
    expect(h.containers.log).toContain("create demo-app-1");
    expect(h.containers.log).not.toContain("create demo-db-1");
  });

  it("--dry-run changes nothing", async () => {
    const h = harness(quick(), {});
    const r = await up(h.deps, quick(), { services: [], dryRun: true });
    expect(r.plan.actions).toHaveLength(3);
    expect(h.containers.log).toEqual([]);
  });

  it("--wait treats a one-shot that exited 0 as done and times out clearly otherwise", async () => {
    const m = makeStack([makeService("job"), makeService("slow", { healthcheck: hc })]);
    const ok = harness(m, { job: { exitCode: 0 }, slow: { healthyAfter: 3 } });
    await up(ok.deps, m, { services: [], wait: true });
    const stuck = harness(m, { job: { exitCode: 0 }, slow: { healthyAfter: 1_000_000 } });
    await expect(up(stuck.deps, m, { services: [], wait: true, waitTimeoutMs: 1000 })).rejects.toThrow('timed out after 1000 ms waiting for service "slow" (running, starting)');
  });

  it("rejects a bad --scale", async () => {
    const h = harness(quick(), {});
    await expect(up(h.deps, quick(), { services: [], scale: { nope: 2 } })).rejects.toThrow('--scale: no such service: "nope"');
  });
});

describe("down", () => {
  it("stops dependents before their dependencies and removes networks and volumes", async () => {
    const h = harness(quick(), { db: { healthyAfter: 0 }, migrate: { exitCode: 0 } });
    await up(h.deps, quick(), { services: [] });
    h.containers.log = [];
    await down(h.deps, quick(), { volumes: true });
    expect(h.containers.log.filter((l) => l.startsWith("stop"))).toEqual(["stop demo-app-1", "stop demo-migrate-1", "stop demo-db-1"]);
    expect(h.containers.log.at(-1)).toBe("networks down");
    expect(h.state().containers).toEqual({});
    expect(h.events.some((e) => e.container === "demo_data" && e.phase === "removed")).toBe(true);
  });

  it("a stopped level's removal goes on while the next level stops; every removal is waited for, and a failure is reported", async () => {
    const h = harness(quick(), { db: { healthyAfter: 0 }, migrate: { exitCode: 0 } });
    await up(h.deps, quick(), { services: [] });
    h.containers.log = [];
    let releaseApp!: () => void;
    const appGone = new Promise<void>((r) => (releaseApp = r));
    const remove = h.containers.remove.bind(h.containers);
    h.containers.remove = async (name: string) => {
      if (name === "demo-app-1") {
        await appGone; // a slow removal (umount, runtime state)
        h.containers.log.push("app removal ends");
      }
      return remove(name);
    };
    const stopDb = h.containers.stop.bind(h.containers);
    h.containers.stop = async (name: string) => {
      if (name === "demo-db-1") setTimeout(releaseApp, 10); // the app's removal ends only after the db's stop began
      return stopDb(name);
    };
    await down(h.deps, quick(), {});
    const log = h.containers.log;
    expect(log.indexOf("stop demo-db-1")).toBeLessThan(log.indexOf("app removal ends"));
    expect(log.indexOf("stop demo-app-1")).toBeLessThan(log.indexOf("stop demo-migrate-1"));
    expect(log.at(-1)).toBe("networks down");
    expect(h.state().containers).toEqual({});

    const f = harness(quick(), { db: { healthyAfter: 0 }, migrate: { exitCode: 0 } });
    await up(f.deps, quick(), { services: [] });
    f.containers.remove = async (name: string) => {
      if (name === "demo-migrate-1") throw new Error("umount failed: busy");
    };
    await expect(down(f.deps, quick(), {})).rejects.toThrow("umount failed: busy");
    expect(f.containers.log).toContain("stop demo-db-1"); // the later level was still stopped
    expect(f.containers.log).not.toContain("networks down");
  });

  it("a removal that fails while the next level takes its time to stop is reported, not left unhandled", async () => {
    const h = harness(quick(), { db: { healthyAfter: 0 }, migrate: { exitCode: 0 } });
    await up(h.deps, quick(), { services: [] });
    const unhandled: unknown[] = [];
    const note = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", note);
    try {
      h.containers.remove = async (name: string) => {
        if (name === "demo-app-1") throw new Error("the runtime's state is gone");
      };
      const stop = h.containers.stop.bind(h.containers);
      h.containers.stop = async (name: string) => {
        if (name === "demo-db-1") await new Promise((r) => setTimeout(r, 50)); // a stop grace period
        return stop(name);
      };
      await expect(down(h.deps, quick(), {})).rejects.toThrow("the runtime's state is gone");
      await new Promise((r) => setTimeout(r, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", note);
    }
  });
});
