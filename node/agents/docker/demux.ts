/**
 * Docker's multiplexed attach stream (no TTY; 8-byte frame headers: stream id, 3 zero bytes,
 * big-endian length) split into stdout and stderr bytes. Pure (no I/O).
 */
export class DockerDemuxer {
  private pending: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onStdout: (chunk: Buffer) => void,
    private readonly onStderr: (chunk: Buffer) => void,
  ) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const stream = this.pending[0];
      const length = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + length) break;
      const payload = this.pending.subarray(8, 8 + length);
      this.pending = this.pending.subarray(8 + length);
      if (stream === 2) this.onStderr(payload);
      else this.onStdout(payload);
    }
  }
}
