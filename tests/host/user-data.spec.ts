// The demo host's user data (scripts/mysql-host-user-data.sh), run for real as far as this machine allows: its
// functions are sourced and pointed at fixtures (fstab, systemd drop-in directory, root's option file, fake
// lsblk/mariadb). Nothing here touches the machine's own /etc. Where the datadir resolves: mariadb-options.spec.ts.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { mysqlHostUserData } from "../../components/mysqlHost";
import { VOLUME_ID, userData } from "./userData";

/** A fake `lsblk -ndpo NAME,SERIAL,TYPE` / `lsblk -ndo SERIAL <dev>` over the given disks. */
function fakeLsblk(dir: string, disks: { name: string; serial: string }[]): string {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin, { recursive: true });
    const table = disks.map((d) => `${d.name}\t${d.serial}`).join("\n");
    fs.writeFileSync(
        path.join(bin, "lsblk"),
        `#!/usr/bin/env bash
table='${table}'
device=\${!#}
if [[ $device == /* ]]; then
  awk -F'\\t' -v d="$device" '$1 == d { print $2 }' <<<"$table"
else
  awk -F'\\t' '{ printf "%s %s disk\\n", $1, $2 }' <<<"$table"
fi
`,
        { mode: 0o755 },
    );
    return bin;
}

