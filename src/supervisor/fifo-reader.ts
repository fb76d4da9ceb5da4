// Reads a container's output FIFO without holding a write end: opened
// read-only and non-blocking, wrapped in a net.Socket (epoll, no thread-pool
// thread parked in read()), so EOF arrives once every writer (the monitor and
// the container) has closed it, i.e. when the container has ended.
import { constants, openSync } from "node:fs";
import { Socket } from "node:net";

export interface FifoReader {
  close(): void;
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
  };
}
