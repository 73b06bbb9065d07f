import type { ComponentChildren } from "preact";

interface PageHeaderProps {
  readonly title: string;
  readonly subtitle?: ComponentChildren;
  readonly actions?: ComponentChildren;
}

/** A page's heading (the one `h1`), a line on what it shows, and page-wide buttons. */
export function PageHeader({ title, subtitle, actions }: PageHeaderProps) {
  return (
    <header class="page-head">
      <div>
        <h1>{title}</h1>
        {subtitle === undefined ? null : <p class="subtitle">{subtitle}</p>}
      </div>
      {actions === undefined ? null : <div class="page-actions">{actions}</div>}
    </header>
  );
}
