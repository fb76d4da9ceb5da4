import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../../../src/errors.js";
import { extractFlags, parseDockerfile, splitWordsKeepingQuotes } from "../../../src/image/dockerfile/parser.js";

type Shape = { line?: number; endLine?: number; cmd: string; flags?: string[]; args: string[]; json?: boolean };

function shapes(text: string): Shape[] {
  return parseDockerfile(text).nodes.map((n) => ({ line: n.line, endLine: n.endLine, cmd: n.cmd, flags: n.flags, args: n.args, json: n.json }));
}

const cases: Array<{ name: string; input: string; expected: Shape[] }> = [
  { name: "shell form keeps the rest as one string", input: "FROM a\nRUN  echo   hi  \n", expected: [{ line: 1, endLine: 1, cmd: "from", flags: [], args: ["a"], json: false }, { line: 2, endLine: 2, cmd: "run", flags: [], args: ["echo   hi"], json: false }] },
  { name: "instruction names are case-insensitive", input: "from a\nRun x", expected: [{ cmd: "from", args: ["a"] }, { cmd: "run", args: ["x"] }] },
  { name: "exec form", input: 'CMD ["a", "b c"]', expected: [{ cmd: "cmd", args: ["a", "b c"], json: true }] },
  { name: "exec form ignores what follows the array", input: 'CMD ["a"] trailing', expected: [{ cmd: "cmd", args: ["a"], json: true }] },
  { name: "empty exec form", input: "CMD []", expected: [{ cmd: "cmd", args: [], json: true }] },
  { name: "invalid JSON falls back to shell form", input: "RUN [a, b]\nCMD ['x']\nENTRYPOINT [\"unterminated\"", expected: [{ cmd: "run", args: ["[a, b]"], json: false }, { cmd: "cmd", args: ["['x']"], json: false }, { cmd: "entrypoint", args: ['["unterminated"'], json: false }] },
  { name: "continuations join lines and keep indentation", input: "RUN a \\\n    b \\\n\tc\n", expected: [{ line: 1, endLine: 3, cmd: "run", args: ["a     b \tc"] }] },
  { name: "comments and empty lines inside a continuation are skipped", input: "RUN a \\\n# note \\\n  # indented\n\n   \n  b\nRUN c", expected: [{ line: 1, endLine: 6, cmd: "run", args: ["a   b"] }, { line: 7, endLine: 7, cmd: "run", args: ["c"] }] },
  { name: "continuation with trailing blanks after the backslash", input: "RUN a \\  \n b", expected: [{ cmd: "run", args: ["a  b"] }] },
  { name: "escaped backslash does not continue", input: "RUN a\\\\\nRUN b", expected: [{ cmd: "run", args: ["a\\\\"] }, { cmd: "run", args: ["b"] }] },
  { name: "a lone backslash line continues", input: "RUN \\\n\\\n a", expected: [{ line: 1, endLine: 3, cmd: "run", args: ["a"] }] },
  { name: "backtick escape directive", input: "# escape=`\nFROM a\nRUN dir `\n  c:\\x\\", expected: [{ cmd: "from", args: ["a"] }, { line: 3, endLine: 4, cmd: "run", args: ["dir   c:\\x\\"] }] },
  { name: "directive after a comment is only a comment", input: "# hello\n# escape=`\nRUN a `\nRUN b", expected: [{ cmd: "run", args: ["a `"] }, { cmd: "run", args: ["b"] }] },
  { name: "CRLF line endings", input: "FROM a\r\nRUN b \\\r\n c\r\n", expected: [{ cmd: "from", args: ["a"] }, { line: 2, endLine: 3, cmd: "run", args: ["b  c"] }] },
  { name: "byte order mark", input: "\uFEFFFROM a", expected: [{ cmd: "from", args: ["a"] }] },
  { name: "flags", input: "COPY --from=build --chown=\"a b\" --link src dst", expected: [{ cmd: "copy", flags: ["--from=build", "--chown=a b", "--link"], args: ["src", "dst"] }] },
  { name: "-- ends the flags", input: "COPY --link -- --weird dst", expected: [{ cmd: "copy", flags: ["--link"], args: ["--weird", "dst"] }] },
  { name: "RUN flags before exec form", input: 'RUN --mount=type=cache,target=/root/.cache --network=none ["a"]', expected: [{ cmd: "run", flags: ["--mount=type=cache,target=/root/.cache", "--network=none"], args: ["a"], json: true }] },
  { name: "ENV k=v pairs, quotes kept", input: 'ENV a=1 b="two words" c=\'x\' d=e\\ f', expected: [{ cmd: "env", args: ["a", "1", "=", "b", '"two words"', "=", "c", "'x'", "=", "d", "e\\ f", "="] }] },
  { name: "ENV legacy form keeps the rest", input: "ENV PATH /usr/bin:$PATH  more", expected: [{ cmd: "env", args: ["PATH", "/usr/bin:$PATH  more", ""] }] },
  { name: "LABEL pairs", input: 'LABEL "com.example.vendor"="ACME" version=1.0', expected: [{ cmd: "label", args: ['"com.example.vendor"', '"ACME"', "=", "version", "1.0", "="] }] },
  { name: "ARG words", input: 'ARG a b=1 c="x y"', expected: [{ cmd: "arg", args: ["a", "b=1", 'c="x y"'] }] },
  { name: "FROM and EXPOSE split on blanks", input: "FROM --platform=$BUILDPLATFORM golang:1.22  AS  build\nEXPOSE 80/tcp 443", expected: [{ cmd: "from", flags: ["--platform=$BUILDPLATFORM"], args: ["golang:1.22", "AS", "build"] }, { cmd: "expose", args: ["80/tcp", "443"] }] },
  { name: "ADD/COPY/VOLUME JSON or words", input: 'COPY ["a b", "/c"]\nVOLUME /a /b\nVOLUME ["/d"]\nADD "x y" /z', expected: [{ cmd: "copy", args: ["a b", "/c"], json: true }, { cmd: "volume", args: ["/a", "/b"] }, { cmd: "volume", args: ["/d"], json: true }, { cmd: "add", args: ['"x', 'y"', "/z"] }] },
  { name: "single-string instructions", input: "USER app:app\nWORKDIR /my dir\nSTOPSIGNAL SIGTERM\nMAINTAINER Jane <j@x>", expected: [{ cmd: "user", args: ["app:app"] }, { cmd: "workdir", args: ["/my dir"] }, { cmd: "stopsignal", args: ["SIGTERM"] }, { cmd: "maintainer", args: ["Jane <j@x>"] }] },
  { name: "HEALTHCHECK forms", input: 'HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/ || exit 1\nHEALTHCHECK CMD ["true"]\nHEALTHCHECK NONE', expected: [{ cmd: "healthcheck", flags: ["--interval=5s", "--retries=3"], args: ["CMD", "curl -f http://x/ || exit 1"], json: false }, { cmd: "healthcheck", args: ["CMD", "true"], json: true }, { cmd: "healthcheck", args: ["NONE"], json: false }] },
  { name: "SHELL", input: 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]', expected: [{ cmd: "shell", args: ["/bin/bash", "-o", "pipefail", "-c"], json: true }] },
  { name: "comments between instructions", input: "# a\nFROM a\n   # indented comment\n\nRUN b # not a comment", expected: [{ line: 2, cmd: "from", args: ["a"] }, { line: 5, cmd: "run", args: ["b # not a comment"] }] },
];

