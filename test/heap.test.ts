import { describe, expect, it, vi } from 'vitest';
import { heapCollector } from '../node/heap.js';

describe('heapCollector', () => {
  it('asks for a major collection as a task at each interval, and stops', async () => {
    vi.useFakeTimers();
    try {
      const gc = vi.fn();
      const c = heapCollector(60_000, gc);
      await c.start(new AbortController().signal);
      expect(c.active).toBe(true);
      vi.advanceTimersByTime(59_999);
      expect(gc).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(gc).toHaveBeenCalledWith({ type: 'major', execution: 'async' });
      vi.advanceTimersByTime(120_000);
      expect(gc).toHaveBeenCalledTimes(3);
      await c.stop();
      expect(c.active).toBe(false);
      vi.advanceTimersByTime(600_000);
      expect(gc).toHaveBeenCalledTimes(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does nothing where gc is not exposed (a node started without --expose-gc)', async () => {
    const c = heapCollector(1000, undefined);
    await c.start(new AbortController().signal);
    expect(c.active).toBe(false);
    await c.stop();
  });
});
