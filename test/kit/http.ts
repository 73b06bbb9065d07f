/** The API key test apps give their `tester` principal (see `testPrincipal`). */
export const TEST_KEY = "test-key-0123456789abcdef";

/** POSTs `body` to `url` as the test principal (or with `key`, or unauthenticated with `null`). */
export async function post(
  url: string,
  body: unknown,
  contentType = "application/json",
  key: string | null = TEST_KEY,
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { "content-type": contentType };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await fetch(url, {
    method: "POST",
    headers,
    body: typeof body === "string" || body instanceof Buffer ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // leave as text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
