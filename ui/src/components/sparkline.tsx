/**
 * A small line chart of recent values, drawn as SVG geometry (attributes, not styles: the CSP allows
 * no inline style).
 */
const WIDTH = 120;
const HEIGHT = 32;

export function Sparkline({ values, label }: { readonly values: readonly number[]; readonly label: string }) {
  if (values.length < 2)
    return <svg class="sparkline" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} aria-hidden="true" />;
  const top = Math.max(...values, 1);
  const step = WIDTH / (values.length - 1);
  const points = values.map(
    (v, i) => `${(i * step).toFixed(1)},${(HEIGHT - 2 - (v / top) * (HEIGHT - 4)).toFixed(1)}`,
  );
  return (
    <svg class="sparkline" viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={label}>
      <polyline points={points.join(" ")} />
    </svg>
  );
}
