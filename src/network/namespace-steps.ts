// The in-namespace half of an attach (link-plan.ts's planAttach) as steps the
// perl helper can run over rtnetlink without an `ip` process: see
// LinuxNetworkHost's `inside` option. Pure: it only reads the command lines.
import type { NamespaceStep } from "../fs/perl-helper.js";

export type { NamespaceStep };

/** Runs a namespace's steps in order (the perl helper is one). */
export interface NamespaceConfigurator {
  configureNamespace(netnsPath: string, steps: NamespaceStep[]): Promise<void>;
}

const ifname = "([A-Za-z0-9_.-]{1,15})";
const ipv4 = "(\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3})";
const forms: Array<[RegExp, (m: RegExpExecArray) => NamespaceStep]> = [
  [new RegExp(`^link set ${ifname} up$`), (m) => ({ kind: "up", ifname: m[1]! })],
  [new RegExp(`^addr add ${ipv4}/(\\d{1,2}) dev ${ifname}$`), (m) => ({ kind: "addr", address: m[1]!, prefix: Number(m[2]), ifname: m[3]! })],
  [new RegExp(`^route add default via ${ipv4}$`), (m) => ({ kind: "route", gateway: m[1]! })],
];

/**
 * The steps of `ip` batch lines (without the leading `ip`), or undefined when
 * any line is not one of the forms the helper speaks (`link set IF up`,
 * `addr add A.B.C.D/P dev IF`, `route add default via A.B.C.D`): then the
 * whole group goes to ip, so nothing is run twice or half.
 */
export function namespaceSteps(lines: string[]): NamespaceStep[] | undefined {
  const steps: NamespaceStep[] = [];
  for (const line of lines) {
    let step: NamespaceStep | undefined;
    for (const [re, make] of forms) {
      const m = re.exec(line);
      if (m) {
        step = make(m);
        break;
      }
    }
    if (!step || !plausible(step)) return undefined;
    steps.push(step);
  }
  return steps;
}

/** Octets up to 255 and a prefix up to 32: anything else is ip's to reject, with its own words. */
function plausible(step: NamespaceStep): boolean {
  const octetsOk = (a: string) => a.split(".").every((o) => Number(o) <= 255);
  if (step.kind === "addr") return step.prefix <= 32 && octetsOk(step.address);
  if (step.kind === "route") return octetsOk(step.gateway);
  return true;
}
