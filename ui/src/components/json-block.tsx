/**
 * A value as indented JSON text. Data from senders is shown this way only: a text node inside
 * `<pre>`, never parsed as markup, so `<script>` in an event reads as the characters it is.
 */
export function JsonBlock({ value, class: extra }: { readonly value: unknown; readonly class?: string }) {
  return <pre class={extra === undefined ? "json" : `json ${extra}`}>{JSON.stringify(value, null, 2)}</pre>;
}
