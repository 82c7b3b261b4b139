// iCalendar VTODO (RFC 5545 3.6.2) ↔ TaskItem (MS-ASTASK). Pure, like the VEVENT converter.
//
//   SUMMARY ↔ Subject;  DESCRIPTION / X-ALT-DESC ↔ Body;  CATEGORIES ↔ Categories;  CLASS ↔ Sensitivity;
//   DTSTART ↔ StartDate (local) / UtcStartDate (MS-ASTASK 2.2.2.26, 2.2.2.30);
//   DUE ↔ DueDate / UtcDueDate (2.2.2.9, 2.2.2.29): a DATE is a date-only task, due at local
//     midnight of the user's zone; a DATE-TIME is written in the user's zone;
//   STATUS:COMPLETED / COMPLETED ↔ Complete / DateCompleted (2.2.2.7, 2.2.2.8);
//   PRIORITY 1–4 / 5 / 6–9 ↔ Importance 2 / 1 / 0 (2.2.2.14);
//   VALARM with a DATE-TIME TRIGGER ↔ ReminderSet / ReminderTime (2.2.2.22, 2.2.2.23);
//   RRULE ↔ Recurrence (2.2.2.18); Recurrence Start is DTSTART; Regenerate and DeadOccur, which
//     iCalendar lacks, are X-EASD-REGENERATE and X-EASD-DEADOCCUR.
// "Local" task dates are wall-clock times carried in a Date as if they were UTC, as on the wire.
import { randomUUID } from 'node:crypto';
import ICAL from 'ical.js';
import type { BodyPreference, TaskItem } from '../backend/model.js';
import {
  DAY,
  IcalendarError,
  firstText,
  isReminderAlarm,
  jcalDate,
  jcalDateTime,
  jcalUtc,
  newCalendar,
  param,
  parseCalendar,
  readCommon,
  readTime,
  setProps,
  setText,
  setXText,
  startOfDay,
  syncVtimezones,
  timeContext,
  writeBody,
  writeCategories,
  writeSensitivity,
  type IcalendarWarning,
  type JCalProp,
  type TimeValue,
  type Warn,
  type WriteZone,
} from './icalendar-common.js';
import { recurrenceToRrule, ruleStartOf, rruleToRecurrence } from './icalendar-recurrence.js';
import { fromWall, ianaZone, parseWall, resolveTzid, toWall, utcZone, type ZoneRules } from './timezone.js';

export interface IcsToTaskOptions {
  uid?: string;
  /** The user's zone: DATE values are its midnights, UTC values get their local form in it. Default UTC. */
  timeZone?: string;
  bodyPreferences?: readonly BodyPreference[];
  onWarning?: (w: IcalendarWarning) => void;
}

export interface TaskToIcsOptions {
  base?: string;
  /** The user's zone: timed due and start dates are written in it (with its VTIMEZONE). */
  timeZone?: string;
  prodId?: string;
  now?: Date;
  /** UID when `base` has none (TaskItem has no UID of its own); default a random UUID. */
  uid?: string;
}

const PRODID = '-//easd//easd//EN';

function userZone(name: string | undefined): { zone: ZoneRules; tzid: string | undefined } {
  const iana = name === undefined ? undefined : resolveTzid(name);
  const zone = iana === undefined ? undefined : ianaZone(iana);
  return zone === undefined ? { zone: utcZone, tzid: undefined } : { zone, tzid: name };
}

/** A task date both ways: local wall-clock time and the instant. */
function local(v: TimeValue, zone: ZoneRules): { wall: Date; utc: Date } {
  return { wall: new Date(v.form === 'utc' ? toWall(zone, v.utc) : v.wall), utc: new Date(v.utc) };
}

