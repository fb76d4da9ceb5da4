// Serves a Supervisor on its unix socket (protocol.ts). Counts attached
// clients so the daemon can exit when it is idle.
import { createServer, type Server, type Socket } from "node:net";
import { isStackError } from "../errors.js";
import { createFrameDecoder, encodeFrame, PROTOCOL_VERSION, type RequestFrame, type ResponseFrame, type RunItem, type RunRequest, type WireError } from "./protocol.js";
import type { Supervisor } from "./supervisor.js";

export interface SupervisorServerOptions {
  project: string;
  supervisor: Supervisor;
  onShutdown: () => void;
  onClientsChanged: (count: number) => void;
  /** Operations served by other modules (file-watch.ts), by op: the result, or a rejection sent as the error; `onClose` registers a cleanup for when the connection ends. */
  extraOps?: ExtraOps;
  /** Serves `run` (run-host.ts); without it `run` is an unknown operation and the client runs locally. */
  runHost?: RunHostPort;
}

/** One `run` on one connection, as the run host sees it. */
export interface RunChannel {
  emit(item: RunItem): void;
  /** The one result of the run; then the connection is done with it. */
  finish(result: { exitCode: number } | { fallback: string }): void;
  onInput(listener: (data: Buffer | null) => void): void;
  onSignal(listener: (signal: string) => void): void;
  /** The client went away (also after finish). */
  onClose(listener: () => void): void;
}

export type RunHostPort = (request: RunRequest, channel: RunChannel) => void;

export type ExtraOps = Record<string, (frame: RequestFrame, onClose: (cleanup: () => void) => void) => Promise<unknown>>;

export function createSupervisorServer(opts: SupervisorServerOptions): Server {
  let clients = 0;
  const server = createServer((socket: Socket) => {
    clients++;
    opts.onClientsChanged(clients);
    socket.setEncoding("utf8");
    const cleanups: Array<() => void> = [];
    const send = (f: ResponseFrame) => {
      if (!socket.destroyed) socket.write(encodeFrame(f));
    };
    const run: RunRouting = { input: [], signal: [] };
    const decode = createFrameDecoder<RequestFrame>(
      (frame) => (frame.op === "runInput" || frame.op === "runSignal" ? routeRun(frame, run) : frame.op === "run" ? startRun(frame, send, cleanups, run) : handle(frame, send, cleanups)),
      (_line, why) => send({ v: PROTOCOL_VERSION, seq: -1, ok: false, error: { category: "invalid-input", message: `bad frame: ${why}` } }),
    );
    socket.on("data", (d: string) => decode(d));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      for (const c of cleanups) c();
      clients--;
      opts.onClientsChanged(clients);
    });
  });

  /** One `run` per connection: its stdin and signals arrive as frames that get no answer. */
  function startRun(frame: RequestFrame & RunRequest, send: (f: ResponseFrame) => void, cleanups: Array<() => void>, routing: RunRouting): void {
    const seq = typeof frame.seq === "number" ? frame.seq : -1;
    const v = PROTOCOL_VERSION;
    if (frame.v !== PROTOCOL_VERSION) return handle(frame, send, cleanups); // the version error
    if (!opts.runHost || routing.started) {
      send({ v, seq, ok: false, error: { category: "unsupported", message: opts.runHost ? "one run per connection" : "this supervisor does not serve run", hint: "the client runs it locally" } });
      return;
    }
    routing.started = true;
    let done = false;
    opts.runHost(frame, {
      emit: (item) => send({ v, seq, item }),
      finish: (result) => {
        if (done) return;
        done = true;
        send({ v, seq, ok: true, result });
      },
      onInput: (l) => routing.input.push(l),
      onSignal: (l) => routing.signal.push(l),
      onClose: (l) => cleanups.push(l),
    });
  }

  function handle(frame: RequestFrame, send: (f: ResponseFrame) => void, cleanups: Array<() => void>): void {
    const seq = typeof frame.seq === "number" ? frame.seq : -1;
    const v = PROTOCOL_VERSION;
    const ok = (result: unknown) => send({ v, seq, ok: true, result: result ?? null });
    try {
      if (frame.v !== PROTOCOL_VERSION) {
        send({ v, seq, ok: false, error: { category: "unsupported", message: `protocol version ${JSON.stringify(frame.v)} is not supported (this supervisor speaks ${v})`, hint: "stop the old supervisor with `stack down` and retry" } });
        return;
      }
      const s = opts.supervisor;
      switch (frame.op) {
        case "hello":
          return ok({ version: v, project: opts.project, pid: process.pid });
        case "adopt":
          s.adopt(frame.containers);
          return ok(null);
        case "watch":
          s.watch(frame.container);
          return ok(null);
        case "stopping":
          // answered once a restart under way has started what the caller will then stop
          void s.stopping(frame.ids).then(
            () => ok(null),
            (e: unknown) => send({ v, seq, ok: false, error: toWireError(e) }),
          );
          return;
        case "forget":
          s.forget(frame.id);
          return ok(null);
        case "status":
          return ok(s.status());
        case "logs": {
          const stop = s.logs(frame, (item) => send({ v, seq, item }));
          if (frame.follow) cleanups.push(stop);
          else send({ v, seq, end: true });
          return;
        }
        case "events":
          cleanups.push(s.subscribeEvents((item) => send({ v, seq, item })));
          return;
        case "shutdown":
          ok(null);
          opts.onShutdown();
          return;
        default: {
          const extra = opts.extraOps?.[(frame as { op: string }).op];
          if (extra) {
            extra(frame, (c) => cleanups.push(c)).then(ok, (e: unknown) => send({ v, seq, ok: false, error: toWireError(e) }));
            return;
          }
          send({ v, seq, ok: false, error: { category: "invalid-input", message: `unknown operation ${JSON.stringify((frame as { op?: unknown }).op)}`, hint: "client and supervisor versions differ: run `stack down` and retry" } });
        }
      }
    } catch (e) {
      send({ v, seq, ok: false, error: toWireError(e) });
    }
  }
  return server;
}

interface RunRouting {
  started?: boolean;
  input: Array<(data: Buffer | null) => void>;
  signal: Array<(signal: string) => void>;
}

function routeRun(frame: RequestFrame, routing: RunRouting): void {
  if (frame.op === "runInput") {
    const data = typeof frame.data === "string" ? Buffer.from(frame.data, "base64") : null;
    for (const l of routing.input) l(data);
    if (frame.end === true && data !== null) for (const l of routing.input) l(null);
  } else if (frame.op === "runSignal" && typeof frame.signal === "string") {
    for (const l of routing.signal) l(frame.signal);
  }
}

export function toWireError(e: unknown): WireError {
  if (isStackError(e)) return { category: e.category, message: e.message, hint: e.hint };
  return { category: "internal", message: e instanceof Error ? e.message : String(e) };
}