describe("demo host user data (scripts/mysql-host-user-data.sh)", () => {
    let tmp: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cs-user-data-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    for (const days of ["0", "100", "7; reboot"]) {
        it(`refuses BINLOG_EXPIRE_DAYS=${days} before writing anything`, () => {
            const myCnfDir = path.join(tmp, "my.cnf.d");
            const run = userData(`MY_CNF_DIR=${myCnfDir}; write_server_options`, { BINLOG_EXPIRE_DAYS: days });
            assert.notEqual(run.status, 0);
            assert.match(run.stdout + run.stderr, /BINLOG_EXPIRE_DAYS .* is not 1-99/);
            assert.equal(fs.existsSync(myCnfDir), false);
        });
    }

    it("orders MariaDB after the data volume's mount (RequiresMountsFor drop-in: Requires= and After= on the mount)", () => {
        const run = userData(`SYSTEMD_DIR=${tmp}/systemd; write_mount_ordering`);
        assert.equal(run.status, 0, run.stderr);
        const dropIn = fs.readFileSync(path.join(tmp, "systemd", "mariadb.service.d", "consistent-snapshots.conf"), "utf8");
        const lines = dropIn.split("\n").filter((l) => l && !l.startsWith("#"));
        assert.deepEqual(lines, ["[Unit]", "RequiresMountsFor=/data/mysql /data/binlog"]);
    });

    it("writes one nofail fstab entry for the data volume by UUID, replacing an earlier one and keeping the rest", () => {
        const fstab = path.join(tmp, "fstab");
        fs.writeFileSync(fstab, "UUID=root-uuid / xfs defaults,noatime 1 1\n# /data was here\nUUID=old-uuid /data xfs defaults 0 2\n");
        for (const uuid of ["new-uuid", "new-uuid"]) {
            const run = userData(`FSTAB=${fstab}; write_fstab_entry ${uuid}`);
            assert.equal(run.status, 0, run.stderr);
        }
        assert.equal(
            fs.readFileSync(fstab, "utf8"),
            "UUID=root-uuid / xfs defaults,noatime 1 1\n# /data was here\nUUID=new-uuid /data xfs defaults,nofail 0 2\n",
        );
    });

    describe("finding the data volume", () => {
        const instanceStore = { name: "/dev/nvme1n1", serial: "AWS27A1B2C3D4E5F6A7B" };
        const rootVolume = { name: "/dev/nvme0n1", serial: "vol0aaaaaaaaaaaaaaaa0" };

        it("takes the disk whose NVMe serial is the volume id without its dash, whatever its position", () => {
            const bin = fakeLsblk(tmp, [rootVolume, instanceStore, { name: "/dev/nvme2n1", serial: VOLUME_ID.replace("-", "") }]);
            const run = userData("find_data_device", { DATA_VOLUME_WAIT_SECONDS: "0" }, bin);
            assert.equal(run.status, 0, run.stderr);
            assert.equal(run.stdout.trim(), "/dev/nvme2n1");
        });

        it("never takes an instance-store disk: without the volume it waits, then gives up", () => {
            const bin = fakeLsblk(tmp, [rootVolume, instanceStore]);
            const started = Date.now();
            const run = userData("find_data_device", { DATA_VOLUME_WAIT_SECONDS: "3" }, bin);
            assert.equal(run.status, 1);
            assert.equal(run.stdout.trim(), "");
            assert.ok(Date.now() - started >= 3000, "gave up before its wait");
        });

        it("on Xen (no serials), takes the /dev/sdf link only", () => {
            const device = path.join(tmp, "xvdf");
            assert.equal(spawnSync("mknod", [device, "b", "7", "250"]).status, 0, "mknod failed");
            fs.symlinkSync(device, path.join(tmp, "sdf"));
            const bin = fakeLsblk(tmp, [
                { name: "/dev/xvda", serial: "" },
                { name: device, serial: "" },
            ]);
            const run = userData(`DATA_DEVICE_NAME=${tmp}/sdf; find_data_device`, { DATA_VOLUME_WAIT_SECONDS: "0" }, bin);
            assert.equal(run.status, 0, run.stderr);
            assert.equal(run.stdout.trim(), device);
        });

        it("refuses a /dev/sdf that is another EBS volume (its serial names a different volume)", () => {
            const device = path.join(tmp, "nvme3n1");
            assert.equal(spawnSync("mknod", [device, "b", "7", "251"]).status, 0, "mknod failed");
            fs.symlinkSync(device, path.join(tmp, "sdf"));
            const bin = fakeLsblk(tmp, [{ name: device, serial: "vol0bbbbbbbbbbbbbbbb0" }]);
            const run = userData(`DATA_DEVICE_NAME=${tmp}/sdf; find_data_device`, { DATA_VOLUME_WAIT_SECONDS: "0" }, bin);
            assert.equal(run.status, 1);
        });

        for (const [probe, outcome] of [
            [0, "keeps"],
            [2, "formats"],
            [8, "refuses"],
            [4, "refuses"],
        ] as const) {
            it(`${outcome} the data volume when blkid -p (the device itself, not libblkid's cache) exits ${probe}`, () => {
                const bin = path.join(tmp, "bin");
                fs.mkdirSync(bin);
                fs.writeFileSync(
                    path.join(bin, "blkid"),
                    `#!/usr/bin/env bash\necho "$*" >>${tmp}/blkid.argv\n[[ " $* " == *" -s UUID "* ]] && { echo 0b0e; exit 0; }\nexit ${probe}\n`,
                    { mode: 0o755 },
                );
                fs.writeFileSync(path.join(bin, "mkfs.xfs"), `#!/usr/bin/env bash\necho "$*" >>${tmp}/mkfs.argv\n`, { mode: 0o755 });
                // Everything past the decision is stubbed: the device, fstab and mount belong to other tests.
                const run = userData(
                    `find_data_device() { echo /dev/fake-data; }; write_fstab_entry() { echo "uuid=$1" >${tmp}/fstab; exit 0; }
prepare_data_volume`,
                    {},
                    bin,
                );
                const mkfs = fs.existsSync(path.join(tmp, "mkfs.argv")) ? fs.readFileSync(path.join(tmp, "mkfs.argv"), "utf8") : "";
                for (const call of fs.readFileSync(path.join(tmp, "blkid.argv"), "utf8").trim().split("\n"))
                    assert.match(call, /^-p /, "a cached blkid answer");
                if (outcome === "refuses") {
                    assert.equal(run.status, 1);
                    assert.match(
                        run.stdout + run.stderr,
                        new RegExp(`blkid -p /dev/fake-data failed \\(exit ${probe}\\): not formatting a device whose content is unknown`),
                    );
                    assert.equal(mkfs, "", "formatted a device whose probe failed");
                } else {
                    assert.equal(run.status, 0, run.stdout + run.stderr);
                    assert.equal(mkfs, outcome === "formats" ? "-q /dev/fake-data\n" : "");
                    assert.equal(fs.readFileSync(path.join(tmp, "fstab"), "utf8"), "uuid=0b0e\n");
                }
            });
        }

        it("refuses a DATA_VOLUME_ID that is not a volume id before looking for any disk", () => {
            const run = userData("prepare_data_volume", { DATA_VOLUME_ID: "/dev/nvme1n1" });
            assert.equal(run.status, 1);
            assert.match(run.stdout, /DATA_VOLUME_ID '\/dev\/nvme1n1' is not an EBS volume id/);
        });
    });

    it("re-keys the backup account on a host that finds an existing database, password only on stdin and in a 0600 file", () => {
        const bin = path.join(tmp, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "mariadb"), `#!/usr/bin/env bash\necho "$*" >>${tmp}/mariadb.argv\ncat >>${tmp}/mariadb.sql\n`, { mode: 0o755 });
        const myCnf = path.join(tmp, "root.my.cnf");
        fs.writeFileSync(
            myCnf,
            "[client]\nsocket=/var/lib/mysql/mysql.sock\n[client_consistent_snapshot]\nuser=consistent_snapshot\npassword=OldHostPassword\n[mysql]\nprompt=db>\n",
        );
        const run = userData(`ROOT_MY_CNF=${myCnf}; create_backup_account`, {}, bin);
        assert.equal(run.status, 0, run.stderr);
        const cnf = fs.readFileSync(myCnf, "utf8");
        const groups = cnf.match(/^\[client_consistent_snapshot\]$/gm) ?? [];
        assert.equal(groups.length, 1, cnf);
        assert.doesNotMatch(cnf, /OldHostPassword/);
        assert.match(cnf, /^\[client\]\nsocket=\/var\/lib\/mysql\/mysql\.sock\n\[mysql\]\nprompt=db>\n/);
        const password = /\[client_consistent_snapshot\]\nuser=consistent_snapshot\npassword=([A-Za-z0-9]{20,})\n$/.exec(cnf)?.[1];
        assert.ok(password, cnf);
        assert.equal(fs.statSync(myCnf).mode & 0o777, 0o600);
        const sql = fs.readFileSync(path.join(tmp, "mariadb.sql"), "utf8");
        assert.match(sql, /^CREATE USER IF NOT EXISTS 'consistent_snapshot'@'localhost';$/m);
        assert.ok(sql.includes(`ALTER USER 'consistent_snapshot'@'localhost' IDENTIFIED BY '${password}';`), sql);
        assert.match(sql, /^GRANT RELOAD, PROCESS, BINLOG MONITOR, SLAVE MONITOR, SHOW VIEW ON \*\.\* TO 'consistent_snapshot'@'localhost';$/m);
        assert.doesNotMatch(fs.readFileSync(path.join(tmp, "mariadb.argv"), "utf8"), new RegExp(password));
    });

    it("as rendered by MysqlHost (header + script) is shellcheck-clean and runs main only when executed, not when sourced", () => {
        const rendered = mysqlHostUserData({ dataVolumeId: VOLUME_ID, binlogExpireDays: 7 });
        const check = spawnSync("shellcheck", ["-s", "bash", "-"], { input: rendered, encoding: "utf8" });
        assert.equal(check.status, 0, check.stdout + check.stderr);
        const file = path.join(tmp, "user-data");
        fs.writeFileSync(file, rendered);
        const sourced = spawnSync("bash", ["-c", `source ${file} && declare -F main && echo "$DATA_VOLUME_ID $BINLOG_EXPIRE_DAYS"`], { encoding: "utf8" });
        assert.equal(sourced.status, 0, sourced.stderr);
        assert.equal(sourced.stdout, `main\n${VOLUME_ID} 7\n`);
        assert.ok(
            !fs.existsSync("/var/log/consistent-snapshots-user-data.log") ||
                !fs.readFileSync("/var/log/consistent-snapshots-user-data.log", "utf8").includes(VOLUME_ID),
            "sourcing ran main",
        );
    });
});
