// The subset reader must give exactly js-yaml's value (with the stack file
// schema) or give up: never a different value, never a value for a text
// js-yaml rejects. Checked on tables, on every fixture, on the bench's
// generated stack, and on seeded random edits of real-looking files.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import jsYaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { resolvePlainScalar, SCHEMA } from "../../../src/schema/yaml-file.js";
import { parseYamlSubset } from "../../../src/schema/yaml-subset.js";
// @ts-expect-error -- a plain .mjs module of the bench, without type declarations
import { generateStack } from "../../../bench/generate-stack.mjs";

const subset = (text: string) => parseYamlSubset(text, resolvePlainScalar);
const reference = (text: string): { value?: unknown; error?: unknown } => {
  try {
    return { value: jsYaml.load(text, { schema: SCHEMA }) };
  } catch (error) {
    return { error };
  }
};

/** Same value as js-yaml, or undefined; returns whether the subset took it. */
function expectAgrees(text: string): boolean {
  const got = subset(text);
  if (got === undefined) return false;
  const ref = reference(text);
  expect(ref.error, `js-yaml rejects what the subset read:\n${text}`).toBeUndefined();
  expect(got, text).toStrictEqual(ref.value);
  expect(JSON.stringify(got), text).toBe(JSON.stringify(ref.value)); // key order too
  return true;
}

const accepted: Array<[string, string]> = [
  ["mapping of scalars", "a: 1\nb: two\nc: 1.5\nd: true\ne: null\nf: ~\ng:\nh: 0x1F\ni: 0755\nj: 1e3\nk: .inf\nl: yes\nm: 'q''s'\nn: \"d\\\"q\\\\\"\no: -1\np: -x\n"],
  ["keys resolve like values, then become strings", "1: a\ntrue: b\nnull: c\n0x10: d\n010: e\n2.50: f\n\"q\": g\n'r': h\n"],
  ["nested blocks and sequences", "services:\n  web:\n    image: nginx\n    ports:\n      - \"80:80\"\n      - 443\n    command: [\"a\", b, 'c d']\n    x: {k: v, n: [1, 2], m: {}}\n    empty: []\n"],
  ["sequence at its key's indentation", "a:\n- 1\n- two\nb: 3\n"],
  ["compact mappings in sequences", "l:\n  - name: a\n    v: 1\n  -   name: b\n      v: [x]\n  - k:\n    - nested\n"],
  ["comments everywhere", "# head\na: 1 # one\n  # indented comment\nb: 'x # not a comment' # c\nc: a#b\nd: \"#\"\n"],
  ["anchors, aliases and merge keys", "x-a: &a\n  r: no\n  l: {k: v}\nx-b: &b {r: always, z: 1}\ns:\n  one:\n    <<: *a\n    r: yes\n  two:\n    r: keep\n    <<: [*a, *b]\n  three: *b\n  four: &s scalar\n  five: *s\n"],
  ["plain scalars with colons, commas and brackets", "a: http://x:80/p?q=1\nb: a,b\nc: x[1]\nd: 127.0.0.1:8080:80/udp\ne: ${VAR:-d}\nf: $$HOME\n"],
  ["a dash item with an empty value and a block", "l:\n  -\n    a: 1\n  - \n  - x\n"],
];

const givenUp: Array<[string, string]> = [
  ["block scalar", "a: |\n  text\n"],
  ["folded scalar", "a: >-\n  text\n"],
  ["tag", "a: !reset []\n"],
  ["multi-line plain scalar", "a: one\n  two\n"],
  ["multi-line flow", "a: [1,\n  2]\n"],
  ["document marker", "---\na: 1\n"],
  ["tab", "a:\t1\n"],
  ["CRLF", "a: 1\r\n"],
  ["duplicate key", "a: 1\na: 2\n"],
  ["duplicate flow key", "a: {b: 1, b: 2}\n"],
  ["unknown alias", "a: *nope\n"],
  ["bad indentation", "a:\n    b: 1\n  c: 2\n"],
  ["top-level list", "- a\n"],
  ["top-level scalar", "hello\n"],
  ["empty", "# nothing\n"],
  ["complex key", "? a\n: b\n"],
  ["nested dashes", "a:\n  - - x\n"],
  ["key with a colon", "a:b: c\n"],
  ["value with ': '", "a: b: c\n"],
  ["unterminated quote", "a: \"x\n"],
  ["quoted then text", "a: \"x\" y\n"],
  ["unusual escape", "a: \"\\u0041\"\n"],
  ["trailing comma", "a: [1, 2,]\n"],
  ["merge of a scalar", "x: &x 1\na:\n  <<: *x\n"],
  ["__proto__", "__proto__: 1\n"],
  ["indicator start", "a: @x\n"],
];

