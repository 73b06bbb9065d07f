/** Stylesheets imported for their side effect: esbuild emits them as /ui/app.css. */
declare module "*.css";
