// Human output: aligned columns, as the AWS CLI's text tables are read on a terminal.

/** Columns padded to their widest cell; an empty table says so. */
export function table(headers: string[], rows: (string | number)[][], empty = "(none)"): string {
    if (rows.length === 0) return `${headers.join("  ")}\n${empty}`;
    const cells = [headers, ...rows.map((r) => r.map(String))];
    const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
    return cells
        .map((r) =>
            r
                .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
                .join("  ")
                .trimEnd(),
        )
        .join("\n");
}

/** An ISO time without milliseconds, in UTC (what the snapshots' and runs' times are compared in). */
export function isoTime(date: Date | undefined): string {
    return date ? date.toISOString().replace(/\.\d{3}Z$/, "Z") : "-";
}

/** "12 ms", or "-" when a figure is absent. */
export function ms(value: unknown): string {
    return typeof value === "number" ? `${value} ms` : "-";
}
