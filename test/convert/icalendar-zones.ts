// Test zones shared by the iCalendar tests.
import { decodeTimeZone, encodeTimeZone, timeZoneForTzid } from '../../src/convert/timezone.js';

const rule = (wMonth: number, wDay: number) => ({
  wYear: 0,
  wMonth,
  wDayOfWeek: 0,
  wDay,
  wHour: 0,
  wMinute: 0,
  wSecond: 0,
  wMilliseconds: 0,
});

/** São Paulo as a phone with a pre-2019 tz database describes it: no IANA zone has these rules. */
export const OLD_SAO_PAULO: Uint8Array = encodeTimeZone({
  ...decodeTimeZone(timeZoneForTzid('America/Sao_Paulo', { year: 2025 })!),
  StandardDate: rule(2, 3),
  DaylightDate: rule(11, 1),
  DaylightBias: -60,
});
