/** Error codes of the admin domain (the admin API, its sessions and the dashboard). */
/** No or unknown admin credential, or an expired session: 401. */
export const ADMIN_UNAUTHENTICATED = "PAL_ADMIN_UNAUTHENTICATED";
/** A credential that may not do this: a producer's key, or a role below the route's: 403. */
export const ADMIN_FORBIDDEN = "PAL_ADMIN_FORBIDDEN";
/** A state-changing request from a session without its CSRF token: 403. */
export const ADMIN_CSRF = "PAL_ADMIN_CSRF";
/** What the request names does not exist (an event id, a dead letter, a trace): 404. */
export const ADMIN_NOT_FOUND = "PAL_ADMIN_NOT_FOUND";
/** A query or body that is not what the route takes: 400, naming the field and the fix. */
export const ADMIN_BAD_REQUEST = "PAL_ADMIN_BAD_REQUEST";
/** The operation needs something this deployment does not have here (for example NATS audit on a node): 501. */
export const ADMIN_UNAVAILABLE = "PAL_ADMIN_UNAVAILABLE";
/** The operation cannot be done now (already quarantined, not held): 409. */
export const ADMIN_CONFLICT = "PAL_ADMIN_CONFLICT";
