import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { allowedKeysAt, patternMessages, validateFile } from "../../../src/schema/validate.js";
import { formatProblem, type ParsedFile, type PathSegment } from "../../../src/schema/source.js";

// A ParsedFile whose locate() answers with line = 1 + the number of path segments, col = 1:
// enough to check that problems carry the location of their own path.
function fileOf(doc: Record<string, unknown>): ParsedFile {
  return { path: "compose.yaml", doc, locate: (p: PathSegment[]) => ({ file: "compose.yaml", line: p.length + 1, col: 1 }) };
}

function problemsOf(yaml: string): string[] {
  return validateFile(fileOf(parse(yaml, { merge: true }) as Record<string, unknown>)).map(formatProblem);
}

const cases: Array<{ name: string; yaml: string; expected: string[] }> = [
  {
    name: "bad port string",
    yaml: "services:\n  web:\n    image: nginx\n    ports: ['80x:80']\n",
    expected: ['compose.yaml:5:1: services.web.ports[0]: "80x:80" is not a port mapping (expected [HOST:]CONTAINER[/PROTOCOL])'],
  },
  {
    name: "misspelled service key",
    yaml: "services:\n  web:\n    image: nginx\n    restrat: always\n",
    expected: ['compose.yaml:4:1: services.web.restrat: unknown key "restrat" (did you mean "restart"?)'],
  },
  {
    name: "misspelled top-level key",
    yaml: "servces:\n  web:\n    image: nginx\n",
    expected: ['compose.yaml:2:1: servces: unknown key "servces" (did you mean "services"?)'],
  },
  {
    name: "duration",
    yaml: "services:\n  web:\n    image: nginx\n    healthcheck:\n      interval: 5x\n",
    expected: ['compose.yaml:5:1: services.web.healthcheck.interval: "5x" is not a duration (expected e.g. 30s, 1m30s, 1.5s, 100ms, 1h)'],
  },
  {
    name: "byte size",
    yaml: "services:\n  web:\n    image: nginx\n    mem_limit: 12q\n",
    expected: ['compose.yaml:4:1: services.web.mem_limit: "12q" is not a byte size (expected e.g. 512m, 1g, 100k, 1.5gb)'],
  },
  {
    name: "enum with suggestion",
    yaml: "services:\n  web:\n    image: nginx\n    depends_on:\n      db:\n        condition: service_healty\n  db:\n    image: postgres\n",
    expected: [
      'compose.yaml:6:1: services.web.depends_on.db.condition: "service_healty" is not one of service_started, service_healthy, service_completed_successfully (did you mean "service_healthy"?)',
    ],
  },
  {
    name: "wrong type in a oneOf: one message",
    yaml: "services:\n  web:\n    image: nginx\n    environment: 12\n",
    expected: ["compose.yaml:4:1: services.web.environment: 12 is not a mapping or a list"],
  },
  {
    name: "wrong type inside the taken branch",
    yaml: "services:\n  web:\n    image: nginx\n    ports:\n      - target: abc\n",
    expected: ['compose.yaml:6:1: services.web.ports[0].target: "abc" is not a port or port range (expected e.g. 8080 or 8000-8010)'],
  },
  {
    name: "port out of range",
    yaml: "services:\n  web:\n    image: nginx\n    ports: ['80:70000']\n",
    expected: ['compose.yaml:5:1: services.web.ports[0]: "80:70000" has a port out of range (70000) (ports are 1-65535)'],
  },
  {
    name: "ranges of different lengths",
    yaml: "services:\n  web:\n    image: nginx\n    ports: ['8000-8002:9000-9001']\n",
    expected: ['compose.yaml:5:1: services.web.ports[0]: "8000-8002:9000-9001" maps ranges of different lengths (the host and container ranges must have the same number of ports)'],
  },
  {
    name: "short-syntax mounts",
    yaml: "services:\n  web:\n    image: nginx\n    volumes:\n      - ./src:/app:rx\n      - data:data\n      - a:/b:ro:x\n      - ./ok:/ok:ro,z\n",
    expected: [
      'compose.yaml:5:1: services.web.volumes[0]: "./src:/app:rx" has an unknown mount option "rx" (expected ro, rw, z, Z, nocopy or a propagation (rshared, rslave, rprivate …))',
      'compose.yaml:5:1: services.web.volumes[1]: "data:data" has a relative container path "data" (expected SOURCE:TARGET[:MODE] or TARGET, TARGET an absolute path in the container)',
      'compose.yaml:5:1: services.web.volumes[2]: "a:/b:ro:x" is not a volume (expected SOURCE:TARGET[:MODE] or TARGET, TARGET an absolute path in the container)',
    ],
  },
  {
    name: "required key of the long form",
    yaml: "services:\n  web:\n    image: nginx\n    volumes:\n      - source: ./x\n        target: /x\n",
    expected: ['compose.yaml:5:1: services.web.volumes[0]: missing required key "type"'],
  },
  {
    name: "all problems of a file, in order",
    yaml: "services:\n  web:\n    image: 3\n    restart: sometimes\n    privileged: maybe\n",
    expected: [
      "compose.yaml:4:1: services.web.image: 3 is not a string",
      'compose.yaml:4:1: services.web.privileged: "maybe" is not a boolean (expected true or false)',
      'compose.yaml:4:1: services.web.restart: "sometimes" is not a restart policy (expected no, always, on-failure[:MAX_RETRIES] or unless-stopped)',
    ],
  },
  {
    name: "bad service name",
    yaml: "services:\n  'my web':\n    image: nginx\n",
    expected: ['compose.yaml:3:1: services.my web: "my web" is not a valid name (use letters, digits, \'.\', \'_\' and \'-\')'],
  },
  {
    name: "misspelled key inside a long form (oneOf branch taken by type)",
    yaml: "services:\n  web:\n    build:\n      context: .\n      dockerfille: Dockerfile.dev\n    ports:\n      - target: 80\n        publshed: 8080\n",
    expected: [
      'compose.yaml:5:1: services.web.build.dockerfille: unknown key "dockerfille" (did you mean "dockerfile"?)',
      'compose.yaml:6:1: services.web.ports[0].publshed: unknown key "publshed" (did you mean "published"?)',
    ],
  },
  {
    name: "a key at the wrong level says where it belongs",
    yaml: "services:\n  web:\n    image: nginx\n    replicas: 3\n",
    expected: ["compose.yaml:4:1: services.web.replicas: unknown key \"replicas\" (it belongs under deploy.replicas, or use scale)"],
  },
  {
    name: "file modes are octal",
    yaml: "services:\n  web:\n    image: nginx\n    secrets:\n      - {source: a, mode: rw}\n      - {source: b, mode: \"0o440\"}\n      - {source: c, mode: 288}\nsecrets:\n  a: {file: a}\n  b: {file: b}\n  c: {file: c}\n",
    expected: ['compose.yaml:6:1: services.web.secrets[0].mode: "rw" is not a file mode (expected an octal mode such as 0440)'],
  },
  {
    name: "an unquoted version number is accepted (obsolete, warned at normalization)",
    yaml: "version: 3.8\nservices:\n  web:\n    image: nginx\n    command: [sleep, 3600]\n",
    expected: [],
  },
  {
    name: "uninterpolated values are judged after interpolation",
    yaml: "services:\n  web:\n    image: nginx\n    ports: ['${PORT}:80']\n    privileged: ${PRIV}\n",
    expected: [],
  },
];

