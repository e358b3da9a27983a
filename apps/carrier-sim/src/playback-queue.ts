/**
 * The bot's audio waiting to be "played" to the callee, with the worker's marks between
 * the chunks. The stream drains one 20 ms frame per tick, as a phone line plays it.
 */

type Entry = { kind: 'audio'; bytes: Uint8Array; offset: number } | { kind: 'mark'; name: string };

export interface PlayedFrame {
  /** μ-law bytes played in this frame; shorter than a frame when the queue ran dry. */
  audio: Uint8Array;
  /** Marks whose preceding audio finished in this frame, in queue order. */
  marks: string[];
}

export class PlaybackQueue {
  private entries: Entry[] = [];
  private head = 0;
  private buffered = 0;
  private readonly maxBufferedBytes: number;

  /** @param maxBufferedBytes audio beyond this is dropped, as Twilio drops past 10 minutes. */
  constructor(maxBufferedBytes: number) {
    this.maxBufferedBytes = maxBufferedBytes;
  }

  /** μ-law bytes queued and not yet played. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Queues audio; returns how many bytes were dropped because the queue was full. */
  pushAudio(bytes: Uint8Array): number {
    const room = Math.max(0, this.maxBufferedBytes - this.buffered);
    const kept = bytes.length <= room ? bytes : bytes.subarray(0, room);
    if (kept.length > 0) {
      this.entries.push({ kind: 'audio', bytes: kept, offset: 0 });
      this.buffered += kept.length;
    }
    return bytes.length - kept.length;
  }

  /**
   * Queues a mark behind the audio already queued. Returns true when nothing is queued,
   * which means the mark has played already and the caller echoes it at once.
   */
  pushMark(name: string): boolean {
    if (this.head === this.entries.length) return true;
    this.entries.push({ kind: 'mark', name });
    return false;
  }

  /** Plays up to `frameBytes` bytes and returns them with the marks they completed. */
  playFrame(frameBytes: number): PlayedFrame {
    const audio = new Uint8Array(frameBytes);
    const marks: string[] = [];
    let filled = 0;

    while (this.head < this.entries.length) {
      const entry = this.entries[this.head];
      if (entry === undefined) break;
      if (entry.kind === 'mark') {
        marks.push(entry.name);
        this.head++;
        continue;
      }
      if (filled === frameBytes) break;

      const take = Math.min(frameBytes - filled, entry.bytes.length - entry.offset);
      audio.set(entry.bytes.subarray(entry.offset, entry.offset + take), filled);
      entry.offset += take;
      filled += take;
      this.buffered -= take;
      if (entry.offset === entry.bytes.length) this.head++;
    }

    this.compact();
    return { audio: audio.subarray(0, filled), marks };
  }

  /** Drops every queued chunk and returns the names of the marks that were pending. */
  clear(): string[] {
    const marks: string[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i];
      if (entry?.kind === 'mark') marks.push(entry.name);
    }
    this.entries = [];
    this.head = 0;
    this.buffered = 0;
    return marks;
  }

  private compact(): void {
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
