// The images a command found in the store, by reference: found once, an image
// stays found for the rest of the command, so the services of one image look
// it up once (each lookup reads the store's index and the image's records).
// A build or pull of a reference forgets it: the next service then sees what
// they made, not what was there before.

export class FoundImages<T> {
  private readonly found = new Map<string, T>();

  constructor(private readonly lookup: (ref: string) => Promise<T | undefined>) {}

  /** The image `ref` names, from this command's earlier lookup when it found one. */
  async resolve(ref: string): Promise<T | undefined> {
    const known = this.found.get(ref);
    if (known !== undefined) return known;
    const image = await this.lookup(ref);
    if (image !== undefined) this.found.set(ref, image);
    return image;
  }

  /** After `ref` is built or pulled (or about to be): looked up again next time. */
  forget(ref: string): void {
    this.found.delete(ref);
  }
}
