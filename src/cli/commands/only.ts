// A registration file that adds several top-level commands is given `only`,
// the one a command line runs (src/cli/main.ts); without it, it adds all.
export function adds(only: string | undefined, command: string): boolean {
  return only === undefined || only === command;
}
