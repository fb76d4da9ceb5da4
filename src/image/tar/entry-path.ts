// The path rules of layer extraction, pure: which names an archive entry may
// use, and what OCI whiteout names mean. The extractor applies them before it
// touches the disk; together with its check that no parent is a symlink, no
// entry can reach outside the layer folder.
import { InvalidInputError } from "../../errors.js";

const WHITEOUT_PREFIX = ".wh.";
const OPAQUE_MARKER = ".wh..wh..opq";
/** Other ".wh..wh." names are AUFS bookkeeping (hard-link dirs), not content. */
const AUFS_META_PREFIX = ".wh..wh.";

export function unsafeEntry(name: string, why: string): InvalidInputError {
  return new InvalidInputError(`refusing archive entry ${JSON.stringify(name)}: ${why}`, {
    hint: "the archive is malformed or hostile; nothing outside the layer folder was written. Rebuild the tarball with paths relative to its root",
  });
}

/**
 * The entry's path relative to the layer root, as "a/b/c" ("" is the root
 * itself). Leading "/" and "./" are dropped (like GNU tar and Docker, an
 * absolute name lands inside the layer); a ".." component, a NUL byte or an
 * empty name is refused.
 */
export function entryPath(name: string): string {
  if (name.includes("\0")) throw unsafeEntry(name, "the name contains a NUL byte");
  const parts: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") throw unsafeEntry(name, 'a ".." component could reach outside the layer');
    parts.push(part);
  }
  return parts.join("/");
}

/** The target of a hard link entry, relative to the layer root; it must name something inside the layer that is not the root. */
export function hardLinkTarget(name: string, linkname: string): string {
  let target: string;
  try {
    target = entryPath(linkname);
  } catch {
    throw unsafeEntry(name, `the hard link target ${JSON.stringify(linkname)} has a ".." component`);
  }
  if (target === "") throw unsafeEntry(name, "a hard link cannot point at the layer root");
  return target;
}

/** The parent directories of a relative path, outermost first: "a/b/c" → ["a", "a/b"]. */
export function parentPaths(path: string): string[] {
  const parts = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

export type WhiteoutKind =
  | { kind: "opaque"; dir: string }
  | { kind: "whiteout"; target: string }
  | { kind: "ignored" }
  | { kind: "none" };

/** What an OCI whiteout name means: ".wh.x" deletes "x" from lower layers; ".wh..wh..opq" hides the whole lower directory. */
export function whiteoutOf(path: string): WhiteoutKind {
  const slash = path.lastIndexOf("/");
  const dir = slash === -1 ? "" : path.slice(0, slash);
  const base = path.slice(slash + 1);
  if (dir.split("/").some((c) => c.startsWith(AUFS_META_PREFIX))) return { kind: "ignored" };
  if (!base.startsWith(WHITEOUT_PREFIX)) return { kind: "none" };
  if (base === OPAQUE_MARKER) return { kind: "opaque", dir };
  if (base.startsWith(AUFS_META_PREFIX)) return { kind: "ignored" };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === "" || name === "." || name === "..") throw unsafeEntry(path, `whiteout ${JSON.stringify(base)} names no file`);
  return { kind: "whiteout", target: dir === "" ? name : `${dir}/${name}` };
}
