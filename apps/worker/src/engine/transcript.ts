/** The call transcript as the session builds it, capped at the size a call result accepts. */
import type { TranscriptEntry } from '@voxfleet/schema';

export type PromptEntry = Extract<TranscriptEntry, { kind: 'prompt' }>;

/** `CallResult.transcript` accepts at most this many entries. */
export const MAX_TRANSCRIPT_ENTRIES = 10_000;

export class Transcript {
  private readonly entries: TranscriptEntry[] = [];
  private droppedEntries = 0;

  /** Entries dropped because the transcript was full. */
  get dropped(): number {
    return this.droppedEntries;
  }

  /** Appends an entry and returns it, or returns undefined when the transcript is full. */
  add<T extends TranscriptEntry>(entry: T): T | undefined {
    if (this.entries.length >= MAX_TRANSCRIPT_ENTRIES) {
      this.droppedEntries++;
      return undefined;
    }
    this.entries.push(entry);
    return entry;
  }

  /**
   * Returns a copy ordered by `atMs`. Entries are added when they are known, so an utterance,
   * added when it ends, can follow a prompt that started while the caller was speaking. The
   * sort is stable, so entries with the same `atMs` keep the order they were added in.
   */
  toArray(): TranscriptEntry[] {
    return this.entries.map((entry) => ({ ...entry })).sort((a, b) => a.atMs - b.atMs);
  }
}
