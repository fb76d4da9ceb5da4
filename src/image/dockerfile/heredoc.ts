// Heredocs (`RUN <<EOF`, `COPY <<-"EOF" /file`): which words of an
// instruction line open one, and with which name and expansion rule.
import { processWords } from "./substitute.js";

export interface Heredoc {
  name: string;
  /** The body as written, every line with its newline; `<<-` tab stripping is applied by `chompHeredoc`. */
  content: string;
  /** False when any part of the delimiter was quoted: the body is then taken literally. */
  expand: boolean;
  /** `<<-`: leading tabs are removed from the body and the terminator. */
  chomp: boolean;
  /** The file descriptor written before `<<` (`3<<EOF`), 0 when absent. */
  fileDescriptor: number;
}

const heredocWord = /^(\d*)<<(-?)([^<]*)$/;
const noEnv = new Map<string, string>();

/** The heredoc a single word opens (`<<EOF`, `<<-'END'`), or undefined. */
export function parseHeredocWord(word: string): Omit<Heredoc, "content"> | undefined {
  const m = heredocWord.exec(word);
  if (!m) return undefined;
  const rest = m[3]!;
  if (rest === "") return undefined;
  const words = processWords(rest, noEnv, { skipUnsetEnv: true });
  if (words.length !== 1) return undefined;
  const raw = processWords(rest, noEnv, { skipUnsetEnv: true, rawQuotes: true });
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return {
    name: words[0]!,
    expand: quotes(words[0]!) === quotes(raw[0] ?? ""),
    chomp: m[2] === "-",
    fileDescriptor: m[1] === "" ? 0 : Number(m[1]),
  };
}

/** Every heredoc opened on an instruction line, in order. */
export function heredocsInLine(line: string): Array<Omit<Heredoc, "content">> {
  let words: string[];
  try {
    words = processWords(line, noEnv, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch {
    return [];
  }
  const docs: Array<Omit<Heredoc, "content">> = [];
  for (const w of words) {
    const d = parseHeredocWord(w);
    if (d) docs.push(d);
  }
  return docs;
}

/** The body of a `<<-` heredoc with leading tabs removed from every line. */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, "");
}