describe("parseDockerfile", () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = shapes(c.input);
      expect(got).toHaveLength(c.expected.length);
      c.expected.forEach((e, i) => expect(got[i]).toMatchObject(e));
    });
  }

  it("nests the ONBUILD trigger", () => {
    const [n] = parseDockerfile("ONBUILD COPY --chown=1 . /app").nodes;
    expect(n).toMatchObject({ cmd: "onbuild", args: [], flags: [], onbuild: { cmd: "copy", flags: ["--chown=1"], args: [".", "/app"], line: 1, endLine: 1 } });
  });

  it("accepts an unknown ONBUILD trigger, as Docker checks triggers only when they run", () => {
    const [, n] = parseDockerfile("FROM a\nONBUILD FROB x").nodes;
    expect(n).toMatchObject({ cmd: "onbuild", onbuild: { cmd: "frob", args: [""] } });
  });

  it("records directives", () => {
    const p = parseDockerfile("# syntax=docker/dockerfile:1\n#escape = `\nFROM a");
    expect(p.directives).toEqual({ escapeToken: "`", syntax: "docker/dockerfile:1" });
  });

  it("warns about empty continuation lines", () => {
    expect(parseDockerfile("RUN a \\\n\n b").warnings).toHaveLength(1);
  });
});

describe("heredocs", () => {
  const cases: Array<{ name: string; input: string; heredocs: Array<{ name: string; content: string; expand: boolean; chomp?: boolean; fileDescriptor?: number }>; endLine: number; args?: string[] }> = [
    { name: "RUN <<EOF", input: "RUN <<EOF\necho $HOME\n  indented\nEOF\n", heredocs: [{ name: "EOF", content: "echo $HOME\n  indented\n", expand: true }], endLine: 4, args: ["<<EOF"] },
    { name: "quoted delimiters do not expand", input: "RUN <<\"A\" <<'B'\na\nA\nb\nB", heredocs: [{ name: "A", content: "a\n", expand: false }, { name: "B", content: "b\n", expand: false }], endLine: 5 },
    { name: "partly quoted delimiter", input: 'RUN <<E"O"F\nx\nEOF', heredocs: [{ name: "EOF", content: "x\n", expand: false }], endLine: 3 },
    { name: "<<- matches a tab-indented terminator and keeps the body as written", input: "RUN <<-EOF\n\tx\n\tEOF", heredocs: [{ name: "EOF", content: "\tx\n", expand: true, chomp: true }], endLine: 3 },
    { name: "COPY <<EOF /file", input: "COPY <<EOF /etc/x\nhello\nEOF", heredocs: [{ name: "EOF", content: "hello\n", expand: true }], endLine: 3, args: ["<<EOF", "/etc/x"] },
    { name: "file descriptor", input: "RUN cat 3<<EOF\nx\nEOF", heredocs: [{ name: "EOF", content: "x\n", expand: true, fileDescriptor: 3 }], endLine: 3 },
    { name: "empty body", input: "RUN <<EOF\nEOF", heredocs: [{ name: "EOF", content: "", expand: true }], endLine: 2 },
    { name: "quoted << is no heredoc", input: 'RUN echo "<<EOF"', heredocs: [], endLine: 1 },
    { name: "exec form has no heredocs", input: 'RUN ["<<EOF"]', heredocs: [], endLine: 1 },
    { name: "ONBUILD RUN heredoc", input: "ONBUILD RUN <<EOF\nx\nEOF", heredocs: [{ name: "EOF", content: "x\n", expand: true }], endLine: 3 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [n] = parseDockerfile(c.input).nodes;
      expect(n!.heredocs).toMatchObject(c.heredocs);
      expect(n!.heredocs).toHaveLength(c.heredocs.length);
      expect(n!.endLine).toBe(c.endLine);
      if (c.args) expect(n!.args).toEqual(c.args);
    });
  }
});

