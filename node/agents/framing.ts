/** A container's stdout bytes -> protocol lines with a length limit. Pure (no I/O). */
/**
 * Newline-delimited lines of at most `maxBytes` (without the newline). A longer line is reported
 * once through `onTooLong` and its bytes are dropped up to the next newline.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: (bytesSoFar: number) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (!this.discarding) {
        if (this.size + piece.length > this.maxBytes) {
          this.discarding = true;
          this.onTooLong(this.size + piece.length);
          this.parts = [];
          this.size = 0;
        } else if (piece.length) {
          this.parts.push(piece);
          this.size += piece.length;
        }
      }
      if (nl === -1) return;
      if (!this.discarding) this.flush();
      this.discarding = false;
      start = nl + 1;
    }
  }

  /** End of stream: a last line without its newline still counts. */
  end(): void {
    if (!this.discarding && this.size > 0) this.flush();
    this.parts = [];
    this.size = 0;
  }

  private flush(): void {
    const line = Buffer.concat(this.parts, this.size).toString('utf8').replace(/\r$/, '');
    this.parts = [];
    this.size = 0;
    if (line.trim() !== '') this.onLine(line);
  }
}
