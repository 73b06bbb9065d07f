/**
 * One node of the threat graph, drawn in SVG: its box (coloured by kind, red on a threat's path), a
 * one-line label, a tag on its top edge for what the guard rates it by (`✓ verified` for a source
 * whose every event is signed, `verified only` for a function that takes only those, a sink's auth),
 * and the full description as its tooltip. Names come from the manifest: rendered as text only.
 */
import { NODE_H, NODE_W, type PlacedNode } from "../graph-layout.ts";
import type { GraphNode } from "../types.ts";

const LABEL_MAX = 24;
const TAG_H = 16;

interface Tag {
  readonly text: string;
  readonly tone: "ok" | "warn" | "muted";
}

export function NodeBox({
  placed: { node, x, y },
  marked,
}: {
  readonly placed: PlacedNode;
  readonly marked: boolean;
}) {
  const tag = tagOf(node);
  const classes = [
    "node",
    `node-${node.kind}`,
    node.kind === "source" && node.trust === "verified" ? "node-verified" : "",
    node.kind === "function" && node.requireVerified === true ? "node-verified-only" : "",
    marked ? "node-threat" : "",
    node.strict === false ? "node-loose" : "",
  ];
  return (
    <g class={classes.filter((c) => c !== "").join(" ")} data-node={node.id}>
      <title>{describe(node)}</title>
      <rect class="node-box" x={x} y={y} width={NODE_W} height={NODE_H} rx="6" />
      <text class="node-label" x={x + 10} y={y + NODE_H / 2 + 4}>
        {clip(label(node), LABEL_MAX)}
      </text>
      {tag === undefined ? null : <NodeTag tag={tag} right={x + NODE_W - 8} top={y - TAG_H / 2} />}
    </g>
  );
}

/** A pill straddling the node's top edge, right-aligned. */
function NodeTag({ tag, right, top }: { readonly tag: Tag; readonly right: number; readonly top: number }) {
  // SVG text has no intrinsic box to size a background by: estimate from the length (10 px text).
  const width = Math.round(tag.text.length * 6.2) + 12;
  return (
    <g class={`node-tag node-tag-${tag.tone}`}>
      <rect class="node-tag-box" x={right - width} y={top} width={width} height={TAG_H} rx="8" />
      <text class="node-tag-text" x={right - width / 2} y={top + TAG_H / 2 + 3.5} text-anchor="middle">
        {tag.text}
      </text>
    </g>
  );
}

function tagOf(node: GraphNode): Tag | undefined {
  if (node.kind === "source" && node.trust === "verified") return { text: "✓ verified", tone: "ok" };
  if (node.kind === "function" && node.requireVerified === true) return { text: "verified only", tone: "ok" };
  if (node.kind === "sink")
    return node.auth ? { text: node.auth, tone: "muted" } : { text: "no auth", tone: "warn" };
  return undefined;
}

function label(node: GraphNode): string {
  if (node.kind === "source") return `${node.source ?? "source"}: ${node.name}`;
  if (node.kind === "function") {
    const privileges = [
      ...(node.secrets?.length ? ["secrets"] : []),
      ...(node.egress?.length ? ["egress"] : []),
      ...(node.kvWrite?.length ? ["kv"] : []),
    ];
    return privileges.length === 0 ? node.name : `${node.name} [${privileges.join(", ")}]`;
  }
  if (node.kind === "sink" && node.endpoint !== undefined) return `${node.name} → ${hostOf(node.endpoint)}`;
  return node.name;
}

/** `host:port` of an endpoint as the server gives it (`https://host:port/...`). */
function hostOf(endpoint: string): string {
  return endpoint.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/\/(\.\.\.)?$/, "");
}

function describe(node: GraphNode): string {
  const parts = [`${node.kind} ${node.name}`];
  if (node.detail !== undefined) parts.push(node.detail);
  if (node.trust !== undefined)
    parts.push(
      `trust: ${node.trust}${node.trust === "verified" ? " (every event signed by its producer)" : ""}`,
    );
  if (node.signing !== undefined) parts.push(`signing keys: ${node.signing.keys.join(", ")}`);
  if (node.strict !== undefined) parts.push(node.strict ? "strict schema" : "schema not strict");
  if (node.secrets?.length) parts.push(`secrets: ${node.secrets.join(", ")}`);
  if (node.egress?.length) parts.push(`egress: ${node.egress.join(", ")}`);
  if (node.kvWrite?.length) parts.push(`kv write: ${node.kvWrite.join(", ")}`);
  if (node.requireVerified === true) parts.push("takes verified events only");
  if (node.endpoint !== undefined) parts.push(`endpoint: ${node.endpoint}`);
  if (node.mode !== undefined) parts.push(`mode: ${node.mode}`);
  if (node.kind === "sink") parts.push(node.auth ? `auth: ${node.auth}` : "no auth");
  if (node.allowAddresses?.length) parts.push(`allows: ${node.allowAddresses.join(", ")}`);
  if (node.filter === true) parts.push("filtered");
  return parts.join("\n");
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
