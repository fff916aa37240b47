/**
 * `POST /v1/device/claim`: trades a claim code for a device token.
 *
 * @module
 */
import { type DeviceClaim, deviceClaimSchema } from "@passage/connect/schemas";

/** The server refused the claim (or could not be reached). */
export class DeviceClaimError extends Error {
  /** The API error code (`claim_code_not_found`, `claim_code_used`…), or `network_error` / `invalid_response`. */
  readonly code: string;
  /** The HTTP status, or 0 when there was no answer. */
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = "DeviceClaimError";
    this.code = code;
    this.status = status;
  }
}

/** Claims `claimCode` at `server` (an origin, optionally with a base path). */
export async function claimDevice(server: string, claimCode: string): Promise<DeviceClaim> {
  let res: Response;
  try {
    res = await fetch(`${server}/v1/device/claim`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ claimCode }),
    });
  } catch (error) {
    throw new DeviceClaimError(
      "network_error",
      0,
      `Could not reach ${server} to claim the code: ${(error as Error).message}`,
    );
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    throw new DeviceClaimError(
      typeof error?.code === "string" ? error.code : `http_${res.status}`,
      res.status,
      typeof error?.message === "string"
        ? error.message
        : `Claiming the code failed with HTTP ${res.status}`,
    );
  }
  const parsed = deviceClaimSchema.safeParse(body);
  if (!parsed.success) {
    throw new DeviceClaimError(
      "invalid_response",
      res.status,
      `The claim answer is not what the device expects: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}
