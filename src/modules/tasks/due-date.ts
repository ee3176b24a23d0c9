// The due dates the contract accepts: an ISO 8601 date-time, or a plain date meaning midnight UTC.
// Checked by hand, not by `new Date(text)`: that one rolls Feb 30 over to March 2, reads a date-time
// without a zone in the server's local time zone, and accepts many forms that are not ISO 8601.

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|([+-])(\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
// Four-digit years: PGlite reads a timestamp back with `new Date("0001-01-01 00:00:00+00")`, which
// turns years 0–99 into 1900–2049, and PostgreSQL has no year 0.
const EARLIEST = Date.parse("1000-01-01T00:00:00.000Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

/**
 * The instant a due date names, or undefined when it names none: an impossible date (Feb 30), a
 * date-time without `Z` or an offset (refused rather than guessed), or anything else.
 */
export function parseDueDate(text: string): Date | undefined {
  const match = DATE_TIME.exec(text) ?? DATE.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match
    .slice(1, 7)
    .map((part) => (part === undefined ? undefined : Number(part)));
  const [fraction = "", , sign, zoneHours = "0", zoneMinutes = "0"] = match.slice(7);
  if (year === undefined || month === undefined || day === undefined) return undefined;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || Number(zoneHours) > 23 || Number(zoneMinutes) > 59) return undefined;
  const offset = (sign === "-" ? -1 : 1) * (Number(zoneHours) * 60 + Number(zoneMinutes));
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offset, second, Math.floor(Number(`0${fraction}`) * 1000));
  const time = date.getTime();
  return time >= EARLIEST && time <= LATEST ? date : undefined;
}
