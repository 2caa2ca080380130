// Where the demo host's MariaDB really keeps its files: the user data's option file is written into a fixture
// laid out like Amazon Linux 2023's, and the MariaDB server binary itself (`mariadbd --verbose --help`) says
// where the datadir and binlog resolve. Runs on the host and in every MariaDB cell of the compatibility
// matrix (MariaDB 10.5 there is the major of AL2023's mariadb105-server).
// AL2023's mariadb105-server (Fedora packaging) ships /etc/my.cnf with `!includedir /etc/my.cnf.d` and
// my.cnf.d/mariadb-server.cnf with `[mysqld] datadir=/var/lib/mysql`; the server reads the directory in
// sorted order and the last value wins.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { userData } from "./userData";

const AL2023_MY_CNF = (dir: string) => `#
# This group is read both both by the client and the server
# use it for options that affect everything
#
[client-server]

#
# This group is read by the server
#
[mysqld]

#
# include all files from the config directory
#
!includedir ${dir}
`;
const AL2023_MARIADB_SERVER_CNF = `#
# These groups are read by MariaDB server.
# Use it for options that only the server (but not clients) should see
[server]

# this is only for the mysqld standalone daemon
[mysqld]
datadir=/var/lib/mysql
socket=/var/lib/mysql/mysql.sock
log-error=/var/log/mariadb/mariadb.log
pid-file=/run/mariadb/mariadb.pid

[galera]

[embedded]

[mariadb]

[mariadb-10.5]
`;
const AL2023_CLIENT_CNF = "[client]\n\n[client-mariadb]\n";
const AL2023_MYSQL_CLIENTS_CNF =
    "[mysql]\n\n[mysql_upgrade]\n\n[mysqladmin]\n\n[mysqlbinlog]\n\n[mysqlcheck]\n\n[mysqldump]\n\n[mysqlimport]\n\n[mysqlshow]\n\n[mysqlslap]\n";

/** The server binary's own view of its options after reading the option files: `mariadbd --verbose --help`. */
function serverOptions(myCnf: string): Map<string, string> {
    const binary = ["mariadbd", "mysqld"].find((b) => spawnSync("sh", ["-c", `command -v ${b}`]).status === 0);
    assert.ok(binary, "no MariaDB server binary (mariadbd/mysqld) on PATH");
    const result = spawnSync(binary, [`--defaults-file=${myCnf}`, "--verbose", "--help"], { encoding: "utf8", timeout: 30_000 });
    assert.equal(result.status, 0, result.stderr);
    const options = new Map<string, string>();
    const table = result.stdout.slice(result.stdout.lastIndexOf("---------------------------------------"));
    for (const line of table.split("\n")) {
        const m = /^(\S+)\s+(.*)$/.exec(line);
        if (m) options.set(m[1], m[2].trim());
    }
    return options;
}

describe("demo host MariaDB options (scripts/mysql-host-user-data.sh on AL2023's option-file layout)", () => {
    let tmp: string;
    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cs-mariadb-options-"));
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    function al2023OptionFiles(): { myCnf: string; myCnfDir: string } {
        const myCnfDir = path.join(tmp, "etc", "my.cnf.d");
        fs.mkdirSync(myCnfDir, { recursive: true });
        const myCnf = path.join(tmp, "etc", "my.cnf");
        fs.writeFileSync(myCnf, AL2023_MY_CNF(myCnfDir));
        fs.writeFileSync(path.join(myCnfDir, "mariadb-server.cnf"), AL2023_MARIADB_SERVER_CNF);
        fs.writeFileSync(path.join(myCnfDir, "client.cnf"), AL2023_CLIENT_CNF);
        fs.writeFileSync(path.join(myCnfDir, "mysql-clients.cnf"), AL2023_MYSQL_CLIENTS_CNF);
        return { myCnf, myCnfDir };
    }

    it("puts the datadir and the binlog on the data volume, binlogs expiring, as the MariaDB server resolves AL2023's option files", () => {
        const { myCnf, myCnfDir } = al2023OptionFiles();
        const run = userData(`MY_CNF_DIR=${myCnfDir}; write_server_options`, { BINLOG_EXPIRE_DAYS: "9" });
        assert.equal(run.status, 0, run.stderr);
        const options = serverOptions(myCnf);
        assert.equal(options.get("datadir"), "/data/mysql/");
        assert.equal(options.get("log-bin"), "/data/binlog/mysql-bin");
        assert.equal(options.get("expire-logs-days"), "9");
        assert.equal(options.get("bind-address"), "127.0.0.1");
        assert.equal(options.get("socket"), "/var/lib/mysql/mysql.sock", "the package's socket (clients' default) is kept");
    });

    it("(control) the same options in a file that sorts before mariadb-server.cnf lose: the fixture can tell", () => {
        const { myCnf, myCnfDir } = al2023OptionFiles();
        const run = userData(`MY_CNF_DIR=${myCnfDir}; write_server_options`);
        assert.equal(run.status, 0, run.stderr);
        fs.renameSync(path.join(myCnfDir, "zz-consistent-snapshots.cnf"), path.join(myCnfDir, "consistent-snapshots.cnf"));
        assert.equal(serverOptions(myCnf).get("datadir"), "/var/lib/mysql/");
    });
});
