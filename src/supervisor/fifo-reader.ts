// Reads a container's output FIFO without holding a write end: opened
// read-only and non-blocking, wrapped in a net.Socket (epoll, no thread-pool
// thread parked in read()), so EOF arrives once every writer (the monitor and
// the container) has closed it, i.e. when the container has ended.
// Caveat (Linux): a reader opened non-blocking while the FIFO has no writer
// gets no EOF/HUP until some writer comes and goes; the caller handles that
// case (the container had ended before) with end().
import { constants, openSync } from "node:fs";
import { Socket } from "node:net";

export interface FifoReader {
  /** Stops reading; onEnd is not called. */
  close(): void;
  /** Stops reading and calls onEnd (once), for a pipe whose writers are known to be gone. */
  end(): void;
}

export function readFifo(path: string, onChunk: (text: string) => void, onEnd: () => void): FifoReader {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const socket = new Socket({ fd, readable: true, writable: false });
  socket.setEncoding("utf8");
  let ended = false;
  const finish = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  socket.on("data", (d: string) => onChunk(d));
  socket.on("end", finish);
  socket.on("error", finish);
  socket.on("close", finish);
  return {
    close() {
      ended = true;
      socket.destroy();
    },
    end() {
      socket.destroy();
      finish();
    },
  };
}
