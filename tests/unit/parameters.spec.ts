// The snapshot script's parameters are written in four places: the document's declarations
// (CONSISTENT_SNAPSHOT_PARAMETERS, what SSM and DLM see), the script's defaults (read_parameters), the script's
// header and the README's table. The document is the source; the others are held to it here.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { CONSISTENT_SNAPSHOT_PARAMETERS } from "../../components/snapshotDocument";
import { REPO_ROOT } from "./mocks";

const script = fs.readFileSync(path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh"), "utf8");
const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
const declared = Object.keys(CONSISTENT_SNAPSHOT_PARAMETERS);

/** name -> default, from `X=${SSM_name:-default}` (or `${SSM_name-default}`) in read_parameters. */
function scriptDefaults(): Map<string, string> {
    const body = /^read_parameters\(\) \{\n([\s\S]*?)\n\}/m.exec(script)![1];
    return new Map([...body.matchAll(/^ {2}[A-Z_]+=\$\{SSM_(\w+):?-([^}]*)\}$/gm)].map((m) => [m[1], m[2]]));
}

/**
 * name -> [default column, the text after it (its continuation lines included)], from the header's
 * "Parameters (default; accepted form):" table.
 */
function headerRows(): Map<string, [string, string]> {
    const table = /^# Parameters \(default; accepted form\):\n((?:#.*\n)+?)# Standard variables/m.exec(script)![1];
    const rows = new Map<string, [string, string]>();
    let current: [string, string] | undefined;
    for (const line of table.split("\n")) {
        const row = /^# {3}SSM_(\w+) +(\(empty[^)]*\)|\S.*?)(?: {2,}(.*))?$/.exec(line);
        if (row) {
            current = [row[2].trim(), (row[3] ?? "").trim()];
            rows.set(row[1], current);
        } else if (current && /^# {20,}\S/.test(line)) {
            current[1] = `${current[1]} ${line.replace(/^#\s+/, "")}`.trim();
        }
    }
    return rows;
}

/** name -> [default column, accepted column], from the README's "Parameters (`SSM_<name>`)" table. */
function readmeRows(): Map<string, [string, string]> {
    const section = /^### Parameters \(`SSM_<name>`\)\n([\s\S]*?)\n\n/m.exec(readme)![1];
    return new Map([...section.matchAll(/^\| `(\w+)` \| ([^|]+) \| (.+) \|$/gm)].map((m) => [m[1], [m[2].trim(), m[3].trim()]]));
}

/** The first "N-M" range of a text, if any. */
const range = (text: string) => /\b(\d+)-(\d+)\b/.exec(text)?.slice(1, 3).join("-");
/** The range of a numeric parameter: its accepted text starts with it ("2-600: ..."). */
const numericRange = (text: string) => /^(\d+-\d+)(?::|$| and)/.exec(text)?.[1];

describe("the snapshot script's parameters: the document's declarations are the one source", () => {
    it("the script reads exactly the declared parameters, with the declared defaults", () => {
        const defaults = scriptDefaults();
        assert.deepEqual([...defaults.keys()].sort(), [...declared].sort());
        for (const name of declared) assert.equal(defaults.get(name), CONSISTENT_SNAPSHOT_PARAMETERS[name].default, `SSM_${name}'s default in read_parameters`);
    });

    it("the script's header lists exactly the declared parameters, with their defaults", () => {
        const rows = headerRows();
        assert.deepEqual([...rows.keys()].sort(), [...declared].sort());
        for (const name of declared) {
            const expected = CONSISTENT_SNAPSHOT_PARAMETERS[name].default;
            const [shown] = rows.get(name)!;
            if (expected === "") assert.match(shown, /^\(empty\b/, `SSM_${name}: the header's default`);
            else assert.equal(shown, expected, `SSM_${name}: the header's default`);
        }
    });

    it("the README's table lists exactly the declared parameters, with their defaults and the header's ranges", () => {
        const rows = readmeRows();
        const header = headerRows();
        assert.deepEqual([...rows.keys()].sort(), [...declared].sort());
        for (const name of declared) {
            const expected = CONSISTENT_SNAPSHOT_PARAMETERS[name].default;
            const [shown, accepted] = rows.get(name)!;
            if (expected === "") assert.match(shown, /^empty\b/, `${name}: the README's default`);
            else assert.equal(shown, `\`${expected}\``, `${name}: the README's default`);
            assert.equal(range(accepted), range(header.get(name)![1]), `${name}: the README's and the header's ranges differ`);
        }
    });

    it("each declared range admits its bounds and refuses one past them (the pattern is what SSM enforces)", () => {
        const header = headerRows();
        const checked: string[] = [];
        for (const name of declared) {
            const text = numericRange(header.get(name)![1]);
            const pattern = CONSISTENT_SNAPSHOT_PARAMETERS[name].allowedPattern;
            if (!text || !pattern) continue;
            checked.push(name);
            const [low, high] = text.split("-").map(Number);
            const re = new RegExp(pattern);
            assert.ok(re.test(String(low)) && re.test(String(high)), `${name}: ${pattern} refuses a bound of ${text}`);
            assert.ok(!re.test(String(high + 1)), `${name}: ${pattern} admits ${high + 1}, past ${text}`);
            if (low > 0) assert.ok(!re.test(String(low - 1)), `${name}: ${pattern} admits ${low - 1}, below ${text}`);
        }
        assert.deepEqual(checked.sort(), [
            "lockRetries",
            "lockTimeoutSeconds",
            "longQuerySeconds",
            "maxFreezeSeconds",
            "preScriptSeconds",
            "retainCount",
            "retainDays",
        ]);
    });
});
