/**
 * Whether this browser may hold a session: a flag (no secret, no name) set at login and cleared at
 * logout or when the API says the session ended. The session cookie is HttpOnly, so the page cannot
 * see it; asking `GET /whoami` without one is a refused credential (401), and the credential-stuffing
 * detector counts those per address: a few reloads of the login form would get the address blocked.
 * With no flag the page shows the login form without asking.
 */
const KEY = "palisade.session";

export function mayHaveSession(): boolean {
  try {
    return localStorage.getItem(KEY) === "1";
  } catch {
    return true; // no storage here: ask the API, as without this flag
  }
}

export function rememberSession(): void {
  try {
    localStorage.setItem(KEY, "1");
  } catch {
    // no storage: the next load asks the API
  }
}

export function forgetSession(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // no storage: nothing to forget
  }
}
