// The JSON dump of parsed instructions that `stack dockerfile parse` prints.
import type { DockerfileNode } from "./parser.js";

export interface NodeDump {
  line: number;
  endLine: number;
  cmd: string;
  flags: string[];
  args: string[];
  json: boolean;
  heredocs: Array<{ name: string; content: string; expand: boolean }>;
  onbuild?: NodeDump;
}

export function dumpNode(node: DockerfileNode): NodeDump {
  const dump: NodeDump = {
    line: node.line,
    endLine: node.endLine,
    cmd: node.cmd,
    flags: node.flags,
    args: node.args,
    json: node.json,
    heredocs: node.heredocs.map((h) => ({ name: h.name, content: h.content, expand: h.expand })),
  };
  if (node.onbuild) dump.onbuild = dumpNode(node.onbuild);
  return dump;
}

/** Pretty JSON, two-space indent. */
export function renderNodes(nodes: DockerfileNode[]): string {
  return JSON.stringify(nodes.map(dumpNode), null, 2);
}
