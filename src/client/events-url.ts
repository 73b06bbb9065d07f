import { CLIENT_BAD_OPTIONS, CLIENT_INSECURE_URL } from "./errors.ts";
import { PalisadeClientError } from "./palisade-client-error.ts";

/** The path of the gateway's CloudEvents intake when the URL names only the gateway. */
const DEFAULT_EVENTS_PATH = "/events";

/**
 * The intake URL for `url`: the gateway's address (`https://palisade.example`, then `/events`) or an
 * intake path of its own (`https://palisade.example/ingest`). A credential (API key or JWT) goes
 * only over HTTPS, or plain HTTP to a loopback address, as the CLI's `--url` does: anywhere else it
 * would be readable and replayable by anyone on the path.
 */
export function eventsUrl(url: string | URL, withCredential: boolean): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badOptions(
      `url "${String(url)}" is not a URL; give the gateway's address, like https://palisade.example`,
    );
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:")
    throw badOptions(
      `url "${parsed.origin}" uses "${parsed.protocol}"; use https:// (or http:// on loopback)`,
    );
  if (parsed.username !== "" || parsed.password !== "")
    throw badOptions("url must not carry a user name or password; pass the API key as apiKey");
  if (withCredential && parsed.protocol === "http:" && !isLoopback(parsed.hostname))
    throw new PalisadeClientError(
      CLIENT_INSECURE_URL,
      `Refusing to send a credential in the clear to "${parsed.origin}": use https://, or http:// only to a loopback address`,
      { status: 0 },
    );
  if (parsed.pathname === "/") parsed.pathname = DEFAULT_EVENTS_PATH;
  parsed.hash = "";
  return parsed;
}

// The URL parser has already normalised the host: IPv4 in any spelling becomes dotted decimal,
// IPv6 its compressed form in brackets.
function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

function badOptions(message: string): PalisadeClientError {
  return new PalisadeClientError(CLIENT_BAD_OPTIONS, message, { status: 0 });
}
