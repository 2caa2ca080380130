// Validation of Systems Manager maintenance-window schedules, following the Systems Manager user guide,
// "Reference: Cron and rate expressions for Systems Manager" (maintenance windows, not EventBridge and not
// State Manager associations):
//   cron(Minutes Hours Day-of-month Month Day-of-week Year), with an optional leading Seconds field
//   rate(<positive integer> minute|minutes|hour|hours|day|days), singular exactly when the value is 1
//   at(yyyy-mm-ddThh:mm:ss), one run at a UTC time stamp
// Rules the guide states are enforced; where it is silent the expression is accepted and AWS decides.

/** The API's limit on CreateMaintenanceWindow's Schedule. */
export const SCHEDULE_MAX_LENGTH = 256;
/** "Cron expressions that lead to rates faster than 5 minutes are not supported." */
export const MIN_CRON_INTERVAL_MINUTES = 5;

interface FieldSpec {
    name: string;
    min: number;
    max: number;
    names?: string[];
    /** Wildcards the guide lists for the field, beyond digits. */
    wildcards: string;
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const SECONDS: FieldSpec = { name: "Seconds", min: 0, max: 59, wildcards: ",-*/" };
const FIELDS: FieldSpec[] = [
    { name: "Minutes", min: 0, max: 59, wildcards: ",-*/" },
    { name: "Hours", min: 0, max: 23, wildcards: ",-*/" },
    { name: "Day-of-month", min: 1, max: 31, wildcards: ",-*?/LW" },
    { name: "Month", min: 1, max: 12, names: MONTHS, wildcards: ",-*/" },
    { name: "Day-of-week", min: 1, max: 7, names: DAYS, wildcards: ",-*?/L#" },
    { name: "Year", min: 1970, max: 2199, wildcards: ",-*/" },
];

const CRON_FORM = "cron(Minutes Hours Day-of-month Month Day-of-week Year) with an optional leading Seconds field, " + "e.g. cron(0 0 * * ? *)";
const RATE_FORM = "rate(N unit): N a positive integer, unit minute|hour|day when N is 1 and minutes|hours|days otherwise, " + "e.g. rate(6 hours)";
const AT_FORM = "at(yyyy-mm-ddThh:mm:ss), a UTC time stamp, e.g. at(2026-12-24T23:00:00)";

/** Returns undefined for a valid maintenance-window schedule, else why it is not valid. */
export function scheduleError(schedule: string): string | undefined {
    if (schedule.length === 0) return "the schedule is empty";
    if (schedule.length > SCHEDULE_MAX_LENGTH) return `longer than the API's limit of ${SCHEDULE_MAX_LENGTH} characters`;
    const match = /^(cron|rate|at)\((.*)\)$/s.exec(schedule);
    if (!match) return `expected ${CRON_FORM}; or ${RATE_FORM}; or ${AT_FORM}`;
    const [, kind, body] = match;
    if (kind === "rate") return rateError(body);
    if (kind === "at") return atError(body);
    return cronError(body);
}

function rateError(body: string): string | undefined {
    const m = /^([0-9]+) (minute|minutes|hour|hours|day|days)$/.exec(body);
    if (!m) return `expected ${RATE_FORM}`;
    const value = Number(m[1]);
    if (!Number.isSafeInteger(value) || value < 1 || m[1].startsWith("0")) return `rate value '${m[1]}' must be a positive integer`;
    const plural = m[2].endsWith("s");
    if (value === 1 && plural) return `rate(1 ${m[2]}) must use the singular unit '${m[2].slice(0, -1)}'`;
    if (value > 1 && !plural) return `rate(${value} ${m[2]}) must use the plural unit '${m[2]}s'`;
    return undefined;
}

function atError(body: string): string | undefined {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body);
    if (!m) return `expected ${AT_FORM}`;
    const [year, month, day, hour, minute, second] = m.slice(1).map(Number);
    const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
        return `'${body}' is not a real date and time`;
    }
    return undefined;
}

function cronError(body: string): string | undefined {
    const fields = body.split(" ");
    if (fields.some((f) => f === "")) return `fields must be separated by single spaces; expected ${CRON_FORM}`;
    if (fields.length !== 6 && fields.length !== 7) return `${fields.length} fields; expected ${CRON_FORM}`;
    const seconds = fields.length === 7 ? fields.shift()! : undefined;
    const values: (Set<number> | undefined)[] = [];
    for (let i = 0; i < FIELDS.length; i++) {
        const result = parseField(FIELDS[i], fields[i]);
        if (typeof result === "string") return result;
        values.push(result);
    }
    const [dayOfMonth, dayOfWeek] = [fields[2], fields[4]];
    if ((dayOfMonth === "?") === (dayOfWeek === "?")) {
        return "exactly one of Day-of-month and Day-of-week must be '?' (a value or * in one needs ? in the other)";
    }
    if (seconds !== undefined) {
        const result = parseField(SECONDS, seconds);
        if (typeof result === "string") return result;
        if (result && result.has(0)) return "the Seconds field does not support 0 for maintenance windows (omit the field instead)";
        if (!result || result.size > 1) return `Seconds '${seconds}' runs more often than every ${MIN_CRON_INTERVAL_MINUTES} minutes`;
    }
    const interval = minimumIntervalMinutes(values[0], values[1]);
    if (interval !== undefined && interval < MIN_CRON_INTERVAL_MINUTES) {
        return (
            `runs every ${interval} minute(s); maintenance windows do not support cron schedules faster than every ` + `${MIN_CRON_INTERVAL_MINUTES} minutes`
        );
    }
    return undefined;
}

