import * as yaml from "js-yaml";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { CONFIG_DEFAULTS, ConfigError, MAIN_TARGET_NAME, loadStackConfig, validateStackConfig, windowTargets } from "../../config";
import { MYSQL_HOST_DEFAULTS } from "../../components/mysqlHost";
import { LOG_RETENTION_DAYS } from "../../components/rules";
import { MAINTENANCE_WINDOW_DEFAULTS, WINDOW_TARGET_DEFAULTS } from "../../components/snapshotMaintenanceWindow";
import { defaultFreshnessHours, longestGapHours, scheduleError } from "../../components/schedule";
import { REPO_ROOT, useMocks } from "./mocks";

/** [key, value, valid?, for an invalid value a fragment of the accepted form the message must give] */
const TABLE: [string, unknown, boolean, RegExp?][] = [
    ["schedule", "cron(0 0 * * ? *)", true],
    ["schedule", "cron(30 23 ? * TUE#3 *)", true],
    ["schedule", "cron(0/5 8-17 ? * MON-FRI *)", true],
    ["schedule", "cron(24 30 09 ? * * *)", true],
    ["schedule", "rate(6 hours)", true],
    ["schedule", "rate(1 day)", true],
    ["schedule", "at(2026-12-24T23:00:00)", true],
    ["schedule", "cron(0 0 * * * *)", false, /exactly one of Day-of-month and Day-of-week must be '\?'/],
    ["schedule", "cron(0 0 * *)", false, /4 fields/],
    ["schedule", "cron(0/2 * * * ? *)", false, /faster than every 5 minutes/],
    ["schedule", "rate(1 hours)", false, /singular unit 'hour'/],
    ["schedule", "rate(2 day)", false, /plural unit 'days'/],
    ["schedule", "rate(0 days)", false, /positive integer/],
    ["schedule", "at(2026-02-30T00:00:00)", false, /not a real date/],
    ["schedule", "every day", false, /cron\(Minutes Hours/],
    ["schedule", `cron(${"0,".repeat(130)}0 0 * * ? *)`, false, /256 characters/],
    ["scheduleTimezone", "Europe/Paris", true],
    ["scheduleTimezone", "UTC", true],
    ["scheduleTimezone", "Mars/Olympus_Mons", false, /IANA time zone/],
    ["scheduleTimezone", "+02:00", false, /IANA time zone/],
    ["duration", "24", true],
    ["duration", 1, true],
    ["duration", "0", false, /1 to 24/],
    ["duration", "25", false, /1 to 24/],
    ["duration", "two", false, /1 to 24/],
    ["cutoff", "1", true],
    ["cutoff", "2", false, /smaller than duration \(2\)/],
    ["cutoff", "-1", false, /0 to 23/],
    ["tagKey", "Backup:Policy", true],
    ["tagKey", "aws:backup", false, /not starting with aws:/],
    ["tagKey", "", false, /1 to 128 characters/],
    ["tagKey", "k".repeat(129), false, /at most 128/],
    ["tagKey", "Team+Backup", false, /without \+ \(a maintenance-window target key/],
    ["tagKey", "Tab\tKey", false, /letters, digits, spaces/],
    ["tagValue", "a+b=c@d", true],
    ["tagValue", "line\nbreak", false, /letters, digits, spaces/],
    ["tagValue", "Café Zürich", true],
    ["tagValue", "Ωmega", false, /Latin-1 characters only .* IAM policy conditions/],
    ["tagKey", "チーム", false, /Latin-1 characters only/],
    ["tagValue", "", true],
    ["tagValue", "Prod MySQL/eu-1", true],
    ["tagValue", "bad#value", false, /letters, digits, spaces/],
    ["tagValue", "v".repeat(257), false, /at most 256/],
    ["restoreDrill", {}, true],
    ["restoreDrill", { subnetId: "subnet-0123456789abcdef0" }, true],
    ["restoreDrill", { subnetId: "subnet-0123456789abcdef0", timeoutMinutes: "90", enabled: "false", schedule: "rate(7 days)", serverPackage: "none" }, true],
    ["restoreDrill", { subnetId: "auto" }, false, /auto is the demo network's private subnet, which needs createDemoHost true and networkMode private/],
    ["restoreDrill", { schedule: "cron(0 6 ? * SUN *)" }, false, /restoreDrill\.subnetId: required/],
    [
        "restoreDrill",
        { subnetId: "subnet-0123456789abcdef0", timeoutMinutes: "5" },
        false,
        /restoreDrill\.timeoutMinutes: 5 is not valid; expected a whole number of minutes from 20 to 720/,
    ],
    ["restoreDrill", { subnetId: "subnet-0123456789abcdef0", enabled: "yes" }, false, /restoreDrill\.enabled: "yes" is not valid; expected true or false/],
    ["restoreDrill", { subnetId: "subnet-0123456789abcdef0", size: 1 }, false, /restoreDrill\.size: 1 is not valid; expected no such field/],
    ["restoreDrill", "yes", false, /an object of subnetId, schedule/],
    ["maxConcurrency", "10%", true],
    ["maxConcurrency", "100%", true],
    ["maxConcurrency", "25", true],
    ["maxConcurrency", "0", false, /count from 1 to 9999999/],
    ["maxConcurrency", "9999999", true],
    ["maxConcurrency", "10000000", false, /count from 1 to 9999999/],
    ["maxConcurrency", "101%", false, /percentage from 1% to 100%/],
    ["maxErrors", "0", true],
    ["maxErrors", "5%", true],
    ["maxErrors", "-1", false, /count from 0 to 9999999/],
    ["maxErrors", "12345678", false, /count from 0 to 9999999/],
    ["maxErrors", "one", false, /percentage from 0% to 100%/],
    ["networkMode", "private", true],
    ["networkMode", "hybrid", false, /public or private/],
    ["createDemoHost", "false", true],
    ["createDemoHost", "yes", false, /true or false/],
    ["enabled", "maybe", false, /true or false/],
    ["instanceType", "t4g.micro", true],
    ["instanceType", "big", false, /instance type such as t3.micro/],
    ["logRetentionDays", "90", true],
    ["logRetentionDays", "42", false, /CloudWatch Logs' periods/],
    ["logGroupKmsKey", "create", true],
    ["logGroupKmsKey", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", true],
    ["logGroupKmsKey", "arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab", true],
    ["logGroupKmsKey", "alias/aws/logs", false, /logGroupKmsKey: .*create \(a key of this stack\), or the ARN of a KMS key in the stack's Region/],
    ["logGroupKmsKey", "yes", false, /logGroupKmsKey: "yes" is not valid/],
    ["commandTimeoutSeconds", "10", false, /30 to 2592000/],
    ["dataVolumeSizeGiB", "0", false, /1 to 16384/],
    ["protectDataVolume", "true", true],
    ["protectDataVolume", "on", false, /true or false/],
    ["retainDataVolumeOnDelete", "true", true],
    ["retainDataVolumeOnDelete", "1", false, /true or false/],
    ["binlogExpireDays", "99", true],
    ["binlogExpireDays", "0", false, /1 to 99 \(MariaDB's expire_logs_days\)/],
    ["binlogExpireDays", "100", false, /1 to 99/],
    ["snapshotParameters", { maxFreezeSeconds: "20", database: "none" }, true],
    ["snapshotParameters", { maxFreezeSeconds: "0" }, false, /snapshotParameters\.maxFreezeSeconds.*matching/],
    ["snapshotParameters", { freezeMounts: "/data;reboot" }, false, /snapshotParameters\.freezeMounts/],
    ["snapshotParameters", { notAParameter: "1" }, false, /one of the consistent-snapshot parameters/],
    ["snapshotParameters", { snapshotDescription: "file:///root/.my.cnf" }, false, /snapshotParameters\.snapshotDescription.*without '\/\/'/],
    ["snapshotParameters", { command: "pre-script" }, false, /snapshotParameters\.command.*Data Lifecycle Manager sets this parameter/],
    ["snapshotParameters", { executionId: "None" }, false, /snapshotParameters\.executionId.*Data Lifecycle Manager sets this parameter/],
    ["snapshotParameters", "maxFreezeSeconds=20", false, /an object of consistent-snapshot document parameters/],
    ["extraTargets", [{ tagValue: "FsOnly", script: "consistent-snapshot", parameters: { database: "none" } }], true],
    ["extraTargets", [{ tagValue: "X", script: "backup.sh" }], false, /extraTargets\[0\]\.script.*one of consistent-snapshot/],
    ["extraTargets", [{ tagValue: "AmazonLinuxMySQL", script: "consistent-snapshot" }], false, /not already targeted/],
    ["extraTargets", [{ tagValue: "Y", script: "consistent-snapshot", maxConcurrency: "0" }], false, /extraTargets\[0\]\.maxConcurrency/],
    ["extraTargets", [{ tagValue: "Z", script: "consistent-snapshot", colour: "red" }], false, /extraTargets\[0\]\.colour.*no such field/],
    ["extraTargets", { tagValue: "Z" }, false, /a list of \{tagValue, script/],
    ["extraTargets", Array.from({ length: 19 }, (_, i) => ({ tagValue: `T${i}`, script: "consistent-snapshot" })), true],
    [
        "extraTargets",
        Array.from({ length: 20 }, (_, i) => ({ tagValue: `T${i}`, script: "consistent-snapshot" })),
        false,
        /at most 19 \(SSM allows 20 tasks per maintenance window/,
    ],
    [
        "extraTargets",
        Array.from({ length: 19 }, (_, i) => ({ tagValue: `${i}${"v".repeat(250)}`, script: "consistent-snapshot" })),
        false,
        /at most 4000 characters in all, counting 3 more per value \(now 4\d{3}\): the instance policy names every targeted value and IAM limits a managed policy to 6,144/,
    ],
    ["scheduler", "dlm", true],
    ["scheduler", "cron", false, /maintenanceWindow or dlm/],
    ["copyToRegions", [{ region: "eu-central-1" }], false, /nothing with scheduler maintenanceWindow/],
    ["fastRestoreAvailabilityZones", ["us-east-1a"], false, /nothing with scheduler maintenanceWindow/],
    ["executeOperationOnScriptFailure", "maybe", false, /true or false/],
    ["alertEmail", "oncall@example.com", true],
    ["alertEmail", "not-an-address", false, /an e-mail address/],
    ["alertTopicArn", "arn:aws:sns:eu-west-1:111122223333:alerts", true],
    ["alertTopicArn", "arn:aws:sqs:eu-west-1:111122223333:alerts", false, /an SNS topic ARN/],
];

describe("stack configuration with scheduler dlm", () => {
    const dlm = { scheduler: "dlm" };
    const cases: [Record<string, unknown>, RegExp | undefined][] = [
        [{ copyToRegions: [{ region: "eu-central-1", retainDays: 30 }], fastRestoreAvailabilityZones: ["us-east-1a"] }, undefined],
        [{ schedule: "rate(1 day)" }, /consistent-snapshots:schedule: .*a cron\(\.\.\.\) expression with scheduler dlm/],
        [{ scheduleTimezone: "Europe/Paris" }, /consistent-snapshots:scheduleTimezone: .*UTC with scheduler dlm/],
        [{ extraTargets: [{ tagValue: "X", script: "consistent-snapshot" }] }, /consistent-snapshots:extraTargets: .*none with scheduler dlm/],
        [{ snapshotParameters: { retainCount: "3", retainDays: "3" } }, /snapshotParameters\.retainDays: .*unset when retainCount is set/],
        [{ copyToRegions: [{ region: "Frankfurt" }] }, /consistent-snapshots:copyToRegions\[0\]\.region 'Frankfurt'/],
        [{ copyToRegions: ["eu-central-1", "us-west-2", "ap-south-1", "sa-east-1"].map((region) => ({ region })) }, /at most 3/],
        [
            { copyToRegions: [{ region: "eu-central-1", colour: "red" }] },
            /consistent-snapshots:copyToRegions\[0\]: .*a list of \{region, retainDays\?, cmkArn\?\}/,
        ],
        [{ fastRestoreAvailabilityZones: "us-east-1a" }, /consistent-snapshots:fastRestoreAvailabilityZones: .*a list of Availability Zone names/],
        [{ logGroupKmsKey: "create" }, /consistent-snapshots:logGroupKmsKey: .*empty with scheduler dlm/],
        // The pre-script's time: 10 s discovery + (retries + 1) x 4 statements x lockTimeoutSeconds + retries x 1 s + 2 s freeze + 3 s hand-over.
        [{ snapshotParameters: { lockTimeoutSeconds: "5", lockRetries: "4" } }, undefined], // 10 + 100 + 4 + 5 = 119 s of DLM's 120
        [
            { snapshotParameters: { lockTimeoutSeconds: "5", lockRetries: "5" } },
            /consistent-snapshots:snapshotParameters\.lockRetries 5 with snapshotParameters\.lockTimeoutSeconds 5: a pre-script may take 140 s .*more than the 120 s DLM gives it; expected snapshotParameters\.lockRetries at most 4/,
        ],
        [
            { snapshotParameters: { lockTimeoutSeconds: "30", lockRetries: "0" } },
            /pre-script may take 135 s .*expected snapshotParameters\.lockTimeoutSeconds at most 26\b/,
        ],
        [
            { snapshotParameters: { preScriptSeconds: "60" } },
            /snapshotParameters\.lockRetries 3 .* more than the 60 s DLM gives it; expected snapshotParameters\.lockRetries at most 1\b/,
        ],
    ];
    for (const [raw, message] of cases) {
        it(`${message ? "rejects" : "accepts"} ${JSON.stringify(raw).slice(0, 90)}`, () => {
            if (!message) assert.equal(validateStackConfig({ ...dlm, ...raw }).scheduler, "dlm");
            else assert.throws(() => validateStackConfig({ ...dlm, ...raw }), message);
        });
    }
});

describe("stack configuration (config.ts)", () => {
    it("takes a logGroupKmsKey ARN only in the stack's Region (aws:region): CloudWatch Logs uses keys of its own Region", () => {
        const arn = (region: string) => `arn:aws:kms:${region}:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
        assert.equal(validateStackConfig({ logGroupKmsKey: arn("eu-west-1") }, "eu-west-1").logGroupKmsKey, arn("eu-west-1"));
        assert.throws(
            () => validateStackConfig({ logGroupKmsKey: arn("eu-west-1") }, "us-east-1"),
            /consistent-snapshots:logGroupKmsKey: .* the ARN of a KMS key in the stack's Region \(arn:aws:kms:us-east-1:<account>:key\/<id>\)/,
        );
    });
    it("has at least 40 cases across keys", () => {
        assert.ok(TABLE.length >= 40);
        assert.ok(new Set(TABLE.map(([k]) => k)).size >= 15);
    });

    for (const [key, input, valid, accepted] of TABLE) {
        const label = JSON.stringify(input).slice(0, 40);
        if (valid) {
            it(`accepts ${key}=${label}`, () => {
                // A schedule on some days only, or once, needs its freshness window given (below).
                const needsFreshness = key === "schedule" && defaultFreshnessHours(String(input)) === undefined;
                validateStackConfig({ [key]: input, ...(key === "cutoff" ? { duration: "3" } : {}), ...(needsFreshness ? { freshnessHours: "0" } : {}) });
            });
        } else {
            it(`rejects ${key}=${label}, naming the key and the accepted form`, () => {
                assert.throws(
                    () => validateStackConfig({ [key]: input }),
                    (err: unknown) => {
                        assert.ok(err instanceof ConfigError);
                        assert.match(err.message, new RegExp(`consistent-snapshots:${key.replace(/[[\]]/g, "\\$&")}`));
                        assert.match(err.message, accepted!);
                        return true;
                    },
                );
            });
        }
    }

    it("applies the documented defaults when nothing is set", () => {
        assert.deepEqual(validateStackConfig({}), { ...CONFIG_DEFAULTS });
        assert.equal(CONFIG_DEFAULTS.schedule, "cron(0 0 * * ? *)");
        assert.equal(CONFIG_DEFAULTS.tagKey, "ConsistentSnapshot");
        assert.equal(CONFIG_DEFAULTS.tagValue, "AmazonLinuxMySQL");
        assert.equal(CONFIG_DEFAULTS.duration, 2);
        assert.equal(CONFIG_DEFAULTS.cutoff, 0);
    });

    it("judges the window's values with SnapshotMaintenanceWindow's own check, naming the config keys", () => {
        assert.throws(
            () => validateStackConfig({ duration: "two", logRetentionDays: "42", maxConcurrency: "0" }),
            (err: ConfigError) => {
                assert.deepEqual(err.problems, [
                    'consistent-snapshots:duration: "two" is not valid; expected a whole number of hours from 1 to 24',
                    'consistent-snapshots:maxConcurrency: "0" is not valid; expected a count from 1 to 9999999 (e.g. 1) or a percentage from 1% to 100% (e.g. 10%)',
                    `consistent-snapshots:logRetentionDays: 42 is not valid; expected one of CloudWatch Logs' periods: ${LOG_RETENTION_DAYS.join(", ")}`,
                ]);
                return true;
            },
        );
    });

    it("names an extra target by its place in the configured list, also after a malformed one", () => {
        assert.throws(
            () =>
                validateStackConfig({
                    extraTargets: [
                        42,
                        { tagValue: "Y", script: "consistent-snapshot", maxErrors: "x" },
                        { tagValue: "bad#value", script: "consistent-snapshot" },
                    ],
                }),
            (err: ConfigError) => {
                assert.equal(err.problems.length, 3, err.message);
                assert.match(err.problems[0], /^consistent-snapshots:extraTargets\[0\]: 42 is not valid/);
                assert.match(err.problems[1], /^consistent-snapshots:extraTargets\[1\]\.maxErrors: "x" is not valid; expected a count from 0/);
                assert.match(err.problems[2], /^consistent-snapshots:extraTargets\[2\]\.tagValue: "bad#value" is not valid; expected a tag value of letters/);
                return true;
            },
        );
    });

    it("declares the window's targets in one place (windowTargets): the main one, then each extra target with its script, priority 2, 3, ...", () => {
        const config = validateStackConfig({
            tagValue: "Db",
            maxConcurrency: "10%",
            snapshotParameters: { maxFreezeSeconds: "20" },
            extraTargets: [
                { tagValue: "Fs", script: "consistent-snapshot", parameters: { database: "none" } },
                { tagValue: "Fs2", script: "consistent-snapshot", maxErrors: "0" },
            ],
        });
        assert.deepEqual(windowTargets(config), [
            {
                name: MAIN_TARGET_NAME,
                tagValue: "Db",
                script: "consistent-snapshot",
                maxConcurrency: "10%",
                maxErrors: "1",
                parameters: { maxFreezeSeconds: "20" },
            },
            {
                name: "extra-1",
                tagValue: "Fs",
                script: "consistent-snapshot",
                priority: 2,
                maxConcurrency: "1",
                maxErrors: "1",
                parameters: { database: "none" },
            },
            { name: "extra-2", tagValue: "Fs2", script: "consistent-snapshot", priority: 3, maxConcurrency: "1", maxErrors: "0", parameters: {} },
        ]);
    });

    it("takes its defaults from the components' (one definition each)", () => {
        for (const key of ["schedule", "scheduleTimezone", "duration", "cutoff", "enabled", "tagKey", "logRetentionDays", "commandTimeoutSeconds"] as const) {
            assert.equal(CONFIG_DEFAULTS[key], MAINTENANCE_WINDOW_DEFAULTS[key], key);
        }
        assert.equal(CONFIG_DEFAULTS.maxConcurrency, WINDOW_TARGET_DEFAULTS.maxConcurrency);
        assert.equal(CONFIG_DEFAULTS.maxErrors, WINDOW_TARGET_DEFAULTS.maxErrors);
        for (const key of ["instanceType", "dataVolumeSizeGiB", "protectDataVolume", "retainDataVolumeOnDelete", "binlogExpireDays"] as const) {
            assert.equal(CONFIG_DEFAULTS[key], MYSQL_HOST_DEFAULTS[key], key);
        }
    });

    describe("freshnessHours (the alarm when no successful run happened)", () => {
        const cases: [Record<string, unknown>, number | RegExp][] = [
            [{}, 48],
            [{ schedule: "cron(0 0/6 * * ? *)" }, 26],
            [{ schedule: "rate(6 hours)", freshnessHours: "8" }, 8],
            [{ freshnessHours: "0" }, 0],
            [
                { freshnessHours: "24" },
                /consistent-snapshots:freshnessHours: 24 is not valid; expected more hours than the longest gap between two runs of cron\(0 0 \* \* \? \*\) \(24 h\), or 0: it would fire between two good runs/,
            ],
            [
                { freshnessHours: "169" },
                /consistent-snapshots:freshnessHours: 169 is not valid; expected 0 \(no freshness alarm\) or a whole number of hours from 1 to 168/,
            ],
            [
                { freshnessHours: "soon" },
                /consistent-snapshots:freshnessHours: "soon" is not valid; expected auto, 0 \(no freshness alarm\) or a whole number of hours from 1 to 168/,
            ],
            [
                { schedule: "cron(0 2 ? * MON-FRI *)" },
                /consistent-snapshots:freshnessHours: expected a value: the gap between runs of cron\(0 2 \? \* MON-FRI \*\) is not plain to compute .* or 0 for no freshness alarm/,
            ],
            [{ schedule: "cron(0 2 ? * MON-FRI *)", freshnessHours: "74" }, 74],
            [
                { schedule: "rate(4 days)" },
                /freshnessHours: expected a value: rate\(4 days\) runs up to 96 h apart, and twice that is more than an alarm looks back over \(168 h\)/,
            ],
            [
                { scheduler: "dlm", freshnessHours: "12" },
                /consistent-snapshots:freshnessHours 12: expected more hours than the longest gap between two runs of cron\(0 0 \* \* \? \*\) \(24 h\)/,
            ],
            [{ scheduler: "dlm" }, 48],
        ];
        for (const [raw, expected] of cases) {
            it(`${typeof expected === "number" ? `${expected} h` : "refuses"} for ${JSON.stringify(raw)}`, () => {
                if (typeof expected !== "number") {
                    assert.throws(
                        () => validateStackConfig(raw),
                        (err: ConfigError) => {
                            assert.equal(err.problems.length, 1, err.message);
                            assert.match(err.problems[0], expected);
                            return true;
                        },
                    );
                    return;
                }
                const config = validateStackConfig(raw);
                const hours = config.freshnessHours === "auto" ? defaultFreshnessHours(config.schedule) : config.freshnessHours;
                assert.equal(hours, expected);
            });
        }

        it("computes the longest gap between runs from rate(...) and from a daily cron's minutes and hours", () => {
            assert.deepEqual(
                [
                    "rate(30 minutes)",
                    "rate(6 hours)",
                    "rate(2 days)",
                    "cron(0 0 * * ? *)",
                    "cron(30 1,13 * * ? *)",
                    "cron(0 22-23,0-2 * * ? *)",
                    "cron(15 8-17 ? * * *)",
                    "cron(0 0 1 * ? *)",
                    "cron(0 0 ? * SUN *)",
                    "at(2026-12-24T23:00:00)",
                    "cron(0 3 ? * MON,TUE,WED,THU,FRI,SAT,SUN *)",
                    "cron(0 3 ? * MON-FRI *)",
                    "cron(0 3 ? JAN-JUN * *)",
                ].map(longestGapHours),
                [0.5, 6, 48, 24, 12, 20, 15, undefined, undefined, undefined, 24, undefined, undefined],
            );
        });
    });

    it("refuses a target parameter in snapshotParameters and extraTargets: each target's runs carry the target's name", () => {
        assert.throws(
            () => validateStackConfig({ snapshotParameters: { target: "x" } }),
            /snapshotParameters\.target: "x" is not valid; expected nothing: each target's runs get the target's name/,
        );
        assert.throws(
            () => validateStackConfig({ extraTargets: [{ tagValue: "F", script: "consistent-snapshot", parameters: { target: "main" } }] }),
            /extraTargets\[0\]\.parameters\.target/,
        );
    });

    it("reports every problem at once", () => {
        assert.throws(
            () => validateStackConfig({ duration: "30", maxErrors: "x", networkMode: "y" }),
            (err: ConfigError) => err.problems.length === 3,
        );
    });

    it("reads the project's namespace from Pulumi config, including structured values", async () => {
        await useMocks("dev", {
            schedule: "rate(12 hours)",
            maxConcurrency: "10%",
            snapshotParameters: JSON.stringify({ maxFreezeSeconds: "15" }),
            extraTargets: JSON.stringify([{ tagValue: "Fs", script: "consistent-snapshot", parameters: { database: "none" } }]),
        });
        const config = loadStackConfig();
        assert.equal(config.schedule, "rate(12 hours)");
        assert.equal(config.maxConcurrency, "10%");
        assert.deepEqual(config.snapshotParameters, { maxFreezeSeconds: "15" });
        assert.deepEqual(config.extraTargets, [
            { tagValue: "Fs", script: "consistent-snapshot", maxConcurrency: "1", maxErrors: "1", parameters: { database: "none" } },
        ]);
    });

    it("fails at preview time on a bad value, naming the key", async () => {
        await useMocks("dev", { schedule: "cron(0 0 * * ? *" });
        assert.throws(() => loadStackConfig(), /consistent-snapshots:schedule: "cron\(0 0 \* \* \? \*" is not valid/);
    });
});

describe("maintenance-window schedules (components/schedule.ts)", () => {
    const valid = [
        "cron(0 2 ? * THU#3 *)",
        "cron(15 10 ? * 6L *)",
        "cron(0 2 L * ? *)",
        "cron(0 9 15W * ? *)",
        "cron(0 0 LW * ? *)",
        "cron(0 18 ? JAN-MAR,JUL MON-FRI 2027-2030)",
        "cron(*/10 * * * ? *)",
        "cron(0 */2 ? * SUN *)",
        "cron(55 23 * * ? *)",
        "cron(5 0/1 * * ? *)",
        "cron(0 0 1 */3 ? *)",
        "cron(0 12 ? * 2/2 *)",
        "rate(5 minutes)",
        "rate(1 minute)",
        "rate(30 days)",
        "cron(58 0-23 * * ? *)",
    ];
    const invalid: [string, RegExp][] = [
        ["cron(0 0 ? * ? *)", /exactly one/],
        ["cron(60 0 * * ? *)", /Minutes '60'/],
        ["cron(0 0 32 * ? *)", /Day-of-month '32'/],
        ["cron(0 0 ? 13 MON *)", /Month '13'/],
        ["cron(0 0 ? * 8 *)", /Day-of-week '8'/],
        ["cron(0 0 ? * THU#6 *)", /'#' takes one day/],
        ["cron(0 0 ? * MON#1,FRI#2 *)", /no list/],
        ["cron(0 0 * * ? 1969)", /Year '1969'/],
        ["cron(0 L * * ? *)", /only allowed in Day-of-month and Day-of-week/],
        ["cron(0 0 * FOO ? *)", /Month 'FOO'/],
        ["cron(0 0 * * ? * *)", /Month '\?'/],
        ["cron(0 0 0 * * ? *)", /Seconds field does not support 0/],
        ["cron(1,2 0 0 * * ? *)", /Seconds '1,2' runs more often/],
        ["cron(0,3 * * * ? *)", /runs every 3 minute/],
        ["cron(0  0 * * ? *)", /single spaces/],
        ["cron(0 0 * * ? *) ", /expected cron/],
        ["rate(5 weeks)", /expected rate/],
        ["rate(05 minutes)", /positive integer/],
        ["at(2026-12-24 23:00:00)", /expected at/],
        ["at(2026-12-24T24:00:00)", /not a real date/],
        ["cron(0 0 ? * */0 *)", /increment '0'/],
    ];

    for (const schedule of valid) {
        it(`accepts ${schedule}`, () => assert.equal(scheduleError(schedule), undefined));
    }
    for (const [schedule, why] of invalid) {
        it(`rejects ${schedule}`, () => {
            const error = scheduleError(schedule);
            assert.ok(error, "accepted");
            assert.match(error, why);
        });
    }
    it("takes the gap across the hour into account (58 and 0 minutes of consecutive hours)", () => {
        assert.match(scheduleError("cron(0,58 * * * ? *)") ?? "", /runs every 2 minute/);
        assert.equal(scheduleError("cron(0,58 3 * * ? *)"), undefined);
    });
});

describe("Pulumi.yaml config block", () => {
    const project = yaml.load(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as {
        name: string;
        config: Record<string, { type?: string; default: unknown; description: string }>;
    };

    it("is the project the code reads config for", () => assert.equal(project.name, "consistent-snapshots"));

    for (const [key, codeDefault] of Object.entries(CONFIG_DEFAULTS)) {
        it(`declares ${key} with a description and the code's default`, () => {
            const declared = project.config[key];
            assert.ok(declared, `${key} is not declared`);
            assert.ok(declared.description.length > 10);
            assert.deepEqual(declared.default, codeDefault);
            const expectedType = typeof codeDefault === "number" ? "integer" : typeof codeDefault === "object" ? undefined : typeof codeDefault;
            assert.equal(declared.type, expectedType, "structured keys carry no type: project config types cannot describe objects");
        });
    }

    it("declares nothing the code does not read", () => {
        assert.deepEqual(Object.keys(project.config).sort(), Object.keys(CONFIG_DEFAULTS).sort());
    });
});

describe("restoreDrill config", () => {
    it("takes subnetId auto with the private demo network, and keeps the fields as given", () => {
        const config = validateStackConfig({
            networkMode: "private",
            restoreDrill: { subnetId: "auto", timeoutMinutes: "90", scheduleTimezone: "Europe/Paris" },
        });
        assert.deepEqual(config.restoreDrill, {
            subnetId: "auto",
            schedule: undefined,
            scheduleTimezone: "Europe/Paris",
            enabled: undefined,
            instanceType: undefined,
            imageId: undefined,
            timeoutMinutes: 90,
            serverPackage: undefined,
        });
    });
});
