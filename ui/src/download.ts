/**
 * Saves text as a file: a Blob's object URL on a temporary `<a download>`. Nothing leaves the page and
 * no markup is built from the text; the URL is revoked once the browser has taken it.
 */
export function downloadText(fileName: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
