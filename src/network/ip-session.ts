// A long-lived `ip -force -batch -` process fed commands on its stdin, so a
// command costs a netlink round trip instead of a process start (on a loaded
// 2-core VM, starting `ip` takes 15–40 ms; a command in a running batch well
// under 1 ms).
//
// Protocol. With -force, ip runs every line and, for each one that fails,
// prints its error and then `Command failed -:N` (N = the line number since
// the process started) on stderr, which is unbuffered. After a request's
// lines the session writes a fence: a line ip always rejects without touching
// the kernel (an unknown object). The fence's `Command failed` line marks the
// end of the request; every other marker in between names a failed command of
// it. Some iproute2 argument errors exit the process instead (invarg); then
// every pending request fails with what ip printed, and the session is dead.
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { InternalError, SystemError } from "../errors.js";

/** A command of a request that ip rejected, with what ip printed about it. */
export interface IpCommandFailure {
  command: string;
  message: string;
}

interface PendingRequest {
  lines: string[];
  /** Line number (as ip counts them) of the request's first line. */
  first: number;
  fence: number;
  failures: IpCommandFailure[];
  resolve: (failures: IpCommandFailure[]) => void;
  reject: (e: Error) => void;
}

const fenceLine = "stack-fence";
const marker = /^Command failed -:(\d+)$/;

/** Characters that would split or cut a batch line (makeargs splits on blanks, `#` starts a comment). */
const unsafeArgument = /[\s#"'\\]/;

export class IpSession {
  private readonly child: ChildProcess;
  private readonly stdin: Writable;
  private readonly stderr: Readable;
  private readonly pending: PendingRequest[] = [];
  private linesSent = 0;
  private partial = "";
  private message: string[] = [];
  private exited = false;
  private exitText = "";

  /**
   * `argv` is the whole command line, e.g. ["ip", "-force", "-batch", "-"] or
   * ["unshare", "--net", "--", "ip", "-force", "-batch", "-"]; it must end in a
   * `-force -batch -` ip.
   */
  constructor(readonly argv: string[]) {
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ["pipe", "ignore", "pipe"] });
    this.stdin = this.child.stdin!;
    this.stderr = this.child.stderr!;
    this.stderr.setEncoding("utf8");
    this.stderr.on("data", (text: string) => this.onStderr(text));
    // EPIPE after an exit is reported through the exit handler.
    this.stdin.on("error", () => undefined);
    this.child.on("error", (e) => this.onExit(e.message));
    this.child.on("close", (code, signal) => this.onExit(`exited with ${signal ?? `code ${code}`}`));
    this.idle();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Runs the commands (ip batch lines, without the leading `ip`) in order and
   * resolves with the ones that failed (empty: all succeeded). Every command
   * runs even after a failure (-force). Rejects when the process dies first.
   */
  run(lines: string[]): Promise<IpCommandFailure[]> {
    for (const line of lines) {
      if (line.split(" ").some((a) => a === "" || unsafeArgument.test(a))) {
        throw new InternalError(`ip batch line ${JSON.stringify(line)} has an empty argument or one with a blank, quote, backslash or #`);
      }
    }
    if (!this.alive) return Promise.reject(this.deadError());
    return new Promise((resolve, reject) => {
      const first = this.linesSent + 1;
      this.linesSent += lines.length + 1;
      this.pending.push({ lines, first, fence: this.linesSent, failures: [], resolve, reject });
      this.busy();
      this.stdin.write([...lines, fenceLine].join("\n") + "\n");
    });
  }

  /** Ends the input: ip exits once it has run what it was sent. Not awaited by anyone. */
  close(): void {
    if (!this.stdin.writableEnded) this.stdin.end();
  }

  /** Resolves once the process has exited (after close()). */
  whenExited(): Promise<void> {
    if (this.exited) return Promise.resolve();
    this.busy(); // the caller waits for it: keep the process alive until then
    return new Promise((resolve) => this.child.once("close", () => resolve()));
  }

  private onStderr(text: string): void {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop()!;
    for (const line of lines) {
      const m = marker.exec(line);
      if (!m) {
        this.message.push(line);
        continue;
      }
      const n = Number(m[1]);
      const message = this.message.join("\n").trim();
      this.message = [];
      const head = this.pending[0];
      if (!head) continue;
      if (n === head.fence) {
        this.pending.shift();
        if (this.pending.length === 0) this.idle();
        head.resolve(head.failures);
      } else if (n >= head.first && n < head.fence) {
        head.failures.push({ command: head.lines[n - head.first]!, message });
      }
    }
  }

  private onExit(reason: string): void {
    if (this.exited) return;
    this.exited = true;
    this.exitText = [...this.message, this.partial].join("\n").trim();
    this.exitText = this.exitText ? `${reason}: ${this.exitText}` : reason;
    const error = this.deadError();
    for (const p of this.pending.splice(0)) p.reject(error);
  }

  private deadError(): SystemError {
    return new SystemError(`${this.argv.join(" ")} ${this.exitText || "is no longer running"}`, {
      hint: "stack needs root and iproute2; run `stack down` to clean up, then retry",
    });
  }

  // A session with nothing pending must not keep the process alive (a CLI
  // exits as soon as its work is done; ip then reads EOF and exits too).
  private idle(): void {
    this.child.unref();
    (this.stdin as Writable & { unref?: () => void }).unref?.();
    (this.stderr as Readable & { unref?: () => void }).unref?.();
  }

  private busy(): void {
    this.child.ref();
    (this.stderr as Readable & { ref?: () => void }).ref?.();
  }
}
