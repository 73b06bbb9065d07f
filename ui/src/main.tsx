/**
 * The Palisade dashboard: a page over the admin API (`/admin/v1`). It holds no data of its own and
 * no credential: a login trades an admin key for an HttpOnly session cookie.
 */
import { render } from "preact";
import { App } from "./app.tsx";
import "./app.css";

const root = document.getElementById("root");
if (root !== null) render(<App />, root);