/** The task of `uid` (default: the first VTODO). Throws IcalendarError without one. */
export function icsToTask(text: string, options: IcsToTaskOptions = {}): TaskItem {
  const warn: Warn = (code, message) => options.onWarning?.({ code, message });
  const cal = parseCalendar(text);
  const todos = cal.getAllSubcomponents('vtodo');
  const uid = options.uid ?? (todos[0] ? firstText(todos[0], 'uid') : undefined);
  const mine = todos.filter((t) => firstText(t, 'uid') === uid);
  const todo = mine.find((t) => !t.hasProperty('recurrence-id')) ?? mine[0];
  if (todo === undefined)
    throw new IcalendarError(uid === undefined ? 'no VTODO' : `no VTODO with UID ${uid}`);
  const { zone } = userZone(options.timeZone);
  const ctx = timeContext(cal, { timeZone: options.timeZone ?? 'UTC' }, warn);
  const item: TaskItem = readCommon(todo, options.bodyPreferences);

  const dtstart = todo.getFirstProperty('dtstart');
  const start = dtstart ? readTime(ctx, dtstart, 0, zone) : undefined;
  if (start !== undefined) {
    const l = local(start, zone);
    item.StartDate = l.wall;
    item.UtcStartDate = l.utc;
  }
  const dueProp = todo.getFirstProperty('due');
  let due = dueProp ? readTime(ctx, dueProp, 0, zone) : undefined;
  const duration = todo.getFirstPropertyValue('duration');
  if (due === undefined && start !== undefined && duration instanceof ICAL.Duration) {
    const wall = start.wall + duration.toSeconds() * 1000;
    due = { ...start, wall, utc: start.form === 'utc' ? wall : fromWall(start.zone, wall) };
  }
  if (due !== undefined) {
    const l = local(due, zone);
    item.DueDate = l.wall;
    item.UtcDueDate = l.utc;
  }

  const status = (firstText(todo, 'status') ?? '').toUpperCase();
  const completedProp = todo.getFirstProperty('completed');
  const completed = completedProp ? readTime(ctx, completedProp) : undefined;
  item.Complete = status === 'COMPLETED' || completed !== undefined;
  if (item.Complete && completed !== undefined) item.DateCompleted = new Date(completed.utc);

  const priority = Number(todo.getFirstPropertyValue('priority') ?? 0);
  if (priority >= 1 && priority <= 9) item.Importance = priority <= 4 ? 2 : priority === 5 ? 1 : 0;

  const alarm = taskAlarm(todo);
  item.ReminderSet = false;
  if (alarm !== undefined) {
    const trigger = alarm.getFirstProperty('trigger')!;
    let at: number | undefined;
    if (trigger.type === 'date-time') at = readTime(ctx, trigger)?.utc;
    else {
      // RFC 5545 3.8.6.3: in a VTODO, START is DTSTART and END is DUE.
      const anchor = (param(trigger, 'related') ?? 'START').toUpperCase() === 'END' ? due : (start ?? due);
      const d = trigger.getFirstValue();
      if (anchor !== undefined && d instanceof ICAL.Duration) at = anchor.utc + d.toSeconds() * 1000;
    }
    if (at !== undefined) {
      item.ReminderSet = true;
      item.ReminderTime = new Date(at);
    }
  }

  const rrules = todo.getAllProperties('rrule');
  const anchor = start ?? due;
  if (rrules.length > 0 && anchor !== undefined) {
    const rule = rrules.length === 1 ? (rrules[0]!.jCal[3] as Record<string, unknown>) : undefined;
    const anchorWall = local(anchor, zone).wall.getTime();
    const result =
      rule === undefined
        ? { reason: 'several RRULEs' }
        : rruleToRecurrence(rule, ruleStartOf(anchorWall), (v) => readTaskUntil(v, anchor, zone));
    if ('reason' in result) warn('recurrence-not-expressible', `RRULE dropped: ${result.reason}`);
    else {
      const rec = result.recurrence;
      rec.Start = new Date(anchorWall);
      const regenerate = firstText(todo, 'x-easd-regenerate');
      if (regenerate !== undefined) rec.Regenerate = regenerate.toUpperCase() === 'TRUE';
      const deadOccur = firstText(todo, 'x-easd-deadoccur');
      if (deadOccur !== undefined) rec.DeadOccur = deadOccur.toUpperCase() === 'TRUE';
      item.Recurrence = rec;
    }
  }
  return item;
}

/** UNTIL → Recurrence Until, in the local form like Start (a DATE: its midnight). */
function readTaskUntil(value: string, anchor: TimeValue, zone: ZoneRules): Date | undefined {
  const wall = parseWall(value);
  if (wall === undefined) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return new Date(wall);
  if (value.endsWith('Z')) return new Date(toWall(anchor.form === 'utc' ? zone : anchor.zone, wall));
  return new Date(wall);
}

function taskAlarm(todo: ICAL.Component): ICAL.Component | undefined {
  return todo.getAllSubcomponents('valarm').find((a) => isReminderAlarm(a) && a.hasProperty('trigger'));
}

/**
 * The iCalendar object for a task: a new VCALENDAR, or `base` updated (what easd does not map is
 * kept, as for events).
 */
