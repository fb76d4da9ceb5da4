import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { interpolateFile, substituteVariables } from "../../../src/schema/interpolate.js";
import { parseYamlFile } from "../../../src/schema/yaml-file.js";

const env: Record<string, string> = { SET: "value", EMPTY: "", TAG: "1.2", N: "3", YES: "yes" };
const lookup = (n: string) => (Object.hasOwn(env, n) ? env[n] : undefined);

describe("substituteVariables", () => {
  const cases: Array<{ name: string; input: string; value: string; unset?: string[] }> = [
    { name: "plain text", input: "nginx:latest", value: "nginx:latest" },
    { name: "$VAR", input: "img:$TAG", value: "img:1.2" },
    { name: "$VAR stops at a non-name character", input: "$TAG-x", value: "1.2-x" },
    { name: "${VAR}", input: "a${SET}b", value: "avalueb" },
    { name: "unset ${VAR} is empty and reported", input: "x${NOPE}y", value: "xy", unset: ["NOPE"] },
    { name: "unset $VAR is empty and reported once", input: "$NOPE/$NOPE", value: "/", unset: ["NOPE"] },
    { name: ":- on unset", input: "${NOPE:-d}", value: "d" },
    { name: ":- on empty", input: "${EMPTY:-d}", value: "d" },
    { name: ":- on set", input: "${SET:-d}", value: "value" },
    { name: "- on unset", input: "${NOPE-d}", value: "d" },
    { name: "- on empty keeps empty", input: "${EMPTY-d}", value: "" },
    { name: "- on set", input: "${SET-d}", value: "value" },
    { name: ":+ on set", input: "${SET:+alt}", value: "alt" },
    { name: ":+ on empty", input: "${EMPTY:+alt}", value: "" },
    { name: ":+ on unset", input: "${NOPE:+alt}", value: "" },
    { name: "+ on empty", input: "${EMPTY+alt}", value: "alt" },
    { name: "+ on unset", input: "${NOPE+alt}", value: "" },
    { name: ":? on set", input: "${SET:?must}", value: "value" },
    { name: "? on empty", input: "${EMPTY?must}", value: "" },
    { name: "nested default", input: "${A:-${B:-x}}", value: "x" },
    { name: "nested default uses the inner variable", input: "${NOPE:-${SET}}", value: "value" },
    { name: "default with text and a variable", input: "${NOPE:-pre-$TAG-post}", value: "pre-1.2-post" },
    { name: "unused default is not evaluated (no warning)", input: "${SET:-${OTHER}}", value: "value" },
    { name: "unused :? is not an error", input: "${SET:-${X:?boom}}", value: "value" },
    { name: "$$ escapes", input: "echo $$HOME $${X}", value: "echo $HOME ${X}" },
    { name: "$$ inside a default", input: "${NOPE:-$$5}", value: "$5" },
    { name: "lone $ stays", input: "costs 5$ or $ 3 or $1", value: "costs 5$ or $ 3 or $1" },
    { name: "trailing $ stays", input: "a$", value: "a$" },
    { name: "several variables", input: "$SET:${TAG}:${N:-0}", value: "value:1.2:3" },
    { name: "default may contain colons and slashes", input: "${NOPE:-http://x:8080/y}", value: "http://x:8080/y" },
  ];
  it.each(cases)("$name", ({ input, value, unset }) => {
    const r = substituteVariables(input, lookup);
    expect(r.value).toBe(value);
    expect(r.unset).toEqual(unset ?? []);
  });

  const errors: Array<{ name: string; input: string; message: RegExp }> = [
    { name: ":? on unset", input: "${NOPE:?set NOPE please}", message: /required variable "NOPE" is not set: set NOPE please/ },
    { name: ":? on empty", input: "${EMPTY:?}", message: /required variable "EMPTY" is empty$/ },
    { name: "? on unset", input: "${NOPE?gone}", message: /required variable "NOPE" is not set: gone/ },
    { name: "nested :? in a used default", input: "${A:-${B:?need B}}", message: /"B" is not set: need B/ },
    { name: "empty braces", input: "${}", message: /invalid interpolation format "\$\{\}"/ },
    { name: "bad name", input: "${1X}", message: /invalid interpolation format "\$\{1X\}"/ },
    { name: "bad operator", input: "${A*b}", message: /invalid interpolation format/ },
    { name: "unterminated", input: "${A:-x", message: /unterminated/ },
    { name: "unterminated simple", input: "${A", message: /invalid interpolation format|unterminated/ },
  ];
  it.each(errors)("error: $name", ({ input, message }) => {
    expect(() => substituteVariables(input, lookup)).toThrow(message);
    expect(() => substituteVariables(input, lookup)).toThrow(InvalidInputError);
  });
});

