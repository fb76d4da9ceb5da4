import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { parseDotenv } from "../../../src/schema/dotenv.js";
import { parseRawEnvFile } from "../../../src/schema/load.js";

const shell: Record<string, string> = { HOME: "/root", USER: "alice" };
const lookup = (n: string) => (Object.hasOwn(shell, n) ? shell[n] : undefined);

describe("parseDotenv", () => {
  const cases: Array<{ name: string; text: string; expected: Record<string, string> }> = [
    { name: "simple", text: "A=1\nB=two\n", expected: { A: "1", B: "two" } },
    { name: "empty value", text: "A=\n", expected: { A: "" } },
    { name: "spaces around = and value", text: "  A = hello world  \n", expected: { A: "hello world" } },
    { name: "export prefix", text: "export A=1\nexport  B=2", expected: { A: "1", B: "2" } },
    { name: "comments and blank lines", text: "# c\n\n  # indented\nA=1 # trailing\nB=x#notcomment\n", expected: { A: "1", B: "x#notcomment" } },
    { name: "single quotes are literal", text: "A='$HOME \\n # x'\n", expected: { A: "$HOME \\n # x" } },
    { name: "double quotes: escapes", text: 'A="a\\nb\\tc\\\\d\\"e"\n', expected: { A: 'a\nb\tc\\d"e' } },
    { name: "double quotes: interpolation", text: 'A="$HOME/x"\n', expected: { A: "/root/x" } },
    { name: "double quotes: escaped dollar", text: 'A="\\$HOME"\n', expected: { A: "$HOME" } },
    { name: "double quotes keep #", text: 'A="a # b" # c\n', expected: { A: "a # b" } },
    { name: "unquoted interpolation with default", text: "A=${NOPE:-dflt}/${USER}\n", expected: { A: "dflt/alice" } },
    { name: "earlier variable of the same file", text: "A=1\nB=${A}2\n", expected: { A: "1", B: "12" } },
    { name: "shell wins over the file for lookups", text: "USER=bob\nB=$USER\n", expected: { USER: "bob", B: "alice" } },
    { name: "multiline double-quoted", text: 'KEY="line1\nline2"\nB=2\n', expected: { KEY: "line1\nline2", B: "2" } },
    { name: "multiline single-quoted", text: "KEY='-----BEGIN-----\nabc\n-----END-----'\n", expected: { KEY: "-----BEGIN-----\nabc\n-----END-----" } },
    { name: "bare key takes the lookup's value", text: "USER\nNOPE\n", expected: { USER: "alice" } },
    { name: "CRLF line ends", text: "A=1\r\nB=2\r\n", expected: { A: "1", B: "2" } },
    { name: "dotted and dashed names", text: "a.b-c=1\n", expected: { "a.b-c": "1" } },
    { name: "value with =", text: "URL=postgres://u:p@h/db?x=1\n", expected: { URL: "postgres://u:p@h/db?x=1" } },
    { name: "later definition wins", text: "A=1\nA=2\n", expected: { A: "2" } },
  ];
  it.each(cases)("$name", ({ text, expected }) => {
    expect(parseDotenv(text, ".env", lookup)).toEqual(expected);
  });

  const errors: Array<{ name: string; text: string; message: string }> = [
    { name: "unterminated double quote", text: 'A=1\nB="open\nC=2\n', message: ".env:2: the quoted value of B is not terminated" },
    { name: "unterminated single quote", text: "B='x", message: ".env:1: the quoted value of B is not terminated" },
    { name: "bad name", text: "A=1\n1BAD=2\n", message: '.env:2: invalid variable name "1BAD"' },
    { name: "space in name", text: "MY VAR=2\n", message: '.env:1: invalid variable name "MY VAR"' },
    { name: "junk after quotes", text: 'A="x" y\n', message: '.env:1: unexpected "y" after the quoted value of A' },
    { name: "required variable", text: "A=${NEED:?please}\n", message: '.env:1: required variable "NEED" is not set: please' },
    { name: "garbage line", text: "!!!\n", message: '.env:1: invalid line "!!!"' },
  ];
  it.each(errors)("error: $name", ({ text, message }) => {
    expect(() => parseDotenv(text, ".env", lookup)).toThrow(InvalidInputError);
    expect(() => parseDotenv(text, ".env", lookup)).toThrow(message);
  });
});

describe("parseRawEnvFile", () => {
  it("takes values literally", () => {
    expect(parseRawEnvFile("# c\nA='q' $X\nB\n\nC=a=b\n")).toEqual({ A: "'q' $X", B: "", C: "a=b" });
  });
});
