// canonicalYaml must print exactly what the `yaml` library prints for the
// sorted value (the format `stack config` has always had): compared here on
// tables of tricky strings, as keys and values at several depths, and on
// seeded random documents.
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { sortDeep } from "../../../src/schema/canonical.js";
import { canonicalYaml, canonicalYamlChunks, OutsideCanonicalYaml } from "../../../src/schema/canonical-yaml.js";
import { renderModel, renderModelChunks, yamlText } from "../../../src/schema/render.js";
import { composeFile } from "../../../src/schema/compose-file.js";
import { makeService, makeStack } from "../../helpers/model.js";

const reference = (value: unknown) => stringify(sortDeep(value), { lineWidth: 0, aliasDuplicateObjects: false, version: "1.1" });

/** Strings that take each path of the quoting rules. */
const trickyStrings = [
  "", " ", "a", "abc def", "x:y", "x: y", "x:", "a #b", "a#b", "#a", "- a", "-a", "-", "?", "? a", "?a", ":", "::", ": a",
  "&a", "*a", "!a", "|", ">", "'", '"', "%a", "@a", "`a", "[a", "]", "{a", "}", ",a", "a,b", "a]", "tab\tin", "\tlead", "trail\t", "trail ",
  "y", "Y", "n", "N", "yes", "Yes", "YES", "no", "NO", "on", "On", "ON", "off", "OFF", "true", "True", "TRUE", "false", "FALSE", "yEs", "nO",
  "~", "null", "Null", "NULL", "nULL", "<<", "<", "<<<",
  "0", "1", "-1", "+1", "0755", "08", "0b101", "0b2", "0x1F", "0xG", "1_000", "_1", "1.5", ".5", "5.", "1e3", "1.5e-3", "e3", "1e", ".", "+.", "-.inf", ".inf",
  ".Inf", ".NaN", ".nan", ".NAN", "nan", "inf", "1:30", "1:30:59", "1:60", "-1:20.5", "190:20:30.15", "2024-01-01", "2024-1-1", "2024-01-01T10:00:00Z",
  "2024-01-01 10:00:00.5 +02:00", "2024-01-01x", "12:34:56", "8080:80", "127.0.0.1:8080:80/udp", "[::1]:80:80", "::1", "/path/to/x", "./rel", "~/home",
  "---", "--- a", "...", "...x", "%YAML", "a\nb", "a\n", "a\n\n", "\na", "\n\na", "\n", "\n\n", " a\nb", "a\n b", "a \nb", "a\n\tb", "a\nb\n ", "a\nb \n",
  "line one\nline two\nline three\n", "  indented\nmore\n", "a\n\n\nb\n\n", "---\na", "a\n---\nb", "a\n...", "a\n%b", "#!/bin/sh\necho hi\n",
  'say "hi"', "it's", `both ' and "`, 'multi "q"\nline', "it's\nmulti", "x\r\ny", "bell\u0007", "nul\u0000", "esc\u001b", "vt\u000b", "c1\u0085", "nbsp\u00a0",
  "ls\u2028ps\u2029", "del\u007f", "lone\ud800", "pair\ud83d\ude00", "é", "日本", "a\\b", "a\\nb", "back\\", "q\"", "a  b", "a ", " a",
  "a long double quoted value with a \u0007 bell and\nline breaks\n\nand more text", "a long double quoted value\n with a leading space after the break\u0001",
  "a long double quoted value with trailing space \n and a break\u0001", "short\n\u0001", "a long value ending in a break after control \u0001 chars\n",
  "a long value with three breaks \u0001\n\n\nafter them", "${VAR:-default}", "$$", "a=b", "KEY=value with spaces", "CMD-SHELL", "curl -f http://localhost/ || exit 1",
];

