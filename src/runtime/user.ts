// Resolves a `user:` value ("name", "uid", "uid:gid", "name:group", …)
// against the image's /etc/passwd and /etc/group, the way Docker does:
// a numeric uid need not exist (gid 0, home "/"); a name must; supplementary
// groups are the groups that list the user as a member, plus group_add.
import { InvalidInputError } from "../errors.js";

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
  /** The user name when the passwd file knows the uid. */
  name?: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 6 && /^\d+$/.test(f[2]!) && /^\d+$/.test(f[3]!))
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] || "/" }));
}

export function parseGroup(text: string): GroupEntry[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "" && !l.startsWith("#"))
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[2]!))
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? "").split(",").filter((m) => m !== "") }));
}

const MAX_ID = 4294967294;

function numericId(text: string, what: string, path: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > MAX_ID) {
    throw new InvalidInputError(`${path}: ${what} ${JSON.stringify(text)} is out of range`, { hint: `use a number between 0 and ${MAX_ID}` });
  }
  return n;
}

export interface UserFiles {
  /** Contents of the image's /etc/passwd ("" when it has none). */
  passwd: string;
  /** Contents of the image's /etc/group ("" when it has none). */
  group: string;
}

/**
 * `spec` is the service's `user` (or the image's User when the service has
 * none; "" or undefined = root). `path` names the setting in errors.
 */
export function resolveUser(spec: string | undefined, files: UserFiles, groupAdd: string[] = [], path = "user"): ResolvedUser {
  const text = (spec ?? "").trim();
  const users = parsePasswd(files.passwd);
  const groups = parseGroup(files.group);
  const [userPart = "", groupPart] = text === "" ? ["0"] : text.split(":", 2);
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (userPart === "" ) {
    throw new InvalidInputError(`${path}: ${JSON.stringify(text)} has no user before ":"`, { hint: 'write "name", "uid", "uid:gid" or "name:group"' });
  }
  if (/^\d+$/.test(userPart)) {
    uid = numericId(userPart, "uid", path);
    entry = users.find((u) => u.uid === uid);
  } else {
    entry = users.find((u) => u.name === userPart);
    if (!entry) {
      throw new InvalidInputError(`${path}: unable to find user ${JSON.stringify(userPart)}: no matching entry in the image's /etc/passwd`, {
        hint: "use a numeric uid, or create the user in the image (e.g. `adduser` in its Dockerfile)",
      });
    }
    uid = entry.uid;
  }
  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined) gid = resolveGroup(groupPart, groups, path);
  const extra = new Set<number>();
  if (entry) for (const g of groups) if (g.members.includes(entry.name)) extra.add(g.gid);
  for (const g of groupAdd) extra.add(resolveGroup(g, groups, "group_add"));
  extra.delete(gid);
  return {
    uid,
    gid,
    additionalGids: [...extra].sort((a, b) => a - b),
    home: entry?.home ?? "/",
    ...(entry ? { name: entry.name } : {}),
  };
}

function resolveGroup(text: string, groups: GroupEntry[], path: string): number {
  if (/^\d+$/.test(text)) return numericId(text, "gid", path);
  const g = groups.find((e) => e.name === text);
  if (!g) {
    throw new InvalidInputError(`${path}: unable to find group ${JSON.stringify(text)}: no matching entry in the image's /etc/group`, {
      hint: "use a numeric gid, or create the group in the image",
    });
  }
  return g.gid;
}
