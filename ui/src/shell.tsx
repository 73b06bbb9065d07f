/** The logged-in page: the sidebar and the page the path names. */
import { Card } from "./components/card.tsx";
import { Nav } from "./nav.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { DlqPage } from "./pages/dlq.tsx";
import { EventPage } from "./pages/event.tsx";
import { EventsPage } from "./pages/events.tsx";
import { FunctionsPage } from "./pages/functions.tsx";
import { GraphPage } from "./pages/graph.tsx";
import { KeysPage } from "./pages/keys.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { QuarantinePage } from "./pages/quarantine.tsx";
import { TracePage } from "./pages/trace.tsx";
import { TracesPage } from "./pages/traces.tsx";
import { PAGES, type Route, routeOf } from "./paths.ts";
import { Link, usePath } from "./router.tsx";

export function Shell({ onLogOut }: { readonly onLogOut: () => void }) {
  const route = routeOf(usePath());
  const current = route.page === "event" ? "events" : route.page === "trace" ? "traces" : route.page;
  return (
    <div class="layout">
      <Nav current={current === "unknown" ? undefined : current} onLogOut={onLogOut} />
      <main class="content">
        <Page route={route} />
      </main>
    </div>
  );
}

function Page({ route }: { readonly route: Route }) {
  switch (route.page) {
    case "overview":
      return <OverviewPage />;
    case "events":
      return <EventsPage />;
    case "event":
      return <EventPage key={route.id} id={route.id} />;
    case "functions":
      return <FunctionsPage />;
    case "graph":
      return <GraphPage />;
    case "dlq":
      return <DlqPage />;
    case "quarantine":
      return <QuarantinePage />;
    case "audit":
      return <AuditPage />;
    case "traces":
      return <TracesPage />;
    case "trace":
      return <TracePage key={route.traceId} traceId={route.traceId} />;
    case "keys":
      return <KeysPage />;
    case "unknown":
      return (
        <Card title="No such page">
          <p>
            Nothing lives at <code>{route.path}</code>. <Link to={PAGES.overview}>Back to the overview</Link>
          </p>
        </Card>
      );
  }
}
