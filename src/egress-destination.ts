/**
 * How the platform names an egress destination: `scheme://host:port` of a URL, the port written out
 * (443 for https, 80 for http). Usage records, novelty's pairs and capability holds all use this
 * form, so a hold an operator writes as `https://api.example.com` matches the calls the capability
 * host sees. A value that does not parse as a URL is kept as its raw text, cut short.
 */
export function egressDestination(url: string): string {
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol === "http:" ? "80" : u.protocol === "https:" ? "443" : "");
    return `${u.protocol}//${u.hostname}:${port}`;
  } catch {
    return url.slice(0, 200);
  }
}
