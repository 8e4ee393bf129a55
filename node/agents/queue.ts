/** A small unbounded async queue: producers push, one consumer awaits. Pure. */
export class AsyncQueue<T> {
  private items: T[] = [];
  private waiter: ((item: T) => void) | null = null;

  push(item: T): void {
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w(item);
    } else {
      this.items.push(item);
    }
  }

  /** The next item; resolves as soon as one is pushed. */
  next(): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }
}
