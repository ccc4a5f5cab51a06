// The local time zone's abbreviation, for strftime's %Z in time() and strftime() values (tsbpf run and the simulator
// print them): what glibc's strftime writes. Takes a Date; gives the name the zone's rules give its offset then
// ("CET" or "CEST", "IST", "-03" for a zone written <-03>), read as glibc reads them: TZ (a POSIX rule such as
// "EST5EDT", or a zone file, ":Europe/Paris" or a path), else /etc/localtime, whose current rule is the POSIX string
// a TZif file (version 2 and later) ends with. The offset is JavaScript's, which reads the same zone files; an offset
// the rule does not give (a bare POSIX rule JavaScript cannot read keeps its times in UTC) is named as JavaScript
// names it.

import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";

interface ZoneRule {
  /** Standard time's name and its offset east of UTC, in minutes. */
  std: string;
  stdOffset: number;
  /** Daylight saving time's name and offset, where the rule has one. */
  dst?: string;
  dstOffset?: number;
}

let cached: { tz: string | undefined; rule: ZoneRule | undefined } | undefined;

/** The abbreviation of the local zone at `date` (not UTC: %Z of a UTC time is "UTC"). */
export function zoneAbbreviation(date: Date): string {
  const tz = process.env.TZ;
  if (!cached || cached.tz !== tz) cached = { tz, rule: localRule(tz) };
  const rule = cached.rule;
  const offset = -date.getTimezoneOffset();
  if (rule?.stdOffset === offset) return rule.std;
  if (rule?.dst && rule.dstOffset === offset) return rule.dst;
  return intlName(date);
}

/** The rule TZ names (or /etc/localtime's, TZ unset), undefined where neither a file nor a POSIX string gives one. */
function localRule(tz: string | undefined): ZoneRule | undefined {
  if (tz === "") return { std: "UTC", stdOffset: 0 };
  const name = tz?.startsWith(":") ? tz.slice(1) : tz;
  const file = name === undefined ? "/etc/localtime" : isAbsolute(name) ? name : join(process.env.TZDIR ?? "/usr/share/zoneinfo", name);
  const footer = tzifFooter(file);
  if (footer !== undefined) return posixRule(footer);
  // Not a zone file: TZ itself is a POSIX rule.
  return name !== undefined && !tz!.startsWith(":") ? posixRule(name) : undefined;
}

/** The POSIX TZ string a TZif file of version 2 or later ends with (between its last two newlines). */
function tzifFooter(file: string): string | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  if (bytes.length < 46 || bytes.toString("latin1", 0, 4) !== "TZif" || bytes[4]! < 0x32 || bytes[bytes.length - 1] !== 0x0a) return undefined;
  return bytes.toString("latin1", bytes.lastIndexOf(0x0a, bytes.length - 2) + 1, bytes.length - 1);
}

/**
 * The names and standard offset of a POSIX TZ rule: `std offset [dst [offset][,start,end]]`, a name being three or
 * more letters or anything in <>, an offset west of UTC in [+-]hours[:minutes[:seconds]] (daylight saving time's an hour
 * less than standard time's unless given). A name without an offset stands for UTC under that name, as glibc takes it.
 */
function posixRule(text: string): ZoneRule | undefined {
  const NAME = "(<[^>]*>|[A-Za-z]{3,})";
  const OFFSET = "([+-]?\\d{1,3}(?::\\d{1,2}){0,2})";
  const m = new RegExp(`^${NAME}(?:${OFFSET}(?:${NAME}${OFFSET}?)?)?`).exec(text);
  if (!m) return undefined;
  const name = (s: string) => s.replace(/^<(.*)>$/, "$1");
  const east = (offset: string) => {
    const [h = 0, min = 0] = offset.replace(/^[+-]/, "").split(":").map(Number);
    return (offset.startsWith("-") ? 1 : -1) * (h * 60 + min);
  };
  const stdOffset = m[2] ? east(m[2]) : 0;
  return { std: name(m[1]!), stdOffset, dst: m[3] && name(m[3]), dstOffset: m[4] ? east(m[4]) : stdOffset + 60 };
}

/** The zone's short name as the platform's time zone data writes it, where no rule could be read. */
function intlName(date: Date): string {
  return new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(date).find((p) => p.type === "timeZoneName")?.value ?? "UTC";
}
