// COPY and ADD, described then written: the sources (context, stage, image,
// heredoc, URL, local archive) are expanded into the entries of a new layer
// by Docker's rules, and the entries are hashed for the cache key (path,
// type, mode, owner, link target, content — not mtime). Writing the layer
// is a separate step, done only when the cache misses.
import { createHash } from "node:crypto";
import { closeSync, constants, openSync, readFileSync, readlinkSync, readSync, type Stats } from "node:fs";
import { posix } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { InvalidInputError, NotFoundError } from "../../errors.js";
import { compileIgnore, patternToRegExp } from "../dockerignore.js";
import type { Heredoc } from "../dockerfile/heredoc.js";
import type { LayeredFs } from "./layered-fs.js";
import { layerTar, type LayerEntry } from "./layer-tar.js";
import { isUrl } from "./url-source.js";
import type { SourceFs } from "./source-fs.js";

export interface Owner {
  uid: number;
  gid: number;
}

export interface CopyInput {
  kind: "copy" | "add";
  sources: string[];
  dest: string;
  /** The stage's WORKDIR ("/" when none). */
  workdir: string;
  heredocs: Heredoc[];
  chown?: Owner;
  chmod?: number;
  exclude: string[];
  parents: boolean;
  from: SourceFs;
  /** Context files belong to root in the image; stage/image files keep their owner. */
  fromContext: boolean;
  /** The image being built: existing directories keep their metadata, symlinked folders are followed. */
  image: LayeredFs;
  /** ADD: unpack local tar archives (not with --from, as in Docker). */
  unpackArchives: boolean;
  /** ADD of a URL: the fetched files, by source text. */
  downloads?: Map<string, { content: Buffer; name: string; mtime: Date }>;
  /** "Dockerfile:7" for messages. */
  where: string;
}

export interface CopyPlan {
  entries: LayerEntry[];
  /** Local archives to unpack at a folder (ADD). */
  archives: Array<{ hostPath: string; dest: string }>;
  /** sha256 over what the step reads. */
  digest: string;
}

const GLOB = /[*?[]/;
const { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFIFO, S_IFCHR, S_IFBLK } = constants;
/** Permission bits in octal by value, as the digest lines write them (a number-to-octal conversion per entry costs more than its line). */
const OCTAL: string[] = [];
/** Content read for a digest is kept for the layer for files up to KEEP_FILE bytes, KEEP_TOTAL in all. */
const KEEP_FILE = 256 << 10;
const KEEP_TOTAL = 64 << 20;


/** `--chmod=755` (octal only). */
export function parseChmod(value: string, where: string): number {
  if (!/^[0-7]{1,4}$/.test(value)) throw new InvalidInputError(`${where}: --chmod=${value} is not an octal mode`, { hint: "write it in octal, e.g. --chmod=755" });
  return parseInt(value, 8);
}

/** `--chown=user:group` resolved through the image's /etc/passwd and /etc/group. A missing group takes the uid's number, as Docker does. */
export function parseChown(value: string, image: LayeredFs, where: string): Owner {
  const [user = "", group] = value.split(":");
  const read = (file: string): string[][] => {
    const e = image.lstat(image.resolve(file));
    if (!e || !e.stat.isFile()) return [];
    return readFileSync(e.hostPath, "utf8").split("\n").map((l) => l.split(":"));
  };
  const lookup = (name: string, file: string, what: string): number => {
    if (/^\d+$/.test(name)) return Number(name);
    const row = read(file).find((r) => r[0] === name);
    if (!row) throw new InvalidInputError(`${where}: --chown=${value}: unknown ${what} ${JSON.stringify(name)} (not in the image's ${file})`, { hint: `use a numeric id or add the ${what} first` });
    return Number(row[2]);
  };
  if (user === "") throw new InvalidInputError(`${where}: --chown=${value} names no user`, { hint: "write --chown=USER[:GROUP]" });
  const uid = lookup(user, "/etc/passwd", "user");
  const gid = group === undefined || group === "" ? uid : lookup(group, "/etc/group", "group");
  return { uid, gid };
}

function isArchive(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(512);
    const n = readSync(fd, head, 0, 512, 0);
    if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true;
    return n >= 262 && head.subarray(257, 262).toString("latin1") === "ustar";
  } finally {
    closeSync(fd);
  }
}

