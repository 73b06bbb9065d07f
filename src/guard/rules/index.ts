import type { CheckContext } from "../check-context.ts";
import type { RuleOutcome } from "../finding.ts";
import { DATA_FLOW_RULES } from "./data-flow.ts";
import { DEPENDENCY_RULES } from "./dependencies.ts";
import { GRANT_RULES } from "./grants.ts";
import { INGRESS_RULES } from "./ingress.ts";
import { LIMIT_RULES } from "./limits.ts";
import { PLATFORM_RULES } from "./platform.ts";
import { SCHEMA_RULES } from "./schemas.ts";
import { SECRET_RULES } from "./secret-reads.ts";
import { SINK_RULES } from "./sinks.ts";

/** The check of each rule in the catalogue, by id (the waiver rules PAL09x are applied by runChecks). */
export const RULE_CHECKS: Readonly<Record<string, (ctx: CheckContext) => RuleOutcome>> = {
  ...INGRESS_RULES,
  ...GRANT_RULES,
  ...SINK_RULES,
  ...LIMIT_RULES,
  ...SCHEMA_RULES,
  ...DATA_FLOW_RULES,
  ...SECRET_RULES,
  ...DEPENDENCY_RULES,
  ...PLATFORM_RULES,
};
