/** Validation of recording keys, shared by every `RecordingStore` backend. */

/** Keys are relative paths of letters, digits, `_`, `-` and `.` segments. */
const KEY_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

/** Raises when `key` is not a relative path of safe segments, such as `ten_1/call_1.wav`. */
export function assertRecordingKey(key: string): void {
  if (!KEY_PATTERN.test(key)) {
    throw new Error(
      `invalid recording key "${key}": use relative path segments of letters, digits, "_", "-" and "."`,
    );
  }
}
