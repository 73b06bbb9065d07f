import type { ComponentChildren } from "preact";

interface CardProps {
  readonly title?: ComponentChildren;
  /** Buttons or links at the right of the title. */
  readonly actions?: ComponentChildren;
  readonly class?: string;
  readonly children: ComponentChildren;
}

/** A white panel with an optional title row: the unit every page is built from. */
export function Card({ title, actions, class: extra, children }: CardProps) {
  return (
    <section class={extra === undefined ? "card" : `card ${extra}`}>
      {title === undefined && actions === undefined ? null : (
        <header class="card-head">
          <h2>{title}</h2>
          {actions === undefined ? null : <div class="card-actions">{actions}</div>}
        </header>
      )}
      {children}
    </section>
  );
}
