// The stack file names looked for when none is given, in order of preference.
// A module of its own: bin/stack's warm-run client reads it without the loader.
export const STANDARD_FILE_NAMES = ["stack.yaml", "compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"] as const;
