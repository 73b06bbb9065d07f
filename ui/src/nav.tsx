/** The sidebar: every page, who is logged in with which role, the live stream's state, and logout. */
import { Badge } from "./components/badge.tsx";
import { Mark } from "./components/mark.tsx";
import { useLive } from "./live.tsx";
import { PAGES, type PageName } from "./paths.ts";
import { Link } from "./router.tsx";
import { useSession } from "./session.ts";

const ENTRIES: readonly [PageName, string][] = [
  ["overview", "Overview"],
  ["events", "Live events"],
  ["functions", "Functions"],
  ["graph", "Threat graph"],
  ["dlq", "Dead letters"],
  ["quarantine", "Quarantine"],
  ["audit", "Audit log"],
  ["traces", "Traces"],
  ["keys", "Keys & secrets"],
];

interface NavProps {
  /** The page shown (its entry is marked), or undefined on an event, trace or unknown path. */
  readonly current: PageName | undefined;
  readonly onLogOut: () => void;
}

export function Nav({ current, onLogOut }: NavProps) {
  const { admin, role, app } = useSession();
  const live = useLive();
  return (
    <nav class="sidebar" aria-label="Dashboard">
      <div class="brand">
        <Mark />
        <span>Palisade</span>
      </div>
      <div class="app-name" title="The app this platform runs">
        {app}
      </div>
      <ul class="nav-list">
        {ENTRIES.map(([page, label]) => (
          <li key={page}>
            <Link to={PAGES[page]} class={page === current ? "nav-link active" : "nav-link"}>
              {label}
            </Link>
          </li>
        ))}
      </ul>
      <div class="sidebar-foot">
        <div class={`live-status live-${live.status}`} title={live.problem}>
          <span class="dot" aria-hidden="true" />
          {live.status === "live" ? "Live" : live.status === "connecting" ? "Connecting…" : "Stream closed"}
        </div>
        <div class="who">
          <span class="who-name">{admin}</span>
          <Badge tone="muted">{role}</Badge>
        </div>
        <button type="button" class="button button-quiet logout" onClick={onLogOut}>
          Log out
        </button>
      </div>
    </nav>
  );
}
