// When to pull a service's image: the compose `pull_policy` values as one pure
// decision. The engine asks before `up`; `stack pull --policy` asks too.
import { InvalidInputError } from "../../errors.js";

export type PullDecisionPolicy = "always" | "missing" | "if_not_present" | "never" | "build" | "daily" | "weekly" | `every_${string}`;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DAY = UNIT_MS.d!;

/** "30m", "1h30m", "2d", "1w" → milliseconds (units ms, s, m, h, d, w). */
export function parseDuration(text: string, what: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (text === "" || matched !== text.length || total <= 0) {
    throw new InvalidInputError(`${what}: ${JSON.stringify(text)} is not a duration`, { hint: 'write a positive duration such as "12h", "1h30m", "2d" or "1w"' });
  }
  return total;
}

/** How often an interval policy pulls, in ms; undefined for the policies that are not intervals. Throws on an unknown policy. */
export function pullInterval(policy: string): number | undefined {
  switch (policy) {
    case "always":
    case "missing":
    case "if_not_present":
    case "never":
    case "build":
      return undefined;
    case "daily":
      return DAY;
    case "weekly":
      return 7 * DAY;
  }
  if (policy.startsWith("every_")) return parseDuration(policy.slice("every_".length), `pull_policy ${JSON.stringify(policy)}`);
  throw new InvalidInputError(`unknown pull_policy ${JSON.stringify(policy)}`, { hint: "use always, missing, never, build, daily, weekly or every_<duration> (e.g. every_12h)" });
}

/**
 * Whether to pull now. `localImage` is the local image of that name (any
 * value; only its presence counts), `lastPulledAt` when stack last pulled
 * that name. `never` and `build` never pull (the caller reports a missing
 * image or builds); an interval policy pulls when the image is missing, was
 * never pulled by stack (imported or built under that name), or its last
 * pull is at least one interval old.
 */
export function shouldPull(policy: PullDecisionPolicy | string, localImage: unknown, now: Date, lastPulledAt?: Date): boolean {
  const interval = pullInterval(policy);
  if (interval !== undefined) {
    if (localImage === undefined || lastPulledAt === undefined) return true;
    return now.getTime() - lastPulledAt.getTime() >= interval;
  }
  switch (policy) {
    case "always":
      return true;
    case "never":
    case "build":
      return false;
    default:
      return localImage === undefined;
  }
}
