// Serves a Supervisor on its unix socket (protocol.ts). Counts attached
// clients so the daemon can exit when it is idle.
import { createServer, type Server, type Socket } from "node:net";
import { isStackError } from "../errors.js";
import { createFrameDecoder, encodeFrame, PROTOCOL_VERSION, type RequestFrame, type ResponseFrame, type WireError } from "./protocol.js";
import type { Supervisor } from "./supervisor.js";

export interface SupervisorServerOptions {
  project: string;
  supervisor: Supervisor;
  onShutdown: () => void;
  onClientsChanged: (count: number) => void;
  /** Operations served by other modules (file-watch.ts), by op: the result, or a rejection sent as the error; `onClose` registers a cleanup for when the connection ends. */
  extraOps?: ExtraOps;
}

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
    const decode = createFrameDecoder<RequestFrame>(
      (frame) => handle(frame, send, cleanups),
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
          s.stopping(frame.ids);
          return ok(null);
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

export function toWireError(e: unknown): WireError {
  if (isStackError(e)) return { category: e.category, message: e.message, hint: e.hint };
  return { category: "internal", message: e instanceof Error ? e.message : String(e) };
}
