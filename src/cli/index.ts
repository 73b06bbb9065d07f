export { main } from "./main.ts";
export type { PlatformOps, RunningPlatform, ServeRequest } from "./platform-ops.ts";