describe("parseYamlSubset", () => {
  it.each(accepted)("reads %s as js-yaml does", (_name, text) => {
    expect(expectAgrees(text)).toBe(true);
  });

  it.each(givenUp)("gives up on %s", (_name, text) => {
    expect(subset(text)).toBeUndefined();
  });

  it("resolves plain scalars of every first character as js-yaml does", () => {
    const tails = ["", "1", "0", "rue", "alse", "ull", "ULL", "x", ".5", "e3", "<", "_1", "b1", "o7", "x1F", "inf", "nan", "NaN", "o", "ff", "es", "-x", "_y", "FF", "RUE"];
    for (let code = 33; code < 127; code++) {
      for (const tail of tails) {
        const text = String.fromCharCode(code) + tail;
        if (/^[!&*|>'"%@`#,[\]{}]|^[-?:]$/.test(text)) continue; // not a plain scalar (a tag, an anchor, an indicator …)
        const ref = reference(`v: ${text}\n`);
        if (ref.error !== undefined || typeof ref.value !== "object" || ref.value === null) continue;
        const expected = (ref.value as Record<string, unknown>).v;
        if (expected === undefined) continue;
        expect(resolvePlainScalar(text), text).toStrictEqual(expected);
      }
    }
  });

  it("shares aliased objects as js-yaml does", () => {
    const doc = subset("x: &a {k: [1]}\na: *a\nb:\n  <<: *a\n")!;
    expect(doc.a).toBe(doc.x);
    expect((doc.b as Record<string, unknown>).k).toBe((doc.x as Record<string, unknown>).k);
  });

  it("reads the bench's generated 300-service stack as js-yaml does", () => {
    expect(expectAgrees(generateStack(300))).toBe(true);
  });

  it("agrees with js-yaml on every YAML fixture it takes", () => {
    const root = fileURLToPath(new URL("../../fixtures/", import.meta.url));
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (/\.ya?ml$/.test(name)) files.push(path);
      }
    };
    walk(root);
    expect(files.length).toBeGreaterThan(5);
    let taken = 0;
    for (const f of files) if (expectAgrees(readFileSync(f, "utf8"))) taken++;
    expect(taken).toBeGreaterThan(0);
  });

  it("agrees with js-yaml (or gives up) on seeded random edits of stack files", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const bases = [generateStack(3), ...accepted.map(([, t]) => t)];
    const inserts = [" ", "  ", ":", ": ", "#", " #", "-", "- ", "'", '"', "''", "&x ", "*x", "[", "]", "{", "}", ",", "<<: ", "\n", "\n  ", "\n- ", "!", "|", "?", "~", "0", "1.", "e3", "y", "null", "x: ", "\\", "\\n"];
    let taken = 0;
    for (let i = 0; i < 4000; i++) {
      let text = pick(bases);
      for (let k = 1 + Math.floor(random() * 3); k > 0; k--) {
        const at = Math.floor(random() * (text.length + 1));
        text = random() < 0.8 ? text.slice(0, at) + pick(inserts) + text.slice(at) : text.slice(0, at) + text.slice(at + 1 + Math.floor(random() * 3));
      }
      if (expectAgrees(text)) taken++;
    }
    expect(taken).toBeGreaterThan(500); // most edits stay in the subset, so the comparison has teeth
  });
});