export function taskToIcs(item: TaskItem, options: TaskToIcsOptions = {}): string {
  const cal =
    options.base !== undefined ? parseCalendar(options.base) : newCalendar(options.prodId ?? PRODID);
  const todos = cal.getAllSubcomponents('vtodo');
  let todo = todos.find((t) => !t.hasProperty('recurrence-id')) ?? todos[0];
  if (todo === undefined) {
    todo = new ICAL.Component(['vtodo', [], []]);
    cal.addSubcomponent(todo);
  }
  const uid = firstText(todo, 'uid') ?? options.uid ?? randomUUID();
  setText(todo, 'uid', uid);
  setProps(todo, 'dtstamp', [['dtstamp', {}, 'date-time', jcalUtc((options.now ?? new Date()).getTime())]]);
  setText(todo, 'summary', item.Subject);
  writeBody(todo, item.Body);
  writeCategories(todo, item.Categories);
  writeSensitivity(todo, item.Sensitivity);

  const { zone, tzid } = userZone(options.timeZone);
  const start = taskDate(item.StartDate, item.UtcStartDate, zone);
  const due = taskDate(item.DueDate, item.UtcDueDate, zone);
  // RFC 5545 3.8.2.3: DTSTART and DUE have the same value type; date-only when both are midnights.
  const dateOnly =
    [start, due].every((d) => d === undefined || d.wall % DAY === 0) && (start ?? due) !== undefined;
  const prop = (name: string, d: { wall: number; utc: number }): JCalProp =>
    dateOnly
      ? [name, {}, 'date', jcalDate(startOfDay(d.wall))]
      : tzid !== undefined
        ? [
            name,
            { tzid },
            'date-time',
            jcalDateTime(fromWall(zone, d.wall) === d.utc ? d.wall : toWall(zone, d.utc)),
          ]
        : [name, {}, 'date-time', jcalUtc(d.utc)];
  const rec = item.Recurrence;
  const anchor =
    start ?? (rec?.Start !== undefined ? taskDate(rec.Start, undefined, zone) : undefined) ?? due;
  setProps(
    todo,
    'dtstart',
    start !== undefined
      ? [prop('dtstart', start)]
      : rec !== undefined && anchor !== undefined
        ? [prop('dtstart', anchor)]
        : [],
  );
  setProps(todo, 'due', due !== undefined ? [prop('due', due)] : []);
  todo.removeAllProperties('duration');

  const status = (firstText(todo, 'status') ?? '').toUpperCase();
  const percent = todo.getFirstPropertyValue('percent-complete');
  if (item.Complete === true) {
    setText(todo, 'status', 'COMPLETED');
    if (percent !== null) setProps(todo, 'percent-complete', [['percent-complete', {}, 'integer', 100]]);
    setProps(
      todo,
      'completed',
      item.DateCompleted ? [['completed', {}, 'date-time', jcalUtc(item.DateCompleted.getTime())]] : [],
    );
  } else {
    if (status === 'COMPLETED') setText(todo, 'status', 'NEEDS-ACTION');
    if (Number(percent) === 100) todo.removeAllProperties('percent-complete');
    todo.removeAllProperties('completed');
  }
  setProps(
    todo,
    'priority',
    item.Importance === undefined ? [] : [['priority', {}, 'integer', [9, 5, 1][item.Importance]]],
  );

  const alarm = taskAlarm(todo);
  if (item.ReminderSet === true && item.ReminderTime !== undefined) {
    const trigger: JCalProp = ['trigger', {}, 'date-time', jcalUtc(item.ReminderTime.getTime())];
    if (alarm !== undefined) setProps(alarm, 'trigger', [trigger]);
    else {
      todo.addSubcomponent(
        new ICAL.Component([
          'valarm',
          [['action', {}, 'text', 'DISPLAY'], ['description', {}, 'text', 'Reminder'], trigger],
          [],
        ]),
      );
    }
  } else if (alarm !== undefined) todo.removeSubcomponent(alarm);

  const baseRules = todo.getAllProperties('rrule');
  const baseExpressible =
    baseRules.length === 1 &&
    'recurrence' in
      rruleToRecurrence(
        baseRules[0]!.jCal[3] as Record<string, unknown>,
        { weekday: 1, day: 1, month: 1 },
        () => undefined,
      );
  if (rec !== undefined && anchor !== undefined) {
    const until = (d: Date): string =>
      dateOnly ? jcalDate(startOfDay(d.getTime())) : jcalUtc(fromWall(zone, d.getTime()));
    setProps(todo, 'rrule', [
      ['rrule', {}, 'recur', recurrenceToRrule(rec, ruleStartOf(anchor.wall), until)],
    ]);
    setXText(
      todo,
      'x-easd-regenerate',
      rec.Regenerate === undefined ? undefined : rec.Regenerate ? 'TRUE' : 'FALSE',
    );
    setXText(
      todo,
      'x-easd-deadoccur',
      rec.DeadOccur === undefined ? undefined : rec.DeadOccur ? 'TRUE' : 'FALSE',
    );
  } else if (baseRules.length === 0 || baseExpressible) {
    for (const name of ['rrule', 'rdate', 'exrule', 'exdate', 'x-easd-regenerate', 'x-easd-deadoccur'])
      todo.removeAllProperties(name);
  }

  const written = new Map<string, { wz: WriteZone; fromYear: number }>();
  if (!dateOnly && tzid !== undefined && anchor !== undefined) {
    written.set(tzid, {
      wz: { resolved: { tzid, zone }, utc: false, bytes: undefined },
      fromYear: Math.min(new Date(anchor.utc).getUTCFullYear(), new Date().getUTCFullYear()),
    });
  }
  syncVtimezones(cal, written);
  return cal.toString();
}

/** A task date from its two EAS forms: the instant wins, the local form is read in the user's zone. */
function taskDate(
  wallDate: Date | undefined,
  utcDate: Date | undefined,
  zone: ZoneRules,
): { wall: number; utc: number } | undefined {
  if (utcDate !== undefined) {
    const utc = utcDate.getTime();
    return { wall: wallDate?.getTime() ?? toWall(zone, utc), utc };
  }
  if (wallDate !== undefined) return { wall: wallDate.getTime(), utc: fromWall(zone, wallDate.getTime()) };
  return undefined;
}
