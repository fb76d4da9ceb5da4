// Generates stack files for bench/config.mjs: a realistic N-service stack
// (anchors, ports, volumes, environment, healthchecks, depends_on, networks)
// and an alias flood (a list of `count` aliases of one anchor).

/** A stack file with `services` services, each using the features real stacks use. */
export function generateStack(services) {
  const lines = [
    "name: bench",
    "x-common: &common",
    "  restart: unless-stopped",
    "  labels:",
    "    com.example.team: bench",
    "  logging:",
    "    driver: json-file",
    "    options: {max-size: 10m}",
    "services:",
  ];
  for (let i = 0; i < services; i++) {
    lines.push(
      `  svc${i}:`,
      "    <<: *common",
      `    image: "registry.local/app${i % 10}:\${TAG:-1.${i % 7}}"`,
      `    command: ["serve", "--port", "${8000 + i}"]`,
      "    environment:",
      `      - SERVICE_INDEX=${i}`,
      "      - LOG_LEVEL=${LOG_LEVEL:-info}",
      `      DATABASE_URL: postgres://db${i % 3}:5432/app`.replace(/^(\s+)DATABASE_URL: /, "$1- DATABASE_URL="),
      "    ports:",
      `      - "${10000 + i}:${8000 + i}"`,
      `      - "127.0.0.1:${20000 + i}:9000/udp"`,
      "    volumes:",
      `      - ./data/svc${i}:/var/lib/app`,
      `      - cache${i % 5}:/cache`,
      "      - type: tmpfs",
      "        target: /tmp",
      "        tmpfs: {size: 64m}",
      "    healthcheck:",
      `      test: ["CMD", "wget", "-q", "-O-", "http://localhost:${8000 + i}/health"]`,
      "      interval: 30s",
      "      timeout: 5s",
      "      retries: 3",
      "    networks: [front, back]",
      "    mem_limit: 256m",
    );
    if (i > 0) lines.push("    depends_on:", `      svc${i - 1}:`, "        condition: service_started");
  }
  lines.push("networks:", "  front: {}", "  back:", "    internal: true", "volumes:");
  for (let v = 0; v < 5; v++) lines.push(`  cache${v}: {}`);
  return lines.join("\n") + "\n";
}

/** `count` alias nodes: refused by the loader long before `yaml` composes them. */
export function generateAliasFlood(count) {
  return "x-a: &a [lol]\nservices: {}\nx-flood:\n" + "  - *a\n".repeat(count);
}
