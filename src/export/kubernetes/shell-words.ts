// Splits a command string into words the way a POSIX shell would (and the way
// Compose splits a string `command:`/`entrypoint:`): blanks separate words,
// single quotes keep everything literal, double quotes keep blanks and honour
// \" \\ \$ \` escapes, a backslash outside quotes escapes the next character.
// Operators (|, &&, ;) are NOT interpreted: like Compose, they become words.
import { InvalidInputError } from "../../errors.js";

export function splitShellWords(text: string, path: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  const fail = (what: string): never => {
    throw new InvalidInputError(`${path}: ${JSON.stringify(text)} has an unterminated ${what}`, { hint: "close the quote, or write the command as a list" });
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) fail("single quote");
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      for (;;) {
        if (i >= text.length) fail("double quote");
        const d = text[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === "\\" && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1]!)) {
          if (text[i + 1] !== "\n") word += text[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
    } else if (c === "\\") {
      if (i + 1 < text.length && text[i + 1] !== "\n") {
        word += text[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
