import { byCount, formatCount } from "../format.ts";

/** Counts by name (a reason, a function, a detector), largest first, or what to say when there are none. */
export function CountList({
  counts,
  empty,
}: {
  readonly counts: Readonly<Record<string, number>>;
  readonly empty: string;
}) {
  const rows = byCount(counts);
  if (rows.length === 0) return <p class="muted small">{empty}</p>;
  return (
    <ul class="count-list">
      {rows.map(([name, n]) => (
        <li key={name}>
          <span class="count-name">{name === "" ? "(none)" : name}</span>
          <span class="count-value">{formatCount(n)}</span>
        </li>
      ))}
    </ul>
  );
}