describe("validateFile", () => {
  it.each(cases)("$name", ({ yaml, expected }) => {
    expect(problemsOf(yaml)).toEqual(expected);
  });

  it("accepts the short and long forms compose allows", () => {
    const yaml = `
version: "3.8"
name: demo
x-common: &common
  restart: unless-stopped
services:
  web:
    <<: *common
    build: ./web
    image: demo/web:1
    ports: [80, "8080:80", "127.0.0.1:8081:81/udp", "[::1]:8082:82", "8000-8010:8000-8010", "9000", {target: 90, published: "9090", protocol: tcp}]
    volumes: ["./src:/app:ro", "data:/data", "/anon", {type: tmpfs, target: /tmp, tmpfs: {size: 64m}}]
    environment: {A: 1, B: true, C: null}
    env_file: [.env, {path: extra.env, required: false}]
    depends_on: {db: {condition: service_healthy, restart: true}}
    healthcheck: {test: "curl -f http://localhost", interval: 1m30s, timeout: 1.5s, retries: "3", start_period: 100ms}
    deploy: {replicas: 2, resources: {limits: {cpus: "0.5", memory: 512m}}}
    develop: {watch: [{path: ./src, action: sync, target: /app, ignore: [node_modules/]}]}
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    extra_hosts: ["a:1.2.3.4", "b=5.6.7.8"]
    x-note: kept
  db:
    image: postgres
    networks: {back: {aliases: [database]}}
networks:
  back: {}
volumes:
  data:
secrets:
  pw: {file: ./pw.txt}
`;
    expect(problemsOf(yaml)).toEqual([]);
  });

  it("has words for every pattern of the schema", () => {
    const schema = readFileSync(new URL("../../../schemas/stack.schema.json", import.meta.url), "utf8");
    const patterns = new Set<string>();
    JSON.parse(schema, (key, value) => {
      if (key === "pattern" && typeof value === "string") patterns.add(value);
      return value;
    });
    expect([...patterns].filter((p) => !(p in patternMessages))).toEqual([]);
  });

  it("knows the keys allowed at a path", () => {
    expect(allowedKeysAt(["services", "web"])).toContain("restart");
    expect(allowedKeysAt(["services", "web", "healthcheck"])).toEqual(["disable", "interval", "retries", "start_interval", "start_period", "test", "timeout"]);
    expect(allowedKeysAt(["services", "web", "ports", 0])).toContain("host_ip");
  });
});
