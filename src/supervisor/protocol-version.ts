// The supervisor protocol's version, in a module of its own so that the
// warm-run client (src/cli/run-handoff.ts) can name it without loading the
// protocol's error classes.
export const PROTOCOL_VERSION = 1;
