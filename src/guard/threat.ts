import type { Severity } from "./finding.ts";

/** What kind of threat the event-flow graph shows. */
export type ThreatClass =
  | "untrusted-to-privileged"
  | "exfiltration"
  | "untrusted-to-sink"
  | "privilege-escalation"
  | "loop"
  | "spoofable-type"
  | "unconsumed-type"
  | "untriggered-function"
  | "unusable-grant";

export type Stride =
  | "Spoofing"
  | "Tampering"
  | "Repudiation"
  | "Information disclosure"
  | "Denial of service"
  | "Elevation of privilege";

/** One threat, with the path through the graph that shows it. */
export interface Threat {
  readonly class: ThreatClass;
  readonly stride: readonly Stride[];
  readonly severity: Severity;
  readonly message: string;
  readonly fix: string;
  /** Node ids from where it starts to where it ends (a loop ends where it starts). */
  readonly path: readonly string[];
  /** The path as a reader sees it. */
  readonly evidence: string;
}

/** Each class: its STRIDE categories and what it means (the `threats` documentation). */
export const THREAT_CLASSES: Readonly<Record<ThreatClass, { stride: readonly Stride[]; title: string }>> = {
  "untrusted-to-privileged": {
    stride: ["Tampering", "Elevation of privilege"],
    title:
      "Outside input reaches a function holding secrets, egress or a kv write grant (high when a hop's schema is not strict; one step lower when only signed events get there)",
  },
  exfiltration: {
    stride: ["Information disclosure"],
    title:
      "Outside input reaches a function holding both a secret and egress (high without a filter), or a function holding a secret emits what reaches a sink (high when outside input reaches it without a filter)",
  },
  "untrusted-to-sink": {
    stride: ["Tampering", "Spoofing"],
    title:
      "Outside input reaches a sink and leaves the platform with Palisade's credential and signature on it (medium when a hop's schema is not strict and the sink has no filter)",
  },
  "privilege-escalation": {
    stride: ["Elevation of privilege"],
    title: "A function can emit a type consumed by a function holding privileges it lacks",
  },
  loop: {
    stride: ["Denial of service"],
    title: "Events can cycle through functions; only the hop limit ends the chain (Denial of Wallet)",
  },
  "spoofable-type": {
    stride: ["Spoofing"],
    title: "A principal may publish a type the app produces itself, so consumers cannot tell a forged one",
  },
  "unconsumed-type": {
    stride: ["Denial of service"],
    title: "An event type no function consumes: accepted and stored for nothing",
  },
  "untriggered-function": {
    stride: ["Elevation of privilege"],
    title: "A function nothing can trigger: deployed code with no purpose",
  },
  "unusable-grant": {
    stride: ["Elevation of privilege"],
    title: "A grant no path can use (over-privilege waiting to be used)",
  },
};
