/** Sizes the device keeps to, so no message it sends is refused. */

/** No message sent to the server is larger than this many bytes (the relay refuses 3 MB). */
export const MAX_MESSAGE_BYTES = 3_000_000;

/** The largest base64 screenshot sent, leaving room for the rest of its message. */
export const MAX_SCREENSHOT_CHARS = 2_900_000;

/** The largest value (JSON, HTML, text, a response body) that fits in a result. */
export const MAX_VALUE_CHARS = 2_900_000;

/**
 * Unacknowledged messages kept for resending beyond this many bytes make the
 * device skip new telemetry (results are always kept).
 */
export const MAX_UNACKED_BYTES = 48 * 1024 * 1024;