describe("canonicalYaml", () => {
  it("prints every tricky string as the yaml library does, as a key and as a value, at several depths", () => {
    for (const s of trickyStrings) {
      const docs: Record<string, unknown>[] = [
        { v: s },
        { [s === "" ? "k" : s]: "v" },
        { a: { b: { [s]: s } } },
        { a: [s, [s, { [s]: [s] }]] },
        { [s]: { [s]: s } },
      ];
      for (const doc of docs) expect(canonicalYaml(doc), JSON.stringify(doc)).toBe(reference(doc));
    }
  });

  it("prints numbers, booleans, nulls and empty collections as the yaml library does", () => {
    const doc = {
      n: [0, -0, 1, -5, 1e21, 1.5, 0.1, 1e-7, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53 + 2],
      b: [true, false],
      z: [null, undefined],
      dropped: undefined,
      e: {},
      l: [],
      ll: [[], [1, [2, 3]], {}, [{}], [[]]],
      m: [{ a: 1, b: [1], c: {} }, { d: { e: [] } }],
    };
    expect(canonicalYaml(doc)).toBe(reference(doc));
    expect(canonicalYaml({})).toBe(reference({}));
  });

  it("orders keys as a sorted copy enumerates them (array-index keys first, numerically)", () => {
    const doc = { b: 1, "10": 2, "9": 3, a: { "2": 1, "01": 2, "4294967295": 3, "4294967294": 4, "1.5": 5, Z: 6 } };
    expect(canonicalYaml(doc)).toBe(reference(doc));
  });

  it("orders objects of one shape (the same first key) right, whatever their other keys and their order", () => {
    const shapes: Array<Record<string, unknown>> = [
      { name: 1, b: 2, a: 3 },
      { name: 1, b: 2, a: 3 },
      { name: 1, a: 3, b: 2 },
      { name: 1, b: 2 },
      { name: 1, b: 2, a: undefined },
      { name: 1, c: 2, a: 3 },
      { name: 1, b: 2, a: 3, "7": 4 },
      { name: 1, zz: [{ name: 2, y: 1, x: 2 }], b: { name: 3, b: 1, a: 2 } },
      { a: 1, b: 2 },
      { b: 1, a: 2, name: 3 },
    ];
    for (const doc of shapes) expect(canonicalYaml({ doc }), JSON.stringify(doc)).toBe(reference({ doc }));
    expect(canonicalYaml({ all: shapes })).toBe(reference({ all: shapes }));
  });

  it("orders many shapes with one first key right, alternating (more of them than it remembers per first key)", () => {
    // Ports with and without host_ip, mounts of each type: a model alternates a few shapes per first key.
    const letters = "zyxwvutsrqponm".split("");
    // As many keys each, different ones: shape i holds letters i..i+3 (12 shapes), or i..i+(i % 5).
    const shapeOf = (i: number, n: number) => Object.fromEntries([["target", i], ...letters.slice(i % 12, (i % 12) + n).map((k, j) => [k, j])]);
    const items = Array.from({ length: 120 }, (_, i) => (i % 2 === 0 ? shapeOf(i, 4) : shapeOf(i, 1 + (i % 5))));
    expect(canonicalYaml({ items })).toBe(reference({ items }));
  });

  it("prints a document of many KB (written in segments) as the yaml library does", () => {
    const services: Record<string, unknown> = {};
    for (let i = 0; i < 300; i++) {
      services[`svc${i}`] = { image: `app:${i}`, ports: [{ target: 8000 + i, published: String(9000 + i) }], environment: { A: "1", LONG: "x".repeat(i * 7) }, command: ["serve", "--port", `${i}`] };
    }
    const doc = { name: "big", services };
    const text = canonicalYaml(doc);
    expect(text.length).toBeGreaterThan(100_000);
    expect(text).toBe(reference(doc));
    // The segments, as `stack config` writes them: a few KB each, together the same text.
    const chunks = canonicalYamlChunks(doc);
    expect(chunks.length).toBeGreaterThan(20);
    expect(chunks.join("")).toBe(text);
    for (const chunk of chunks) expect(chunk.length).toBeLessThan(4096 + 3000);
    expect(chunks[chunks.length - 1]!.endsWith("\n")).toBe(true);
  });

  it("quotes words that read as null, booleans or exponents, and no others", () => {
    const words = ["e5", "E+3", "e", "eE", "e5x", "tRUE", "oN", "Off", "yes-no", "nULL", "nil", "off_", "YES", "tcp", "tmpfs", "none", "E1"];
    for (const w of words) expect(canonicalYaml({ [w]: w }), w).toBe(reference({ [w]: w }));
  });

  it("matches the yaml library on seeded random documents", () => {
    let seed = 2026;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const alphabet = [..." \n\t:#-?\"'|>%.,[]{}&*!@`~<\\=/_+", ..."0123456789", ..."aeynoxTFN", "\r", "\u0001", "\u0085", "\u2028", "\ud800", "é"];
    const randomString = () => {
      if (random() < 0.2) return pick(trickyStrings);
      const n = Math.floor(random() * (random() < 0.2 ? 90 : 12));
      let s = "";
      for (let i = 0; i < n; i++) s += pick(alphabet);
      return s;
    };
    const randomValue = (depth: number): unknown => {
      const r = random();
      if (depth > 3 || r < 0.5) return random() < 0.85 ? randomString() : pick([0, 1.5, -3, true, false, null]);
      if (r < 0.75) return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(depth + 1));
      const o: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 4); i > 0; i--) o[randomString()] = randomValue(depth + 1);
      return o;
    };
    for (let i = 0; i < 3000; i++) {
      const doc: Record<string, unknown> = {};
      for (let k = Math.floor(random() * 4) + 1; k > 0; k--) doc[randomString()] = randomValue(0);
      expect(canonicalYaml(doc), JSON.stringify(doc)).toBe(reference(doc));
    }
  });

  it("leaves values outside plain data to the caller", () => {
    expect(() => canonicalYaml({ a: new Date(0) })).toThrow(OutsideCanonicalYaml);
    expect(() => canonicalYaml({ a: 1n })).toThrow(OutsideCanonicalYaml);
    expect(() => canonicalYaml({ ["k".repeat(1025)]: 1 })).toThrow(OutsideCanonicalYaml);
  });
});

describe("renderModel", () => {
  it("prints a key longer than 1024 characters the way the yaml library does (explicit `? key`)", () => {
    const model = makeStack([], { extensions: { "x-long": { ["k".repeat(1100)]: { a: 1 }, short: null } } });
    const text = renderModel(model, "yaml");
    expect(text).toBe(yamlText(composeFile(model)));
    expect(text).toContain(`? ${"k".repeat(1100)}\n`);
    expect(renderModelChunks(model, "yaml")).toEqual([text]);
  });

  it("gives the same text in pieces (renderModelChunks) as in one (renderModel), YAML and JSON", () => {
    const services = [];
    for (let i = 0; i < 100; i++) services.push(makeService(`svc${i}`, { image: `app:${i}`, command: ["serve", `${i}`], environment: { A: "yes", B: null } }));
    const model = makeStack(services);
    const yamlChunks = renderModelChunks(model, "yaml");
    expect(yamlChunks.length).toBeGreaterThan(1);
    expect(yamlChunks.join("")).toBe(renderModel(model, "yaml"));
    expect(yamlChunks.join("")).toBe(yamlText(composeFile(model)));
    expect(renderModelChunks(model, "json")).toEqual([renderModel(model, "json")]);
    const small = makeStack([]);
    expect(renderModelChunks(small, "yaml")).toEqual([renderModel(small, "yaml")]);
  });
});
