// An ADD source that is a URL (fetched, never read from the context): ADD's
// plan and the builder's memo rule (no context memo for such a step) ask it.

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}
