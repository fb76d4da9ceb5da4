// Renderings of the service graph for `stack graph` (pure, deterministic).
import type { DependencyEdge, ServiceGraph } from "./graph.js";

export type GraphFormat = "mermaid" | "dot" | "json";

const conditionLabel: Record<DependencyEdge["condition"], string> = {
  service_started: "started",
  service_healthy: "healthy",
  service_completed_successfully: "completed",
};

function edgeLabel(e: DependencyEdge): string {
  const parts = [e.kind === "depends_on" ? conditionLabel[e.condition] : e.kind];
  if (e.kind !== "depends_on" && e.condition !== "service_started") parts.push(conditionLabel[e.condition]);
  if (e.restart) parts.push("restart");
  if (!e.required) parts.push("optional");
  return parts.join(", ");
}

/** Mermaid ids may not contain every character a service name may: map them. */
function mermaidId(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, "_");
}

export function renderGraph(graph: ServiceGraph, format: GraphFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify({ services: graph.nodes, levels: graph.levels, edges: graph.edges }, null, 2) + "\n";
    case "dot": {
      const lines = ["digraph stack {", "  rankdir=LR;"];
      for (const n of graph.nodes) lines.push(`  ${JSON.stringify(n)};`);
      for (const e of graph.edges) lines.push(`  ${JSON.stringify(e.from)} -> ${JSON.stringify(e.to)} [label=${JSON.stringify(edgeLabel(e))}];`);
      lines.push("}");
      return lines.join("\n") + "\n";
    }
    case "mermaid": {
      const lines = ["graph LR"];
      for (const n of graph.nodes) lines.push(`  ${mermaidId(n)}[${JSON.stringify(n)}]`);
      for (const e of graph.edges) lines.push(`  ${mermaidId(e.from)} -->|${edgeLabel(e)}| ${mermaidId(e.to)}`);
      return lines.join("\n") + "\n";
    }
  }
}
