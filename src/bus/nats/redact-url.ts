/**
 * Redaction of credentials in URLs, for every message and log line about a NATS server or its
 * monitoring endpoint: `nats://user:secret@host` becomes `nats://user:***@host`, and a token alone
 * (`nats://secret@host`) becomes `nats://***@host`. Works on text that does not parse as a URL too,
 * since a malformed URL is exactly what an error message quotes.
 */

/** One URL with its password (or bare token) replaced by `***`. */
export function redactUrl(url: string): string {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url)?.[0] ?? "";
  const rest = url.slice(scheme.length);
  // Everything before the last "@" is credentials: a password may hold "/", "@" or ":" unencoded,
  // and redacting a path that holds "@" (NATS URLs have none) is the safe way to be wrong.
  const at = rest.lastIndexOf("@");
  if (at === -1) return url;
  const userinfo = rest.slice(0, at);
  const colon = userinfo.indexOf(":");
  const redacted = colon === -1 ? "***" : `${userinfo.slice(0, colon)}:***`;
  return `${scheme}${redacted}${rest.slice(at)}`;
}

/** A comma-separated list of URLs (a seed list), each redacted. */
export function redactUrls(urls: string): string {
  return urls
    .split(",")
    .map((u) => redactUrl(u.trim()))
    .join(",");
}
