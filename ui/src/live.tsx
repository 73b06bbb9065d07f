/**
 * The live stream (`GET /admin/v1/stream`, Server-Sent Events) for the whole logged-in page: one
 * connection, opened at login and closed at logout, whose recent items every page can read. Items
 * are data from senders and functions: pages render them as text only.
 */
import { type ComponentChildren, createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import type { StreamItem } from "./types.ts";

/** Items kept in memory (newest first); older ones fall off. */
const KEEP = 500;

export type LiveStatus = "connecting" | "live" | "closed";

export interface Live {
  readonly status: LiveStatus;
  /** Newest first. */
  readonly items: readonly StreamItem[];
  /** Items the server left out since this page connected (it sends at most 500 per 250 ms). */
  readonly dropped: number;
  /** Why the stream is closed, when the server said. */
  readonly problem: string | undefined;
}

const LiveContext = createContext<Live>({ status: "closed", items: [], dropped: 0, problem: undefined });

export function useLive(): Live {
  return useContext(LiveContext);
}

export function LiveProvider({ children }: { readonly children: ComponentChildren }) {
  const [live, setLive] = useState<Live>({ status: "connecting", items: [], dropped: 0, problem: undefined });

  useEffect(() => {
    const source = new EventSource("/admin/v1/stream");
    source.addEventListener("hello", () => setLive((l) => ({ ...l, status: "live", problem: undefined })));
    source.addEventListener("batch", (e) => {
      const batch = parse(e.data);
      if (batch === undefined) return;
      setLive((l) => ({
        ...l,
        status: "live",
        items: [...batch.items.toReversed(), ...l.items].slice(0, KEEP),
        dropped: l.dropped + batch.dropped,
      }));
    });
    // Connection errors (EventSource reconnects by itself unless the server refused it) and the
    // server's own `error` message (too many streams) both arrive here.
    source.addEventListener("error", (e) => {
      const said = e instanceof MessageEvent ? messageOf(e.data) : undefined;
      setLive((l) => ({
        ...l,
        status: source.readyState === EventSource.CLOSED || said !== undefined ? "closed" : "connecting",
        problem: said ?? l.problem,
      }));
      if (said !== undefined) source.close();
    });
    return () => source.close();
  }, []);

  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

function parse(data: unknown): { items: StreamItem[]; dropped: number } | undefined {
  try {
    const batch = JSON.parse(String(data)) as { items?: unknown; dropped?: unknown };
    if (!Array.isArray(batch.items)) return undefined;
    return {
      items: batch.items as StreamItem[],
      dropped: typeof batch.dropped === "number" ? batch.dropped : 0,
    };
  } catch {
    return undefined;
  }
}

function messageOf(data: unknown): string | undefined {
  try {
    const message = (JSON.parse(String(data)) as { message?: unknown }).message;
    return typeof message === "string" ? message : undefined;
  } catch {
    return undefined;
  }
}
