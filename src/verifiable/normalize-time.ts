/** RFC 3339 timestamps as the verifiability extension signs them (UTC, whole seconds). */
/**
 * RFC 3339 timestamp → UTC, whole seconds, `Z` (Signing Protocol step 3.8): the offset is applied,
 * any fraction truncated, no offset read as UTC. A leap second (`:60`) is kept as written.
 */
export function normalizeTime(text: string): string | undefined {
  const n = text.length;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  if (n < 19 || text[4] !== "-" || text[7] !== "-" || text[13] !== ":" || text[16] !== ":") return undefined;
  if ((text[10] !== "T" && text[10] !== "t") || year < 0 || month < 1 || month > 12 || day < 1)
    return undefined;
  if (day > daysInMonth(year, month) || hour < 0 || hour > 23 || minute < 0 || minute > 59) return undefined;
  if (second < 0 || second > 60) return undefined;
  let i = 19;
  if (text[i] === ".") {
    i++;
    const start = i;
    while (i < n && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
    if (i === start) return undefined;
  }
  let offset = 0;
  if (i === n - 1 && (text[i] === "Z" || text[i] === "z")) {
    if (n === 20 && text[10] === "T" && text[19] === "Z") return text;
  } else if (i === n - 6 && (text[i] === "+" || text[i] === "-") && text[i + 3] === ":") {
    const oh = digits(text, i + 1, 2);
    const om = digits(text, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offset = (text[i] === "-" ? -1 : 1) * (oh * 60 + om);
  } else if (i !== n) {
    return undefined;
  }
  // +400 years (one whole Gregorian cycle) keeps Date.UTC from reading years 0–99 as 1900–1999.
  const utc = new Date(Date.UTC(year + 400, month - 1, day, hour, minute - offset));
  const y = utc.getUTCFullYear() - 400;
  if (y < 0 || y > 9999) return undefined;
  return `${String(y).padStart(4, "0")}-${pad2(utc.getUTCMonth() + 1)}-${pad2(utc.getUTCDate())}T${pad2(
    utc.getUTCHours(),
  )}:${pad2(utc.getUTCMinutes())}:${text.slice(17, 19)}Z`;
}

function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const c = text.charCodeAt(i);
    if (!(c >= 48 && c <= 57)) return -1;
    value = value * 10 + (c - 48);
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** The `signedextattrs` rules of the `dssematerial` attribute (plus CloudEvents naming when signing). */