/** Expands a glob source against the source fs: every matching path, sorted. */
function expandGlob(fs: SourceFs, pattern: string): string[] {
  const parts = posix.normalize(`/${pattern}`).split("/").filter(Boolean);
  let current = ["/"];
  for (const part of parts) {
    const next: string[] = [];
    if (!GLOB.test(part)) {
      for (const dir of current) if (fs.lstat(posix.join(dir, part))) next.push(posix.join(dir, part));
    } else {
      const re = patternToRegExp(part);
      for (const dir of current) {
        const st = fs.lstat(dir);
        if (!st?.stat.isDirectory()) continue;
        for (const name of fs.readdir(dir)) if (re.test(name)) next.push(posix.join(dir, name));
      }
    }
    current = next;
  }
  return current.sort();
}

export function planCopy(input: CopyInput): CopyPlan {
  const { where, image } = input;
  const hash = createHash("sha256");
  const entries: LayerEntry[] = [];
  const archives: CopyPlan["archives"] = [];
  const emitted = new Set<string>();
  const excludes = input.exclude.length > 0 ? compileIgnore(input.exclude.join("\n"), `${where} --exclude`) : undefined;
  const links = new Map<string, string>();
  // Small files read for their digest keep their content for the layer (no second read), up to a bound.
  // One callback for all (the digest calls it synchronously for the file being added), not a closure per file.
  let kept = 0;
  let keeping: LayerEntry | undefined;
  const keep = (content: Buffer) => {
    keeping!.content = content;
    kept += content.length;
  };

  let dest = input.dest.startsWith("/") ? input.dest : posix.join(input.workdir, input.dest);
  const destIsDir = /\/\.?$/.test(input.dest) || input.dest === ".";
  dest = posix.normalize(dest);

  // What the step reads, one line per entry, handed to the hash in batches (one update per line costs more than the line).
  let pending = "";
  const feed = (line: string) => {
    pending += line;
    if (pending.length > 65536) {
      hash.update(pending);
      pending = "";
    }
  };
  const record = (e: LayerEntry, contentHash = "") => feed(`${e.path}\0${e.type}\0${(OCTAL[e.mode] ??= e.mode.toString(8))}\0${e.uid}:${e.gid}\0${e.linkname ?? ""}\0${contentHash}\n`);
  // The parents of an entry: existing folders of the image keep their metadata; new ones belong to the --chown owner (root otherwise).
  const ensureParents = (path: string) => {
    // Every emitted path has its parents emitted: a known parent ends the work.
    const slash = path.lastIndexOf("/");
    if (slash <= 0 || emitted.has(path.slice(0, slash))) return;
    const parts = path.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      if (emitted.has(p)) continue;
      emitted.add(p);
      const existing = image.lstat(`/${p}`);
      const e: LayerEntry = existing?.stat.isDirectory()
        ? { path: p, type: "directory", mode: existing.stat.mode & 0o7777, uid: existing.stat.uid, gid: existing.stat.gid, mtime: existing.stat.mtime }
        : { path: p, type: "directory", mode: 0o755, uid: input.chown?.uid ?? 0, gid: input.chown?.gid ?? 0, mtime: new Date(0) };
      entries.push(e);
      record(e);
    }
  };
  // Where a target lands: its parent folder resolved through the image's symlinks.
  const place = (target: string) => {
    const parent = image.resolve(posix.dirname(target));
    return posix.join(parent, posix.basename(target)).slice(1);
  };
  const chmod = input.chmod;
  const chown = input.chown;
  const fromContext = input.fromContext;

  // Runs once per entry of a walk, mostly as cold code in a fresh process: the type from the mode bits
  // (one test instead of a chain of Stats methods), object literals written out.
  const addOne = (hostPath: string, st: Stats, path: string) => {
    if (emitted.has(path)) return;
    ensureParents(path);
    emitted.add(path);
    // --chown wins; context files belong to root, stage and image files keep their owner.
    const uid = chown !== undefined ? chown.uid : fromContext ? 0 : st.uid;
    const gid = chown !== undefined ? chown.gid : fromContext ? 0 : st.gid;
    const mode = chmod !== undefined ? chmod : st.mode & 0o7777;
    const mtime = new Date(st.mtimeMs);
    let e: LayerEntry;
    let contentHash = "";
    switch (st.mode & S_IFMT) {
      case S_IFREG: {
        const first = st.nlink > 1 ? links.get(`${st.dev}:${st.ino}`) : undefined;
        if (first !== undefined && !fromContext) e = { path, type: "link", mode, uid, gid, mtime, linkname: first };
        else {
          if (st.nlink > 1 && first === undefined) links.set(`${st.dev}:${st.ino}`, path);
          const file: LayerEntry = { path, type: "file", mode, uid, gid, mtime, hostPath, size: st.size, content: undefined };
          keeping = file;
          contentHash = input.from.contentDigest(hostPath, st, st.size <= KEEP_FILE && kept + st.size <= KEEP_TOTAL ? keep : undefined);
          e = file;
        }
        break;
      }
      case S_IFDIR:
        e = { path, type: "directory", mode, uid, gid, mtime };
        break;
      case S_IFLNK:
        e = { path, type: "symlink", mode: 0o777, uid, gid, mtime, linkname: readlinkSync(hostPath) };
        break;
      case S_IFIFO:
        e = { path, type: "fifo", mode, uid, gid, mtime };
        break;
      case S_IFCHR:
      case S_IFBLK:
        e = { path, type: (st.mode & S_IFMT) === S_IFCHR ? "character-device" : "block-device", mode, uid, gid, mtime, devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) };
        break;
      default:
        return; // sockets
    }
    entries.push(e);
    record(e, contentHash);
  };

  const walk = (srcPath: string, target: string, rel: string) => {
    const dir = srcPath.endsWith("/") ? srcPath : `${srcPath}/`;
    for (const { name, entry: e } of input.from.children(srcPath)) {
      const childRel = rel === "" ? name : `${rel}/${name}`;
      const childTarget = `${target}/${name}`;
      if (e.excluded !== true && (excludes === undefined || !excludes.excludes(childRel))) addOne(e.hostPath, e.stat, childTarget);
      if (e.stat.isDirectory()) walk(`${dir}${name}`, childTarget, childRel);
    }
  };

  // Expand sources: heredocs, URLs, globs, plain paths.
  type Resolved = { kind: "path"; src: string } | { kind: "heredoc"; doc: Heredoc } | { kind: "url"; source: string };
  const resolved: Resolved[] = [];
  for (const source of input.sources) {
    const doc = input.heredocs.find((h) => source === `<<${h.name}` || source === `<<-${h.name}` || source.replace(/^<<-?/, "").replace(/^["']|["']$/g, "") === h.name && source.startsWith("<<"));
    if (doc) resolved.push({ kind: "heredoc", doc });
    else if (input.kind === "add" && isUrl(source)) resolved.push({ kind: "url", source });
    else if (GLOB.test(source)) {
      const matches = expandGlob(input.from, source);
      if (matches.length === 0) throw new NotFoundError(`${where}: no source files were specified: ${JSON.stringify(source)} matches nothing in ${input.from.label}`, { hint: "check the pattern and .dockerignore" });
      for (const m of matches) resolved.push({ kind: "path", src: m });
    } else resolved.push({ kind: "path", src: posix.normalize(`/${source}`) });
  }
  const many = resolved.length > 1;
  if (many && !destIsDir && !image.lstat(image.resolve(dest))?.stat.isDirectory()) {
    throw new InvalidInputError(`${where}: when using ${input.kind.toUpperCase()} with more than one source file, the destination must be a directory and end with a /`, { hint: `write ${input.dest}/` });
  }
  const destDirExists = () => destIsDir || many || image.lstat(image.resolve(dest))?.stat.isDirectory() === true;

  for (const r of resolved) {
    if (r.kind === "heredoc") {
      const target = place(destDirExists() ? posix.join(dest, r.doc.name) : dest);
      const content = Buffer.from(r.doc.content);
      ensureParents(target);
      const e: LayerEntry = { path: target, type: "file", mode: input.chmod ?? 0o644, uid: input.chown?.uid ?? 0, gid: input.chown?.gid ?? 0, mtime: new Date(0), content };
      entries.push(e);
      record(e, createHash("sha256").update(content).digest("hex"));
      continue;
    }
    if (r.kind === "url") {
      const got = input.downloads?.get(r.source);
      if (!got) throw new NotFoundError(`${where}: ${r.source} was not fetched`);
      const target = place(destDirExists() ? posix.join(dest, got.name) : dest);
      ensureParents(target);
      const e: LayerEntry = { path: target, type: "file", mode: input.chmod ?? 0o600, uid: input.chown?.uid ?? 0, gid: input.chown?.gid ?? 0, mtime: got.mtime, content: got.content };
      entries.push(e);
      record(e, createHash("sha256").update(got.content).digest("hex"));
      continue;
    }
    // A source naming a symlink is followed (inside the source), as Docker does.
    const src = input.from.resolve(r.src);
    const e = input.from.lstat(src);
    if (!e) throw new NotFoundError(`${where}: ${JSON.stringify(r.src.slice(1) || ".")} not found in ${input.from.label}`, { hint: input.fromContext ? "check the path and .dockerignore" : "check the path in that stage" });
    if (e.stat.isDirectory()) {
      // A folder's content goes into the destination (not the folder itself); with --parents its path is kept.
      const target = place(input.parents ? posix.join(dest, r.src) : dest);
      if (target !== "") addOne(e.hostPath, e.stat, target);
      walk(src, target, "");
      continue;
    }
    if (input.unpackArchives && e.stat.isFile() && isArchive(e.hostPath)) {
      const target = place(dest).replace(/\/$/, "");
      if (target !== "") ensureParents(`${target}/x`);
      archives.push({ hostPath: e.hostPath, dest: target });
      feed(`archive\0${target}\0${input.from.contentDigest(e.hostPath, e.stat)}\n`);
      continue;
    }
    const name = posix.basename(r.src);
    const target = place(input.parents ? posix.join(dest, r.src) : destDirExists() ? posix.join(dest, name) : dest);
    addOne(e.hostPath, e.stat, target);
  }
  return { entries, archives, digest: hash.update(pending).digest("hex") };
}


/** The layer of a COPY/ADD: the planned entries, then each archive's entries under its folder. */
export function copyLayerTar(plan: CopyPlan): Readable {
  if (plan.archives.length === 0) return layerTar(plan.entries);
  const out = new PassThrough();
  void (async () => {
    // tar-stream is loaded by the first ADD of an archive only (a cached build never needs it).
    const tar = await import("tar-stream");
    const pack = tar.pack();
    pack.on("error", (err) => out.destroy(err));
    pack.pipe(out);
    try {
      const entryHeaders = plan.entries;
      for (const e of entryHeaders) {
        await new Promise<void>((resolve, reject) => {
          const header = { name: e.type === "directory" ? `${e.path}/` : e.path, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: e.mtime, linkname: e.linkname ?? "", size: 0 };
          if (e.type === "file") {
            const content = e.content ?? readFileSync(e.hostPath!);
            pack.entry({ ...header, size: content.length }, content, (err) => (err ? reject(err) : resolve()));
          } else pack.entry(header, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
        });
      }
      for (const a of plan.archives) {
        const extract = tar.extract();
        const head = readFileSync(a.hostPath);
        const raw = head[0] === 0x1f && head[1] === 0x8b ? await gunzip(head) : head;
        const done = new Promise<void>((resolve, reject) => {
          extract.on("entry", (header, stream, next) => {
            const clean = posix.normalize(`/${header.name}`).slice(1).replace(/\/$/, "");
            if (clean === "" || clean.startsWith("..")) {
              stream.resume();
              stream.on("end", () => next());
              return;
            }
            const name = a.dest === "" ? clean : `${a.dest}/${clean}`;
            const linkname = header.type === "link" && header.linkname ? (a.dest === "" ? posix.normalize(`/${header.linkname}`).slice(1) : `${a.dest}/${posix.normalize(`/${header.linkname}`).slice(1)}`) : header.linkname ?? "";
            const sink = pack.entry({ ...header, name: header.type === "directory" ? `${name}/` : name, linkname, pax: null }, (err) => (err ? reject(err) : next()));
            stream.pipe(sink);
          });
          extract.on("finish", () => resolve());
          extract.on("error", reject);
        });
        extract.end(raw);
        await done;
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })().catch((err: unknown) => out.destroy(err as Error));
  return out;
}

function gunzip(data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const z = createGunzip();
    z.on("data", (c: Buffer) => chunks.push(c));
    z.on("end", () => resolve(Buffer.concat(chunks)));
    z.on("error", reject);
    z.end(data);
  });
}
