// What Node's fs cannot do: make device nodes, FIFOs and overlay whiteouts
// (mknod), and set extended attributes (overlay's opaque flag, xattrs carried
// by the archive). The extractor queues these and hands them over in one
// batch per layer; the real implementation runs mknod(1) and setfattr(1).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { SystemError } from "../../errors.js";

const run = promisify(execFile);

export interface NodeSpec {
  /** Absolute path; its parent exists and the path does not. */
  path: string;
  kind: "char" | "block" | "fifo";
  major: number;
  minor: number;
}

export interface XattrSpec {
  /** Absolute path of an existing file, directory or symlink (not followed). */
  path: string;
  name: string;
  value: Buffer;
}

export interface SpecialFiles {
  makeNodes(nodes: NodeSpec[]): Promise<void>;
  setXattrs(attrs: XattrSpec[]): Promise<void>;
}

async function runTool(tool: string, args: string[], what: string): Promise<void> {
  try {
    await run(tool, args);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    const detail = err.code === "ENOENT" ? `${tool} is not installed` : (err.stderr ?? err.message).trim();
    throw new SystemError(`cannot ${what}: ${detail}`, {
      hint: err.code === "ENOENT" ? "run scripts/setup-host.sh (packages coreutils and attr)" : "layer extraction needs root (CAP_MKNOD, trusted.* xattrs)",
      cause: e,
    });
  }
}

export const systemSpecialFiles: SpecialFiles = {
  async makeNodes(nodes) {
    for (const n of nodes) {
      const args = n.kind === "fifo" ? ["-m", "0600", n.path, "p"] : ["-m", "0600", n.path, n.kind === "char" ? "c" : "b", String(n.major), String(n.minor)];
      await runTool("mknod", args, `create ${n.kind} node ${JSON.stringify(n.path)}`);
    }
  },
  async setXattrs(attrs) {
    for (const a of attrs) {
      await runTool("setfattr", ["-h", "-n", a.name, "-v", a.value.length === 0 ? "" : `0x${a.value.toString("hex")}`, a.path], `set xattr ${a.name} on ${JSON.stringify(a.path)}`);
    }
  },
};
