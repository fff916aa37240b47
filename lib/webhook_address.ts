/**
 * SSRF guard for webhook URLs, applied at delivery time (a check when the link
 * is created alone loses to a DNS record changed afterwards). The URL's host is
 * resolved (A and AAAA; an IP literal is taken as is) and every address must be
 * public: loopback, private, link-local, CGNAT, unspecified, multicast,
 * reserved and cloud metadata addresses are refused. `allowLoopback` lets
 * loopback through, for local development and tests only.
 *
 * Residual risk, accepted and documented: `fetch` resolves the name again when
 * it connects, so a DNS server that answers a public address to this check and
 * a private one a moment later (DNS rebinding with a tiny TTL) can still steer
 * a delivery inward. Deno's `fetch` cannot be pinned to the addresses checked
 * here without breaking TLS for https URLs. Names that only the local resolver
 * knows (`/etc/hosts`) are not seen by `Deno.resolveDns`: such a name either
 * fails to resolve here (no delivery) or resolves publicly, the same rebinding
 * case. Redirects are never followed, so a receiver cannot bounce a delivery.
 */

/** What kind of address an IP is; anything but `public` is refused (`loopback` when allowed). */
export type AddressKind =
  | "public"
  | "loopback"
  | "private"
  | "link_local"
  | "cgnat"
  | "unspecified"
  | "multicast"
  | "metadata"
  | "reserved";

/** The outcome of checking a webhook URL's host. */
export type AddressCheck =
  | { ok: true; addresses: string[] }
  | {
    ok: false;
    /** `blocked_address` is final; `dns_error` may pass on a later attempt. */
    error: "blocked_address" | "dns_error" | "invalid_url";
    detail: string;
  };

function parseIpv4(text: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : null;
}

function parseIpv6(text: string): number[] | null {
  let s = text.replace(/^\[|\]$/g, "").replace(/%.*$/, "").toLowerCase();
  const lastColon = s.lastIndexOf(":");
  if (lastColon >= 0 && s.slice(lastColon + 1).includes(".")) {
    const v4 = parseIpv4(s.slice(lastColon + 1));
    if (!v4) return null;
    s = `${s.slice(0, lastColon + 1)}${((v4[0] << 8) | v4[1]).toString(16)}:${
      ((v4[2] << 8) | v4[3]).toString(16)
    }`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  const bytes: number[] = [];
  for (const group of all) {
    if (!/^[0-9a-f]{1,4}$/.test(group)) return null;
    const n = parseInt(group, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  return bytes;
}

function classifyIpv4([a, b, c, d]: number[]): AddressKind {
  if (a === 0) return "unspecified"; // 0.0.0.0/8, "this network"
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168)) return "private";
  if (a === 169 && b === 254) return c === 169 && d === 254 ? "metadata" : "link_local";
  if (a === 168 && b === 63 && c === 129 && d === 16) return "metadata"; // Azure's wire server
  if (a === 100 && (b & 0xc0) === 64) return "cgnat"; // 100.64/10 (Alibaba's metadata too)
  if (a >= 224 && a <= 239) return "multicast";
  if (a >= 240) return "reserved"; // 240/4 and the broadcast address
  if (a === 192 && b === 0 && c === 0) return "reserved"; // IETF protocol assignments
  if (a === 198 && (b & 0xfe) === 18) return "reserved"; // benchmarking
  return "public";
}

// fd00:ec2::254, EC2's IPv6 metadata endpoint (inside fc00::/7, named for clarity).
const EC2_METADATA_V6 = [0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54];

function classifyIpv6(b: number[]): AddressKind {
  const zeroUntil = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (zeroUntil(16)) return "unspecified";
  if (zeroUntil(15) && b[15] === 1) return "loopback";
  if (zeroUntil(10) && b[10] === 0xff && b[11] === 0xff) return classifyIpv4(b.slice(12)); // ::ffff:a.b.c.d
  // 64:ff9b::/96, NAT64: the IPv4 address it reaches decides.
  if (
    b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && b.slice(4, 12).every((x) => !x)
  ) {
    return classifyIpv4(b.slice(12));
  }
  if (b[0] === 0x20 && b[1] === 0x02) return classifyIpv4(b.slice(2, 6)); // 2002::/16, 6to4
  if (b[0] === 0) return "reserved"; // the rest of ::/8, IPv4-compatible addresses included
  if (b.every((x, i) => x === EC2_METADATA_V6[i])) return "metadata";
  if ((b[0] & 0xfe) === 0xfc) return "private"; // fc00::/7
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return "link_local"; // fe80::/10
  if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return "reserved"; // fec0::/10, old site-local
  if (b[0] === 0xff) return "multicast";
  return "public";
}

/** Classifies an IPv4 or IPv6 address (brackets allowed); null if it is not one. */
export function classifyIp(ip: string): AddressKind | null {
  const v4 = parseIpv4(ip);
  if (v4) return classifyIpv4(v4);
  const v6 = ip.includes(":") ? parseIpv6(ip) : null;
  return v6 ? classifyIpv6(v6) : null;
}

function isAllowed(kind: AddressKind | null, allowLoopback: boolean): boolean {
  return kind === "public" || (kind === "loopback" && allowLoopback);
}

async function resolve(host: string, signal?: AbortSignal): Promise<string[]> {
  const answers = await Promise.allSettled([
    Deno.resolveDns(host, "A", { signal }),
    Deno.resolveDns(host, "AAAA", { signal }),
  ]);
  return answers.flatMap((a) => (a.status === "fulfilled" ? a.value : []));
}

/**
 * Resolves the host of `url` and checks every address it has. An IP literal is
 * checked as is; `localhost` and `*.localhost` are loopback by definition
 * (RFC 6761) and never looked up.
 */
export async function checkWebhookAddress(
  url: string,
  options: { allowLoopback: boolean; signal?: AbortSignal },
): Promise<AddressCheck> {
  let host: string;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      return {
        ok: false,
        error: "invalid_url",
        detail: `Scheme ${parsed.protocol} is not http(s)`,
      };
    }
    host = parsed.hostname.replace(/\.$/, "").toLowerCase();
  } catch {
    return { ok: false, error: "invalid_url", detail: `"${url}" is not an absolute URL` };
  }
  let addresses: string[];
  if (classifyIp(host) !== null) {
    addresses = [host.replace(/^\[|\]$/g, "")];
  } else if (host === "localhost" || host.endsWith(".localhost")) {
    addresses = ["127.0.0.1", "::1"];
  } else {
    addresses = await resolve(host, options.signal);
    if (addresses.length === 0) {
      return { ok: false, error: "dns_error", detail: `${host} has no A or AAAA record` };
    }
  }
  for (const address of addresses) {
    const kind = classifyIp(address);
    if (!isAllowed(kind, options.allowLoopback)) {
      return {
        ok: false,
        error: "blocked_address",
        detail: `${host} resolves to ${address} (${kind ?? "unparsable"})`,
      };
    }
  }
  return { ok: true, addresses };
}