/**
 * Parses one field. Returns the set of numeric values it selects where that is well defined (for the
 * interval check), undefined for fields whose selection is not a plain set (?, L, W, #), or an error.
 */
function parseField(spec: FieldSpec, field: string): Set<number> | undefined | string {
    const bad = (why: string) => `${spec.name} '${field}': ${why}`;
    if (field === "?") return spec.wildcards.includes("?") ? undefined : bad("'?' is only allowed in Day-of-month and Day-of-week");
    if (spec.name === "Day-of-week" && field.includes("#")) {
        const m = /^([^#,]+)#([1-5])$/.exec(field);
        if (!m) return bad("'#' takes one day and the week of the month, e.g. THU#3 or 5#2, and no list");
        const day = parseValue(spec, m[1]);
        return typeof day === "string" ? bad(day) : undefined;
    }
    const selected = new Set<number>();
    let plain = true;
    for (const part of field.split(",")) {
        if (part === "") return bad("empty list item");
        const special = specialValue(spec, part);
        if (special !== undefined) {
            if (typeof special === "string") return bad(special);
            plain = false;
            continue;
        }
        const [rangePart, stepPart, ...rest] = part.split("/");
        if (rest.length > 0) return bad("more than one '/'");
        let from = spec.min;
        let to = spec.max;
        if (rangePart !== "*") {
            const bounds = rangePart.split("-");
            if (bounds.length > 2) return bad(`'${rangePart}' is not a value or a range`);
            const lo = parseValue(spec, bounds[0]);
            if (typeof lo === "string") return bad(lo);
            from = lo;
            to = lo;
            if (bounds.length === 2) {
                const hi = parseValue(spec, bounds[1]);
                if (typeof hi === "string") return bad(hi);
                to = hi;
                // A wrapping range (e.g. FRI-MON) is accepted: the guide is silent and AWS decides.
                if (hi < lo) plain = false;
            } else if (stepPart !== undefined) {
                to = spec.max;
            }
        } else if (stepPart === undefined && field !== "*") {
            return bad("'*' cannot be combined with other values");
        }
        if (stepPart !== undefined) {
            if (!spec.wildcards.includes("/")) return bad("'/' is not allowed here");
            if (!/^[1-9][0-9]*$/.test(stepPart)) return bad(`the increment '${stepPart}' must be a positive integer`);
            const step = Number(stepPart);
            if (step > spec.max - spec.min + 1) return bad(`the increment ${step} is larger than the field's range`);
            for (let v = from; v <= (to < from ? spec.max : to); v += step) selected.add(v);
        } else {
            for (let v = from; v <= (to < from ? spec.max : to); v++) selected.add(v);
        }
    }
    return plain ? selected : undefined;
}

/** L, LW, nW (Day-of-month) and L, nL (Day-of-week). Returns undefined when `part` is none of them. */
function specialValue(spec: FieldSpec, part: string): true | string | undefined {
    if (spec.name === "Day-of-month") {
        if (part === "L" || part === "LW") return true;
        const m = /^([0-9]{1,2})W$/.exec(part);
        if (!m) return undefined;
        const day = Number(m[1]);
        return day >= 1 && day <= 31 ? true : `${part}: W needs a day from 1 to 31`;
    }
    if (spec.name === "Day-of-week") {
        if (part === "L") return true;
        const m = /^([0-9]|[A-Za-z]{3})L$/.exec(part);
        if (!m) return undefined;
        const day = parseValue(spec, m[1]);
        return typeof day === "string" ? day : true;
    }
    if (/^([0-9]*[LW]|LW)$/.test(part)) return "'L' and 'W' are only allowed in Day-of-month and Day-of-week";
    return undefined;
}

function parseValue(spec: FieldSpec, text: string): number | string {
    if (/^[0-9]+$/.test(text)) {
        const value = Number(text);
        if (value < spec.min || value > spec.max) return `${value} is outside ${spec.min}-${spec.max}`;
        return value;
    }
    const index = spec.names?.indexOf(text.toUpperCase()) ?? -1;
    if (index >= 0) return index + 1;
    return spec.names
        ? `'${text}' is not ${spec.min}-${spec.max} or one of ${spec.names[0]}-${spec.names[spec.names.length - 1]}`
        : `'${text}' is not a number from ${spec.min} to ${spec.max}`;
}

/** Shortest gap between two runs within the Minutes and Hours fields, when both are plain sets. */
function minimumIntervalMinutes(minutes?: Set<number>, hours?: Set<number>): number | undefined {
    if (!minutes || minutes.size === 0) return undefined;
    const sorted = [...minutes].sort((a, b) => a - b);
    let gap = Number.POSITIVE_INFINITY;
    for (let i = 1; i < sorted.length; i++) gap = Math.min(gap, sorted[i] - sorted[i - 1]);
    const hourList = hours ? [...hours] : [];
    const consecutiveHours = hours !== undefined && (hourList.some((h) => hours.has(h + 1)) || (hours.has(23) && hours.has(0)));
    if (consecutiveHours) gap = Math.min(gap, 60 - sorted[sorted.length - 1] + sorted[0]);
    return Number.isFinite(gap) ? gap : undefined;
}

/**
 * The longest time between two runs of a schedule, in hours, where it is plain to compute: rate(...) exactly; a
 * cron(...) that runs every day of every month and year (Day-of-month and Day-of-week each * or ?), from its
 * Minutes and Hours. Undefined otherwise (at(...), weekdays, days of the month, months, L/W/#).
 */
export function longestGapHours(schedule: string): number | undefined {
    const rate = /^rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule);
    if (rate) return Number(rate[1]) * { minute: 1 / 60, hour: 1, day: 24 }[rate[2].replace(/s$/, "") as "minute" | "hour" | "day"];
    const cron = /^cron\((.*)\)$/.exec(schedule);
    if (!cron || scheduleError(schedule)) return undefined;
    const fields = cron[1].split(" ");
    if (fields.length === 7) fields.shift();
    const [minuteField, hourField, dayOfMonth, month, dayOfWeek, year] = fields;
    // Every day: each of these fields * or ? or a list of all its values (MON,TUE,...,SUN is every day).
    const everyValue = (spec: FieldSpec, field: string) => {
        if (field === "*" || field === "?") return true;
        const values = parseField(spec, field);
        return values instanceof Set && values.size === spec.max - spec.min + 1;
    };
    if (!everyValue(FIELDS[2], dayOfMonth) || !everyValue(FIELDS[3], month) || !everyValue(FIELDS[4], dayOfWeek) || year !== "*") return undefined;
    const minutes = parseField(FIELDS[0], minuteField);
    const hours = parseField(FIELDS[1], hourField);
    if (!(minutes instanceof Set) || !(hours instanceof Set) || minutes.size === 0 || hours.size === 0) return undefined;
    const times = [...hours].flatMap((h) => [...minutes].map((m) => h * 60 + m)).sort((a, b) => a - b);
    let gap = times[0] + 24 * 60 - times[times.length - 1];
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
    return gap / 60;
}

/** CloudWatch alarms evaluate at most 7 days (Period x EvaluationPeriods ≤ 604,800 s for hourly periods). */
export const MAX_FRESHNESS_HOURS = 168;
/** The least default: a daily run, plus two hours for a late or slow one. */
export const MIN_DEFAULT_FRESHNESS_HOURS = 26;

/**
 * Hours without a successful run after which the freshness alarm fires, by default: twice the longest gap between
 * runs, at least 26 (a daily schedule: a day and two hours). Undefined when the gap is not plain to compute or
 * twice it exceeds what an alarm can look back over (then it must be given).
 */
export function defaultFreshnessHours(schedule: string): number | undefined {
    const gap = longestGapHours(schedule);
    if (gap === undefined) return undefined;
    const hours = Math.max(MIN_DEFAULT_FRESHNESS_HOURS, Math.ceil(2 * gap));
    return hours <= MAX_FRESHNESS_HOURS ? hours : undefined;
}

/**
 * What is wrong with a freshness window for a schedule, if anything: 0 (no alarm) or a whole number of hours from 1
 * to 168 that is longer than the longest gap between runs (else it fires between two good runs).
 */
export function freshnessError(hours: number, schedule: string | undefined): string | undefined {
    if (!Number.isInteger(hours) || hours < 0 || hours > MAX_FRESHNESS_HOURS) {
        return `0 (no freshness alarm) or a whole number of hours from 1 to ${MAX_FRESHNESS_HOURS} (CloudWatch alarms look back at most 7 days)`;
    }
    const gap = schedule === undefined ? undefined : longestGapHours(schedule);
    if (hours > 0 && gap !== undefined && hours <= gap) {
        return `more hours than the longest gap between two runs of ${schedule} (${gap} h), or 0: it would fire between two good runs`;
    }
    return undefined;
}

/** The freshness window to use: the one given, else the schedule's default; a string says why there is none. */
export function freshnessHoursFor(given: number | undefined, schedule: string): number | string {
    if (given !== undefined) return given;
    const hours = defaultFreshnessHours(schedule);
    if (hours !== undefined) return hours;
    const gap = longestGapHours(schedule);
    return gap === undefined
        ? `a value: the gap between runs of ${schedule} is not plain to compute (it runs on some days only, or once); give the hours without a successful run after which to alert (1-${MAX_FRESHNESS_HOURS}), or 0 for no freshness alarm`
        : `a value: ${schedule} runs up to ${gap} h apart, and twice that is more than an alarm looks back over (${MAX_FRESHNESS_HOURS} h); give hours between ${gap} and ${MAX_FRESHNESS_HOURS}, or 0 for no freshness alarm`;
}
