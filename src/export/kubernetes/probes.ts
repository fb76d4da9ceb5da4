// Healthcheck → probe. The check becomes an exec probe (the same command in
// the container), except when it is a plain HTTP or TCP check of the
// container itself, which Kubernetes can do without a curl/wget/nc inside the
// image:
//   curl -f [-s] [-S] [-L] [-o /dev/null] http://localhost:PORT/path   → httpGet
//   wget [-q] --spider http://localhost:PORT/path  (or -O- / -O /dev/null) → httpGet
//   nc -z [-v] [-w N] localhost PORT                                    → tcpSocket
// A trailing `|| exit 1` is allowed. Anything with other shell syntax stays exec.
import type { IProbe } from "kubernetes-models/v1/Probe";
import type { HealthcheckModel } from "../../schema/model.js";
import { secondsFrom } from "./quantities.js";
import { splitShellWords } from "./shell-words.js";

type ProbeAction = Pick<IProbe, "exec" | "httpGet" | "tcpSocket">;

const localHosts = ["localhost", "127.0.0.1", "::1", "0.0.0.0"];
const urlPattern = /^(?:(https?):\/\/)?(localhost|127\.0\.0\.1|\[::1\]|0\.0\.0\.0)(?::([0-9]{1,5}))?(\/\S*)?$/;

function httpAction(url: string): ProbeAction | undefined {
  const m = urlPattern.exec(url);
  if (!m) return undefined;
  const https = m[1] === "https";
  const port = m[3] ? Number(m[3]) : https ? 443 : 80;
  if (port < 1 || port > 65535) return undefined;
  return { httpGet: { path: m[4] ?? "/", port, scheme: https ? "HTTPS" : "HTTP" } };
}

/** Options of one tool: which flags are allowed, which take a value, which are required. */
interface ToolGrammar {
  flags: string[];
  withValue: Record<string, string[] | "number">;
  required: string[][];
}

const curl: ToolGrammar = {
  flags: ["-f", "--fail", "--fail-with-body", "-s", "--silent", "-S", "--show-error", "-L", "--location"],
  withValue: { "-o": ["/dev/null"], "--output": ["/dev/null"], "-m": "number", "--max-time": "number" },
  required: [["-f", "--fail", "--fail-with-body"]],
};
const wget: ToolGrammar = {
  flags: ["-q", "--quiet", "--spider", "-nv", "--no-verbose", "-O-"],
  withValue: { "-O": ["-", "/dev/null"], "-T": "number", "--timeout": "number", "--tries": "number", "-t": "number" },
  required: [],
};
const nc: ToolGrammar = {
  flags: ["-z", "-v"],
  withValue: { "-w": "number" },
  required: [["-z"]],
};

/** Parses `tool [flags] operands`; short flags may be combined (-fsS); `--x=v` is accepted. Undefined when a word is not in the grammar. */
function parseTool(words: string[], grammar: ToolGrammar): string[] | undefined {
  const seen = new Set<string>();
  const operands: string[] = [];
  const valueOk = (flag: string, value: string | undefined): boolean => {
    const allowed = grammar.withValue[flag];
    if (value === undefined || allowed === undefined) return false;
    return allowed === "number" ? /^[0-9]+$/.test(value) : allowed.includes(value);
  };
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (!w.startsWith("-") || w === "-") {
      operands.push(w);
    } else if (grammar.flags.includes(w)) {
      seen.add(w);
    } else if (w.startsWith("--") && w.includes("=")) {
      const [flag, value] = [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)];
      if (!valueOk(flag, value)) return undefined;
    } else if (grammar.withValue[w] !== undefined) {
      if (!valueOk(w, words[i + 1])) return undefined;
      i++;
    } else if (/^-[A-Za-z]{2,}$/.test(w) || /^-[A-Za-z]O-$/.test(w)) {
      // Combined short flags: every letter a known flag (`-qO-` ends with -O-).
      const letters = w.endsWith("O-") ? w.slice(1, -2) : w.slice(1);
      for (const l of letters) {
        if (!grammar.flags.includes(`-${l}`)) return undefined;
        seen.add(`-${l}`);
      }
    } else {
      return undefined;
    }
  }
  for (const group of grammar.required) if (!group.some((f) => seen.has(f))) return undefined;
  return operands;
}

function toolName(word: string | undefined): string | undefined {
  return word?.split("/").pop();
}

/** The Kubernetes-native form of a check, when the check is a plain curl/wget/nc of the container itself. */
export function nativeProbeAction(argv: string[]): ProbeAction | undefined {
  const tool = toolName(argv[0]);
  if (tool === "curl" || tool === "wget") {
    const operands = parseTool(argv, tool === "curl" ? curl : wget);
    if (!operands || operands.length !== 1) return undefined;
    return httpAction(operands[0]!);
  }
  if (tool === "nc") {
    const operands = parseTool(argv, nc);
    if (!operands || operands.length !== 2 || !localHosts.includes(operands[0]!)) return undefined;
    const port = Number(operands[1]);
    if (!/^[0-9]{1,5}$/.test(operands[1]!) || port < 1 || port > 65535) return undefined;
    return { tcpSocket: { port } };
  }
  return undefined;
}

function shellArgv(script: string, path: string): string[] | undefined {
  const body = script.replace(/\s*\|\|\s*exit\s+1\s*$/, "");
  if (/[|&;<>()$`\n*?[\]{}~]/.test(body)) return undefined;
  return splitShellWords(body, path);
}

/** The probe of a healthcheck, or undefined when the check is disabled. `path` names the service in errors. */
export function probeFor(health: HealthcheckModel | undefined, path: string): IProbe | undefined {
  if (!health || health.disable || health.test.length === 0 || health.test[0] === "NONE") return undefined;
  const [kind, ...rest] = health.test;
  const exec: string[] = kind === "CMD-SHELL" ? ["/bin/sh", "-c", rest.join(" ")] : rest;
  const argv = kind === "CMD-SHELL" ? shellArgv(rest.join(" "), `${path}.healthcheck.test`) : rest;
  const action: ProbeAction = (argv && nativeProbeAction(argv)) ?? { exec: { command: exec } };
  return {
    ...action,
    initialDelaySeconds: Math.floor(health.start_period / 1000),
    periodSeconds: secondsFrom(health.interval, 1),
    timeoutSeconds: secondsFrom(health.timeout, 1),
    failureThreshold: Math.max(1, health.retries),
  };
}
