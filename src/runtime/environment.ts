// The container's environment: image ENV, then the service's environment
// (env_file values already merged under `environment` by the loader). A key
// set later replaces the earlier value in place; a `null` value unsets it.
// Like Docker, PATH gets a default when nobody set it, HOSTNAME names the
// container, and HOME comes from the user's passwd entry when unset.
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface EnvironmentInput {
  imageEnv: string[];
  serviceEnv: Record<string, string | null>;
  hostname: string;
  home: string;
  tty?: boolean;
}

export function containerEnv(input: EnvironmentInput): string[] {
  const env = new Map<string, string>();
  for (const entry of input.imageEnv) {
    const eq = entry.indexOf("=");
    if (eq <= 0) continue;
    env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  for (const key of Object.keys(input.serviceEnv)) {
    const value = input.serviceEnv[key];
    if (value === null || value === undefined) env.delete(key);
    else env.set(key, value);
  }
  const head: string[] = [];
  if (!env.has("PATH")) head.push(`PATH=${DEFAULT_PATH}`);
  if (!env.has("HOSTNAME")) head.push(`HOSTNAME=${input.hostname}`);
  if (input.tty && !env.has("TERM")) head.push("TERM=xterm");
  const tail = env.has("HOME") ? [] : [`HOME=${input.home}`];
  return [...head, ...[...env].map(([k, v]) => `${k}=${v}`), ...tail];
}
