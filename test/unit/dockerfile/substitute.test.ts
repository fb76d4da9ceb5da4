import { describe, expect, it } from "vitest";
import { processWord, processWords, SubstitutionError } from "../../../src/image/dockerfile/substitute.js";

const env = new Map([
  ["x", "value"],
  ["empty", ""],
  ["path", "/usr/local/bin/app.tar.gz"],
  ["spaced", "a  b"],
]);

describe("processWord", () => {
  it.each([
    ["$x", "value"],
    ["${x}", "value"],
    ["pre${x}post", "prevaluepost"],
    ["$x-$x", "value-value"],
    ["$unset", ""],
    ["${unset}", ""],
    ["${x:-d}", "value"],
    ["${empty:-d}", "d"],
    ["${empty-d}", ""],
    ["${unset-d}", "d"],
    ["${unset:-$x}", "value"],
    ["${x:+alt}", "alt"],
    ["${empty:+alt}", ""],
    ["${empty+alt}", "alt"],
    ["${unset+alt}", ""],
    ["${x?err}", "value"],
    ["${empty?err}", ""],
    ["${path#*/}", "usr/local/bin/app.tar.gz"],
    ["${path##*/}", "app.tar.gz"],
    ["${path%.*}", "/usr/local/bin/app.tar"],
    ["${path%%.*}", "/usr/local/bin/app"],
    ["${path/local/opt}", "/usr/opt/bin/app.tar.gz"],
    ["${path//a/A}", "/usr/locAl/bin/App.tAr.gz"],
    ["\\$x", "$x"],
    ["\\\\$x", "\\value"],
    ["'$x'", "$x"],
    ['"$x"', "value"],
    ['"\\$x"', "$x"],
    ['"a\\b"', "a\\b"],
    ['"say \\"hi\\""', 'say "hi"'],
    ["'it'\\''s'", "it's"],
    ["$", "$"],
    ["a$", "a$"],
    ["$1", ""],
    ["100%", "100%"],
    ["trailing\\", "trailing"],
  ])("%s → %s", (word, expected) => {
    expect(processWord(word, env)).toBe(expected);
  });

  it("uses the backtick escape token", () => {
    expect(processWord("`$x c:\\dir", env, { escapeToken: "`" })).toBe("$x c:\\dir");
  });

  it("keeps unset references with skipUnsetEnv", () => {
    expect(processWord("$a ${b} ${c:-d} $x", env, { skipUnsetEnv: true })).toBe("$a ${b} ${c:-d} value");
  });

  it("keeps quotes with rawQuotes and escapes with rawEscapes", () => {
    expect(processWord(`"a" 'b' \\c`, env, { rawQuotes: true, rawEscapes: true })).toBe(`"a" 'b' \\c`);
  });

  it.each([
    ["${unset?}", "unset: is not allowed to be unset"],
    ["${unset?must be set}", "unset: must be set"],
    ["${empty:?}", "empty: is not allowed to be empty"],
    ["${unset:?needed}", "unset: needed"],
    ["${x", "syntax error: missing '}'"],
    ["${x:-abc", "syntax error: missing '}'"],
    ["${}", "syntax error: bad substitution"],
    ["${:x}", "syntax error: bad substitution"],
    ["${x!}", "unsupported modifier (!) in substitution"],
    ["'open", "unexpected end of statement while looking for matching single-quote"],
    ['"open', "unexpected end of statement while looking for matching double-quote"],
  ])("%s fails: %s", (word, message) => {
    expect(() => processWord(word, env)).toThrow(SubstitutionError);
    expect(() => processWord(word, env)).toThrow(message);
  });
});

describe("processWords", () => {
  it.each([
    ["a b  c", ["a", "b", "c"]],
    ['"a b" c', ["a b", "c"]],
    ["$spaced", ["a", "b"]],
    ['"$spaced"', ["a  b"]],
    ["a\\ b", ["a b"]],
    ['""', []],
    ["  ", []],
  ])("%j → %j", (word, expected) => {
    expect(processWords(word, env)).toEqual(expected);
  });
});
