/**
 * Keys and secrets: data key versions and what each seals (`GET /admin/v1/keys`), records still
 * sealed under an older one, and the secrets the app holds (`GET /secrets`: names, who uses them, a
 * rotation's grace; never a value). Only the admin role sees the Rotate buttons.
 */
import { useState } from "preact/hooks";
import { Badge } from "../components/badge.tsx";
import { Card } from "../components/card.tsx";
import { ConfirmButton } from "../components/confirm-button.tsx";
import { ErrorNote, Notice } from "../components/notice.tsx";
import { PageHeader } from "../components/page-header.tsx";
import { Stat } from "../components/stat.tsx";
import { formatCount, formatTime } from "../format.ts";
import { allows, useSession } from "../session.ts";
import type { KeysStatus, SecretStatus } from "../types.ts";
import { useAction } from "../use-action.ts";
import { useFetch } from "../use-fetch.ts";

export function KeysPage() {
  const { role } = useSession();
  const isAdmin = allows(role, "admin");
  return (
    <>
      <PageHeader
        title="Keys & secrets"
        subtitle="Encryption at rest and the secrets functions and callers use."
      />
      <DataKeys isAdmin={isAdmin} />
      <Secrets isAdmin={isAdmin} />
    </>
  );
}

function DataKeys({ isAdmin }: { readonly isAdmin: boolean }) {
  const { data, error, reload } = useFetch<KeysStatus>("/keys");
  const rotate = useAction<{ version: number }>();
  return (
    <Card
      title="Data keys"
      class="data-keys"
      actions={
        isAdmin ? (
          <ConfirmButton
            label="Rotate data key"
            question="New writes use a new key at once; older records are re-encrypted in the background."
            busy={rotate.busy}
            onConfirm={async () => {
              if ((await rotate.run("POST", "/keys/rotate")) !== undefined) reload();
            }}
          />
        ) : undefined
      }
    >
      {rotate.result === undefined ? null : (
        <Notice tone="ok">Now sealing with version {rotate.result.version}.</Notice>
      )}
      <ErrorNote error={rotate.error ?? error} />
      {data === undefined ? null : (
        <>
          <div class="grid grid-tight">
            <Stat label="Active version" value={data.active} />
            <Stat
              label="Sealed with an older key"
              value={formatCount(data.stale)}
              tone={data.stale > 0 ? "warn" : "ok"}
            />
            <Stat
              label="Stored in plaintext"
              value={formatCount(data.plaintext)}
              tone={data.plaintext > 0 ? "warn" : "ok"}
            />
          </div>
          <table class="table">
            <thead>
              <tr>
                <th>Version</th>
                <th>Created</th>
                <th>State</th>
                <th>Records sealed with it</th>
              </tr>
            </thead>
            <tbody>
              {data.versions.map((v) => (
                <tr key={v.version}>
                  <td>{v.version}</td>
                  <td class="nowrap">{formatTime(v.createdAt)}</td>
                  <td>
                    {v.active ? (
                      <Badge tone="ok">active</Badge>
                    ) : v.retired ? (
                      <Badge tone="muted">retired</Badge>
                    ) : (
                      <Badge tone="warn">older</Badge>
                    )}
                  </td>
                  <td>
                    {Object.entries(v.records)
                      .map(([store, n]) => `${store} ${formatCount(n)}`)
                      .join(", ") || "none"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Card>
  );
}

function Secrets({ isAdmin }: { readonly isAdmin: boolean }) {
  const { data, error, reload } = useFetch<SecretStatus[]>("/secrets");
  return (
    <Card title="Secrets" class="secrets">
      <p class="muted small">Names only: values never leave the secret store.</p>
      <ErrorNote error={error} />
      {data === undefined ? null : data.length === 0 ? (
        <p class="muted">No secrets.</p>
      ) : (
        <table class="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Used by</th>
              <th>Rotation grace</th>
              {isAdmin ? <th>Rotate</th> : null}
            </tr>
          </thead>
          <tbody>
            {data.map((s) => (
              <tr key={s.name}>
                <td class="mono">{s.name}</td>
                <td>{s.usedBy.length === 0 ? <span class="muted">unused</span> : s.usedBy.join(", ")}</td>
                <td>
                  {s.previousUntil === null
                    ? "—"
                    : `previous value valid until ${formatTime(s.previousUntil)}`}
                </td>
                {isAdmin ? (
                  <td>
                    <RotateSecret name={s.name} onRotated={reload} />
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Card>
  );
}

/** A new value for one secret, and how long the old one stays valid (for callers still holding it). */
function RotateSecret({ name, onRotated }: { readonly name: string; readonly onRotated: () => void }) {
  const [open, setOpen] = useState(false);
  const [value, setValue] = useState("");
  const [grace, setGrace] = useState("86400");
  const rotate = useAction<{ rotated: string; graceSec: number }>();
  if (!open)
    return (
      <>
        <button type="button" class="button button-small" onClick={() => setOpen(true)}>
          Rotate
        </button>
        {rotate.result === undefined ? null : <span class="tone-ok small"> rotated</span>}
      </>
    );
  return (
    <form
      class="inline-form"
      onSubmit={async (e) => {
        e.preventDefault();
        if (
          (await rotate.run("POST", `/secrets/${encodeURIComponent(name)}/rotate`, {
            value,
            graceSec: Number(grace),
          })) === undefined
        )
          return;
        setValue("");
        setOpen(false);
        onRotated();
      }}
    >
      <input
        type="password"
        aria-label={`New value of ${name}`}
        placeholder="new value"
        autocomplete="off"
        required
        value={value}
        onInput={(e) => setValue(e.currentTarget.value)}
      />
      <input
        type="number"
        aria-label="Grace in seconds"
        min="1"
        value={grace}
        onInput={(e) => setGrace(e.currentTarget.value)}
      />
      <button type="submit" class="button button-small button-danger" disabled={rotate.busy || value === ""}>
        Rotate
      </button>
      <button type="button" class="button button-small button-quiet" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ErrorNote error={rotate.error} />
    </form>
  );
}
