// Specification of the script tests' own measuring instrument: tests/script/writer.sh and how its output is
// counted. A test that says "every acknowledged commit is in the copy" is only as good as its list of
// acknowledgements; issue 23 was this list counting a commit at epoch 0.
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writer, WriterEvent, acknowledgedCommitProblems, parseWriterLine, sleep } from "./fixture";

const WRITER = path.join(__dirname, "writer.sh");

describe("writer.sh (the concurrent writer the script tests count commits with)", () => {
    let dir: string;
    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "cs-writer-"));
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("prints every acknowledgement with its time and iteration, also when its process group is stopped mid-line (Writer.stop's SIGTERM)", async function () {
        this.timeout(60000);
        // A stand-in client that answers each SELECT 'c<N>' at once: the writer spends its time between commits,
        // where the SIGTERM used to kill the fork that read the clock and leave "db " (read as a commit at 0 ms).
        const client = path.join(dir, "client.sh");
        fs.writeFileSync(client, "#!/bin/bash\nwhile IFS= read -r l; do [[ $l =~ SELECT\\ \\'(c[0-9]+)\\' ]] && echo \"${BASH_REMATCH[1]}\"; done\n", {
            mode: 0o755,
        });
        let commits = 0;
        for (let round = 0; round < 40; round++) {
            const started = Date.now();
            const child = spawn("bash", [WRITER, "/dev/null", path.join(dir, "append.log"), client, "t"], {
                stdio: ["ignore", "pipe", "pipe"],
                detached: true,
            });
            let stderr = "";
            child.stderr!.on("data", (d: Buffer) => {
                stderr += d;
            });
            const writer = new Writer(child, "t");
            await sleep(60 + ((round * 7) % 80));
            await writer.stop();
            assert.equal(stderr, "", "the writer's own errors");
            const events = writer.commits; // throws on any other line
            const db = events.filter((e) => e.kind === "db");
            assert.deepEqual(
                db.map((e) => e.iteration),
                db.map((_, i) => i + 1),
                "iterations in order, none skipped",
            );
            const ended = Date.now();
            for (const e of events) assert.ok(e.atMs >= started && e.atMs <= ended, `${JSON.stringify(e)} outside the round (${started}-${ended})`);
            commits += db.length;
        }
        assert.ok(commits > 100, `only ${commits} commits in 40 rounds: the race was hardly exercised`);
    });

    it("refuses a line that is not an event instead of counting it (the line the old writer printed on SIGTERM)", () => {
        assert.throws(() => parseWriterLine("db "), /writer\.sh printed "db "/);
        assert.throws(() => parseWriterLine("db 1796399067456"), /not "db <epoch ms> <N>"/);
        assert.deepEqual(parseWriterLine("db 1796399067456 155"), { kind: "db", atMs: 1796399067456, iteration: 155 });
        assert.deepEqual(parseWriterLine("file 1796399067470"), { kind: "file", atMs: 1796399067470 });
    });

    describe("acknowledgedCommitProblems (what a copy taken at an instant must hold)", () => {
        // The run that failed in issue 23: w135 acknowledged 15 ms before the server was stopped, w136 121 ms after.
        const stoppedAtMs = 1796399066637;
        const events: WriterEvent[] = [
            ...Array.from({ length: 135 }, (_, i) => ({ kind: "db" as const, atMs: stoppedAtMs - 15 - (134 - i) * 40, iteration: i + 1 })),
            { kind: "file", atMs: stoppedAtMs - 5 },
            { kind: "db", atMs: stoppedAtMs + 121, iteration: 136 },
            { kind: "db", atMs: stoppedAtMs + 161, iteration: 137 },
        ];
        const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

        it("accepts a copy holding exactly what was acknowledged, or also the commit in flight", () => {
            assert.deepEqual(acknowledgedCommitProblems(events, stoppedAtMs, stoppedAtMs, upTo(135)), []);
            assert.deepEqual(acknowledgedCommitProblems(events, stoppedAtMs, stoppedAtMs, upTo(136)), []);
        });

        it("names an acknowledged commit the copy lacks, anywhere in the run, with how long before the instant it was acknowledged", () => {
            assert.deepEqual(acknowledgedCommitProblems(events, stoppedAtMs, stoppedAtMs, upTo(134)), [
                "w135, acknowledged 15 ms before the instant, is missing",
            ]);
            assert.deepEqual(
                acknowledgedCommitProblems(
                    events,
                    stoppedAtMs,
                    stoppedAtMs,
                    upTo(135).filter((n) => n !== 7),
                ),
                [`w7, acknowledged ${15 + 128 * 40} ms before the instant, is missing`],
            );
        });

        it("names a commit the copy cannot hold: sent only after the instant", () => {
            assert.deepEqual(acknowledgedCommitProblems(events, stoppedAtMs, stoppedAtMs, upTo(137)), [
                "w137 is there, sent after the instant (at most w136 may be)",
            ]);
        });
    });
});