describe("parse errors", () => {
  const cases: Array<{ name: string; input: string; message: RegExp }> = [
    { name: "unknown instruction with suggestion", input: "FROM a\n\nRUNN x", message: /^Dockerfile:3: unknown instruction "RUNN" \(did you mean RUN\?\)$/ },
    { name: "unknown instruction without suggestion", input: "FROM a\nFROBNICATE x", message: /^Dockerfile:2: unknown instruction "FROBNICATE"$/ },
    { name: "unterminated heredoc", input: "FROM a\nRUN <<EOF\nx", message: /^Dockerfile:3: unterminated heredoc "EOF"/ },
    { name: "empty file", input: "\n# only a comment\n", message: /file with no instructions/ },
    { name: "invalid escape token", input: "# escape=x\nFROM a", message: /^Dockerfile:1: invalid escape token 'x'/ },
    { name: "repeated directive", input: "# escape=`\n# escape=\\\nFROM a", message: /^Dockerfile:2: only one escape parser directive/ },
    { name: "non-string JSON array", input: "FROM a\nCMD [1, 2]", message: /^Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only$/ },
    { name: "ENV legacy form without value", input: "FROM a\nENV only", message: /^Dockerfile:2: ENV must have two arguments$/ },
    { name: "LABEL pair without =", input: "FROM a\nLABEL a=1 b", message: /^Dockerfile:2: Syntax error - can't find = in "b"/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      let err: unknown;
      try {
        parseDockerfile(c.input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as Error).message).toMatch(c.message);
      expect((err as InvalidInputError).hint).toBeTruthy();
    });
  }

  it("names the file given", () => {
    expect(() => parseDockerfile("RUNN", "app/Dockerfile.dev")).toThrow(/^app\/Dockerfile.dev:1: /);
  });
});

describe("word and flag splitting", () => {
  it.each([
    ["--a=1 --b rest of line", ["--a=1", "--b"], "rest of line"],
    ["--a='x y' -b", ["--a=x y"], "-b"],
    ['--a="" x', ["--a="], "x"],
    ["--a\\ b=c d", ["--a b=c"], "d"],
    ["--only", ["--only"], ""],
  ])("extractFlags(%j)", (line, flags, rest) => {
    expect(extractFlags(line)).toEqual({ flags, rest });
  });

  it.each([
    ['a "b c" d', "\\", ["a", '"b c"', "d"]],
    ["a\\ b c", "\\", ["a\\ b", "c"]],
    ["a`  b", "`", ["a` ", "b"]],
    ["'it''s' x", "\\", ["'it''s'", "x"]],
    ['k=""', "\\", ['k=""']],
  ])("splitWordsKeepingQuotes(%j, %j)", (rest, esc, words) => {
    expect(splitWordsKeepingQuotes(rest, esc)).toEqual(words);
  });
});
