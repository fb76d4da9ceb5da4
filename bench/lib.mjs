// What every bench script shares: numeric `--name N` options and medians.

/** A reader of numeric options: `numberOptions(argv)("--runs", 5)`. */
export function numberOptions(args) {
  return (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The q-quantile (0..1) with linear interpolation: 0.5 is the median, 0.9 the p90. */
export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.ceil(i)] - s[lo]) * (i - lo);
}

/**
 * A Docker engine for the peer comparisons (asked for with STACK_BENCH_DOCKER=1):
 * installs Debian's docker.io (and docker-compose when `compose` is set) when
 * missing, starts dockerd when none answers (through systemctl where systemd
 * runs, else as a child of this bench, stopped again by `stop()`), and waits
 * until it answers. `docker` is Debian's client, whatever else is on PATH.
 */
export async function ensureDocker({ compose = false } = {}) {
  const { execFileSync, spawn, spawnSync } = await import("node:child_process");
  const { existsSync, openSync } = await import("node:fs");
  const packages = ["docker.io", ...(compose ? ["docker-compose"] : [])];
  if (!existsSync("/usr/sbin/dockerd") || (compose && !existsSync("/usr/bin/docker-compose"))) {
    execFileSync("apt-get", ["install", "-y", "-q", ...packages], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  }
  const docker = "/usr/bin/docker";
  const answers = () => spawnSync(docker, ["info"], { stdio: "ignore" }).status === 0;
  let child;
  if (!answers() && spawnSync("systemctl", ["start", "docker"], { stdio: "ignore" }).status !== 0) {
    const log = openSync("/tmp/stack-bench-dockerd.log", "a");
    child = spawn("/usr/sbin/dockerd", [], { stdio: ["ignore", log, log], detached: true });
  }
  for (let i = 0; i < 150 && !answers(); i++) await new Promise((r) => setTimeout(r, 200));
  if (!answers()) throw new Error("dockerd did not answer within 30 s (see /tmp/stack-bench-dockerd.log)");
  return {
    docker,
    stop: async () => {
      if (!child) return;
      process.kill(child.pid, "SIGTERM");
      for (let i = 0; i < 100 && spawnSync("kill", ["-0", String(child.pid)]).status === 0; i++) await new Promise((r) => setTimeout(r, 100));
    },
  };
}
