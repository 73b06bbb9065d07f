/**
 * The dashboard's files at `/ui/`: `ui/index.html` and the Preact app in `ui/src/` bundled by esbuild
 * (the bundler the platform already uses for functions) into one script and one stylesheet, in
 * memory, on the first request for them (then kept for the life of the process). No CDN, no inline
 * script or style: the Content-Security-Policy allows only these files. The page itself holds no
 * data; everything it shows comes from `/admin/v1`, which needs a session.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { FastifyInstance } from "fastify";
import { PalisadeError } from "../errors.ts";
import { ADMIN_NOT_FOUND, ADMIN_UNAVAILABLE } from "./errors.ts";

const UI_DIR = fileURLToPath(new URL("../../ui/", import.meta.url));

interface Asset {
  readonly type: string;
  readonly body: string;
}

let assets: Promise<ReadonlyMap<string, Asset>> | undefined;

/** The dashboard's files by name (`index.html`, `app.js`, `app.css`), built once per process. */
export function uiAssets(): Promise<ReadonlyMap<string, Asset>> {
  assets ??= bundle().catch((err: unknown) => {
    assets = undefined; // a later request tries again (the sources may have been fixed)
    throw new PalisadeError(
      ADMIN_UNAVAILABLE,
      `The dashboard could not be built: ${(err as Error).message.split("\n")[0]}`,
      { status: 503 },
    );
  });
  return assets;
}

async function bundle(): Promise<ReadonlyMap<string, Asset>> {
  const result = await build({
    entryPoints: { app: `${UI_DIR}src/main.tsx` },
    bundle: true,
    write: false,
    minify: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: "/ui-out",
    logLevel: "silent",
    legalComments: "none",
  });
  const files = new Map<string, Asset>([
    ["index.html", { type: "text/html; charset=utf-8", body: readFileSync(`${UI_DIR}index.html`, "utf8") }],
  ]);
  for (const f of result.outputFiles) {
    const name = f.path.slice(f.path.lastIndexOf("/") + 1);
    if (name === "app.js") files.set(name, { type: "text/javascript; charset=utf-8", body: f.text });
    if (name === "app.css") files.set(name, { type: "text/css; charset=utf-8", body: f.text });
  }
  return files;
}

/** `/ui/` (the page, a login form until a session exists) and its two files, open to anyone. */
export function registerUi(scope: FastifyInstance): void {
  scope.get("/ui", async (_request, reply) => reply.redirect("/ui/", 308));
  scope.get("/ui/", async (_request, reply) => send(reply, "index.html"));
  scope.get("/ui/*", async (request, reply) => {
    const path = (request.params as { "*": string })["*"];
    // A file is one segment with a dot (app.js); every other path is a client-side page
    // (/ui/events, /ui/events/<id>, …): the same page, so a reload or a link in a new tab works.
    return send(reply, !path.includes("/") && path.includes(".") ? path : "index.html");
  });
}

async function send(reply: import("fastify").FastifyReply, name: string) {
  const asset = (await uiAssets()).get(name);
  if (asset === undefined)
    throw new PalisadeError(ADMIN_NOT_FOUND, `No dashboard file "${name.slice(0, 64)}"`, { status: 404 });
  return reply.type(asset.type).send(asset.body);
}