describe("interpolateFile", () => {
  it("interpolates values, never keys, and reports unset variables once with their first location", () => {
    const file = parseYamlFile(
      ["services:", "  ${SET}:", "    image: app:${TAG}", "    environment:", "      A: $MISSING", "      B: ${MISSING}", "    labels: [x=$SET]", ""].join("\n"),
      "compose.yaml",
    );
    const r = interpolateFile(file, lookup);
    expect(r.doc).toEqual({ services: { "${SET}": { image: "app:1.2", environment: { A: "", B: "" }, labels: ["x=value"] } } });
    expect(r.unset).toEqual([{ name: "MISSING", where: "compose.yaml:5:10" }]);
  });

  it("a :? failure names file:line:col and the dotted path", () => {
    const file = parseYamlFile(["services:", "  web:", "    image: ${IMAGE:?set IMAGE}", ""].join("\n"), "compose.yaml");
    expect(() => interpolateFile(file, lookup)).toThrow('compose.yaml:3:12: services.web.image: required variable "IMAGE" is not set: set IMAGE');
  });

  it("an invalid template in a list names the index", () => {
    const file = parseYamlFile(["services:", "  web:", "    command: [echo, '${}']", ""].join("\n"), "c.yaml");
    expect(() => interpolateFile(file, lookup)).toThrow(/^c\.yaml:3:21: services\.web\.command\[1\]: invalid interpolation format/);
  });

  const casts: Array<{ name: string; yaml: string; expected: unknown }> = [
    { name: "replicas → number", yaml: "services: {w: {deploy: {replicas: '${N}'}}}", expected: { services: { w: { deploy: { replicas: 3 } } } } },
    { name: "port target → number", yaml: "services: {w: {ports: [{target: '$N'}]}}", expected: { services: { w: { ports: [{ target: 3 }] } } } },
    { name: "tty yes → true", yaml: "services: {w: {tty: '$YES'}}", expected: { services: { w: { tty: true } } } },
    { name: "external → boolean", yaml: "networks: {n: {external: '${X:-false}'}}", expected: { networks: { n: { external: false } } } },
    { name: "cpus → float", yaml: "services: {w: {cpus: '${C:-0.5}'}}", expected: { services: { w: { cpus: 0.5 } } } },
    { name: "not a number stays a string", yaml: "services: {w: {scale: '${X:-many}'}}", expected: { services: { w: { scale: "many" } } } },
    { name: "elsewhere stays a string", yaml: "services: {w: {image: '${N}'}}", expected: { services: { w: { image: "3" } } } },
    { name: "a ulimit (any key) → number", yaml: "services: {w: {ulimits: {nofile: '${N}'}}}", expected: { services: { w: { ulimits: { nofile: 3 } } } } },
    { name: "a ulimit's soft and hard → number", yaml: "services: {w: {ulimits: {nproc: {soft: '${N}', hard: '$N'}}}}", expected: { services: { w: { ulimits: { nproc: { soft: 3, hard: 3 } } } } } },
    { name: "a volume's read_only → boolean", yaml: "services: {w: {volumes: [{type: bind, source: ., target: /x, read_only: '$YES'}]}}", expected: { services: { w: { volumes: [{ type: "bind", source: ".", target: "/x", read_only: true }] } } } },
    { name: "a key named like a cast elsewhere stays a string", yaml: "services: {w: {labels: {tty: '$YES', replicas: '$N'}}}", expected: { services: { w: { labels: { tty: "yes", replicas: "3" } } } } },
  ];
  it.each(casts)("cast: $name", ({ yaml, expected }) => {
    expect(interpolateFile(parseYamlFile(yaml, "c.yaml"), lookup).doc).toEqual(expected);
  });
});
