/** Calls `load` every `intervalMs` while it is not null; stops on unmount. */
import { useEffect } from 'preact/hooks';

export function usePolling(load: () => Promise<void>, intervalMs: number | null): void {
  useEffect(() => {
    if (intervalMs === null) return;
    const timer = setInterval(() => void load(), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs, load]);
}
