// The real-components fixture for the snapshot script: loop-backed ext4 and XFS filesystems, a real
// database server (MariaDB, or Oracle MySQL where that is what the machine has — the compatibility chroots)
// with its datadir on the ext4 one and its redo log and binlog on the XFS one, a least-privilege backup
// account, and the IMDS/EC2 double. Everything is created under a fresh temp dir and torn down by PID and
// path; the only filesystems that can ever be frozen are the ones this fixture created.
import { ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { documentParameterError, snapshotDocumentContent } from "../../components/snapshotDocument";
import { ENVIRONMENT_KEY, Ec2Double } from "./ec2-double";

const execFileAsync = promisify(execFile);
export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const SCRIPT = path.join(REPO_ROOT, "scripts", "consistent-snapshot.sh");
export const INSTANCE_ID = "i-0123456789abcdef0";
export const ROOT_VOLUME_ID = "vol-0bbbbbbbbbbbbbbb0";
export const DATA_VOLUME_ID = "vol-0aaaaaaaaaaaaaaa1";
export const LOGS_VOLUME_ID = "vol-0aaaaaaaaaaaaaaa2";
/** A volume with application files and no database file on it. */
export const APP_VOLUME_ID = "vol-0aaaaaaaaaaaaaaa5";
export const ROLE_NAME = "consistent-snapshots-fixture-role";
/** The least-privilege account the snapshot script uses, as the demo host creates it. */
export const BACKUP_USER = "consistent_snapshot";

function commandExists(tool: string): boolean {
    try {
        execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

/** The database server this machine has: MariaDB (mariadbd) or, where there is none, Oracle MySQL (mysqld). */
export const FLAVOR: "mariadb" | "mysql" = commandExists("mariadbd") || !commandExists("mysqld") ? "mariadb" : "mysql";
const SERVER = FLAVOR === "mariadb" ? "mariadbd" : "mysqld";
/** The command-line client of that server. */
export const CLIENT = FLAVOR === "mariadb" ? "mariadb" : "mysql";
/** Where to list running statements without a deprecation warning. */
export const PROCESSLIST = FLAVOR === "mariadb" ? "information_schema.PROCESSLIST" : "performance_schema.processlist";

export interface ScriptResult {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** The last stdout line, parsed. */
    summary: Record<string, unknown> & { status: string; exitCode: number; message: string };
    elapsedMs: number;
    /** Run like the agent: the step hit its timeoutSeconds (the agent reports TimedOut, 137). */
    timedOut?: boolean;
}

export interface AgentRunOptions {
    /** The step's timeoutSeconds: past it the agent SIGKILLs the process group (reported as 137). Default 120. */
    timeoutSeconds?: number;
    /**
     * An SSM Agent older than 3.3.2746: it ignores `interpolationType: ENV_VAR`, sets no `SSM_*` variable and
     * substitutes each `{{name}}` in the command text with the value instead. Default false.
     */
    withoutEnvVarSupport?: boolean;
    /** Sees each stderr line as it arrives; `cancel()` does what a Run Command cancel does (SIGKILL to the group). */
    onStderr?: (line: string, cancel: () => void) => void;
}

/** The environment a systemd service without User= gives its children, as the SSM Agent passes it on. */
export const AGENT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface MysqlServer {
    proc: ChildProcess;
    socket: string;
    cnf: string;
    datadir: string;
    errLog: string;
}

/** Every command the fixture runs must succeed; the error carries its output. */
function run(cmd: string, args: string[], input?: string): string {
    try {
        return execFileSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
    } catch (err) {
        const e = err as { stderr?: string; stdout?: string; message: string };
        throw new Error(`${cmd} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
    }
}

export function requirePrerequisites(): void {
    if (process.getuid?.() !== 0) throw new Error("the script tests must run as root (loop devices, mount, fsfreeze)");
    const server = FLAVOR === "mariadb" ? ["mariadbd", "mariadb", "mariadb-install-db"] : ["mysqld", "mysql"];
    const missing = [...server, "mkfs.xfs", "mkfs.ext4", "losetup", "fsfreeze", "aws", "unshare", "setpriv", "getent", "python3"].filter(
        (tool) => !commandExists(tool),
    );
    if (missing.length > 0) {
        throw new Error(`missing prerequisites: ${missing.join(", ")} (apt-get install mariadb-server xfsprogs; aws CLI)`);
    }
}

/** One fake EBS volume: an image file on the pool, a loop device, a mounted filesystem. */
export interface FixtureVolume {
    volumeId: string;
    image: string;
    loop: string;
    mountPoint: string;
    fsType: "ext4" | "xfs";
}

export interface FixtureOptions {
    /**
     * Data volumes of the fake instance (besides its boot volume): 1 (datadir, redo log and binlog on one ext4
     * filesystem), 2 (datadir on ext4, redo log and binlog on xfs; the default) or 4 (plus two more, ext4 and xfs).
     */
    volumeCount?: 1 | 2 | 4;
    /**
     * One more volume (ext4) holding application files and no database file, like an application's own data
     * mount: a snapshot of the instance takes it too. The writer's fsync'd append log lives there.
     */
    appVolume?: boolean;
}

export const EXTRA_VOLUME_IDS = ["vol-0aaaaaaaaaaaaaaa3", "vol-0aaaaaaaaaaaaaaa4"];

export class Fixture {
    /**
     * Searchable by others (0711), like a host's /restore: restore-verify.sh runs its server as the mysql user, who
     * must reach the restored datadir under it.
     */
    readonly dir = ((d: string) => {
        fs.chmodSync(d, 0o711);
        return d;
    })(fs.mkdtempSync(path.join(os.tmpdir(), "cs-fixture-")));
    readonly pool = path.join(this.dir, "pool");
    readonly dataMount = path.join(this.dir, "mnt", "data");
    readonly logsMount: string;
    readonly runDir = path.join(this.dir, "run");
    readonly appMount = path.join(this.dir, "mnt", "app");
    readonly appendLog: string;
    /** Root's home as the scripts see it when run like the SSM Agent: bound over /root in their mount namespace. */
    readonly rootHome = path.join(this.dir, "root-home");
    /** Root's home for scripts run by hand: empty, bound over /root, so the machine's own ~/.my.cnf never counts. */
    readonly byHandHome = path.join(this.dir, "by-hand-home");
    /** Document runs, as the agent's orchestration folder holds them. */
    readonly orchestrationDir = path.join(this.dir, "orchestration");
    readonly snapshotDir = path.join(this.pool, "snapshots");
    readonly volumes: FixtureVolume[] = [];
    private loops: string[] = [];
    /** Mount point -> the loop device mounted there (detached right after unmount). */
    private mounts: { target: string; loop: string }[] = [];
    private servers: MysqlServer[] = [];
    private children = new Set<ChildProcess>();
    private readonly volumeCount: 1 | 2 | 4;
    private readonly appVolume: boolean;
    private commandCounter = 0;
    live!: MysqlServer;
    double!: Ec2Double;

    constructor(options: FixtureOptions = {}) {
        this.volumeCount = options.volumeCount ?? 2;
        this.appVolume = options.appVolume ?? false;
        this.logsMount = this.volumeCount >= 2 ? path.join(this.dir, "mnt", "logs") : this.dataMount;
        this.appendLog = path.join(this.appVolume ? this.appMount : this.dataMount, "app", "append.log");
    }

    /** Mounts this fixture created and may freeze. Nothing else is ever thawed or frozen by tests. */
    get freezableMounts(): string[] {
        return this.volumes.map((v) => v.mountPoint);
    }

    private addVolume(volumeId: string, name: string, fsType: "ext4" | "xfs", mountPoint: string): FixtureVolume {
        const image = path.join(this.pool, `vol-${name}.img`);
        run("truncate", ["-s", "512M", image]);
        run(`mkfs.${fsType}`, ["-q", image]);
        const loop = this.attachLoop(image);
        this.mount(loop, mountPoint);
        const volume = { volumeId, image, loop, mountPoint, fsType };
        this.volumes.push(volume);
        return volume;
    }

    async setUp(): Promise<void> {
        fs.mkdirSync(this.pool);
        fs.mkdirSync(this.runDir);
        fs.mkdirSync(this.byHandHome, { mode: 0o700 });
        run("truncate", ["-s", "4G", path.join(this.dir, "pool.img")]);
        run("mkfs.xfs", ["-q", "-m", "reflink=1", path.join(this.dir, "pool.img")]);
        this.mount(this.attachLoop(path.join(this.dir, "pool.img")), this.pool);
        fs.mkdirSync(this.snapshotDir);
        this.addVolume(DATA_VOLUME_ID, "data", "ext4", this.dataMount);
        if (this.volumeCount >= 2) this.addVolume(LOGS_VOLUME_ID, "logs", "xfs", this.logsMount);
        if (this.volumeCount === 4) {
            this.addVolume(EXTRA_VOLUME_IDS[0], "extra1", "ext4", path.join(this.dir, "mnt", "extra1"));
            this.addVolume(EXTRA_VOLUME_IDS[1], "extra2", "xfs", path.join(this.dir, "mnt", "extra2"));
        }
        if (this.appVolume) this.addVolume(APP_VOLUME_ID, "app", "ext4", this.appMount);

        this.live = await this.startMysql("live", this.dataMount, this.logsMount, true);
        this.sqlSync(`CREATE DATABASE app;
            CREATE TABLE app.inno (id BIGINT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(64), at DATETIME(6)) ENGINE=InnoDB;
            CREATE TABLE app.myi (id BIGINT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(64), at DATETIME(6)) ENGINE=MyISAM;
            CREATE TABLE app.slow (id INT PRIMARY KEY, v INT) ENGINE=MyISAM;
            INSERT INTO app.slow VALUES (1, 0);
            CREATE TABLE app.probe (id BIGINT PRIMARY KEY AUTO_INCREMENT, at DATETIME(6)) ENGINE=InnoDB;
            CREATE TABLE app.lockprobe (id BIGINT PRIMARY KEY AUTO_INCREMENT, at DATETIME(6)) ENGINE=MEMORY;
            ${FLAVOR === "mariadb" ? "INSTALL SONAME 'metadata_lock_info';" : ""}`);
        this.createBackupAccount();
        fs.mkdirSync(path.dirname(this.appendLog), { recursive: true });
        fs.writeFileSync(this.appendLog, "");

        this.double = new Ec2Double({
            instanceId: INSTANCE_ID,
            region: "eu-west-1",
            availabilityZone: "eu-west-1a",
            rootDeviceName: "/dev/xvda",
            volumes: [
                { volumeId: ROOT_VOLUME_ID, deviceName: "/dev/xvda" },
                ...this.volumes.map((v) => ({ volumeId: v.volumeId, deviceName: v.loop, image: v.image, mountPoint: v.mountPoint })),
            ],
            snapshotDir: this.snapshotDir,
            sql: (statement, timeoutMs) => this.sql(statement, timeoutMs),
            lockFree: () => this.lockFree(1),
            backupLockModes: () => this.backupLockModes(),
            appendLog: this.appendLog,
            rootProbeDir: this.dir,
            roleName: ROLE_NAME,
        });
        await this.double.start();
        process.once("exit", () => this.thawAll());
    }

    /** Attaches an image file (e.g. a snapshot copy) as a loop device, detached at tear-down. */
    attachImage(image: string): string {
        return this.attachLoop(image);
    }

    /** Detaches a loop device attached with attachImage. */
    detachImage(loop: string): void {
        this.detachLoop(loop);
    }

    private attachLoop(image: string): string {
        const device = run("losetup", ["--find", "--show", image]).trim();
        this.loops.push(device);
        return device;
    }

    private mount(loop: string, target: string, options: string[] = []): void {
        fs.mkdirSync(target, { recursive: true });
        run("mount", [...options, loop, target]);
        this.mounts.push({ target, loop });
    }

    async startMysql(name: string, dataMount: string, logsMount: string, initialise: boolean): Promise<MysqlServer> {
        const datadir = path.join(dataMount, "mysql");
        const redo = path.join(logsMount, "redo");
        const socket = path.join(this.runDir, `${name}.sock`);
        const common = ["--no-defaults", "--user=root", `--datadir=${datadir}`, `--innodb-log-group-home-dir=${redo}`];
        if (initialise) {
            fs.mkdirSync(redo, { recursive: true });
            fs.mkdirSync(path.join(logsMount, "binlog"), { recursive: true });
            if (FLAVOR === "mariadb") {
                run("mariadb-install-db", [...common, "--auth-root-authentication-method=socket", "--skip-test-db"]);
            } else {
                // root@localhost with no password; the datadir must not exist yet.
                run("mysqld", [...common, "--initialize-insecure", `--log-error=${path.join(this.runDir, `${name}.init.err`)}`]);
            }
        }
        if (!initialise) {
            // A restored binlog index names the original server's files: point it at the restored copies.
            const index = path.join(logsMount, "binlog", "mysql-bin.index");
            const entries = fs.readFileSync(index, "utf8").split("\n").filter(Boolean);
            fs.writeFileSync(index, entries.map((e) => path.join(logsMount, "binlog", path.basename(e))).join("\n") + "\n");
        }
        const errLog = path.join(this.runDir, `${name}.err`);
        // MySQL: no X Protocol listener (its socket would go to /var/run/mysqld), GTIDs on as most MySQL users run it.
        const flavorOptions =
            FLAVOR === "mysql" ? ["--mysqlx=OFF", "--gtid-mode=ON", "--enforce-gtid-consistency=ON", `--secure-file-priv=${this.runDir}`] : [];
        const proc = spawn(
            ...diesWithTests("KILL", SERVER, [
                ...common,
                `--socket=${socket}`,
                "--skip-networking",
                `--log-error=${errLog}`,
                `--pid-file=${path.join(this.runDir, `${name}.pid`)}`,
                `--log-bin=${path.join(logsMount, "binlog", "mysql-bin")}`,
                "--server-id=1",
                "--innodb-buffer-pool-size=64M",
                "--skip-name-resolve",
                ...flavorOptions,
            ]),
            { stdio: "ignore" },
        );
        const cnf = path.join(this.runDir, `${name}.cnf`);
        fs.writeFileSync(cnf, `[client]\nsocket=${socket}\nuser=root\n`);
        const server = { proc, socket, cnf, datadir, errLog };
        this.servers.push(server);
        for (let i = 0; i < 300; i++) {
            if (proc.exitCode !== null) break;
            try {
                execFileSync(CLIENT, [`--defaults-extra-file=${cnf}`, "-e", "SELECT 1"], { stdio: "ignore" });
                return server;
            } catch {
                await sleep(100);
            }
        }
        throw new Error(`${SERVER} (${name}) did not start: ${fs.existsSync(errLog) ? fs.readFileSync(errLog, "utf8").slice(-2000) : ""}`);
    }

    /** Starts the live server again on its own files (after a test stopped it). */
    async restartLive(): Promise<void> {
        await this.stopMysql(this.live);
        this.servers = this.servers.filter((server) => server !== this.live);
        this.live = await this.startMysql("live", this.dataMount, this.logsMount, false);
    }

    async stopMysql(server: MysqlServer): Promise<void> {
        if (server.proc.exitCode !== null || server.proc.signalCode !== null) return;
        const exited = new Promise((resolve) => server.proc.once("exit", resolve));
        server.proc.kill("SIGTERM");
        await exited;
    }

    /**
     * Makes the live server one where crash recovery is exact (what the README asks of a server for
     * quiesce=crash-recovery): the fixture's MyISAM and MEMORY tables InnoDB, MariaDB's statistics and help tables
     * Aria TRANSACTIONAL=1, sync_binlog=1 (innodb_flush_log_at_trx_commit=1 and doublewrite are the defaults).
     * Returns what undoes it.
     */
    makeCrashRecoveryExact(): () => void {
        const tables: [string, string][] = [
            ["app.myi", "MyISAM"],
            ["app.slow", "MyISAM"],
            ["app.lockprobe", "MEMORY"],
        ];
        const ariaNotCrashSafe = ["column_stats", "index_stats", "table_stats", "help_category", "help_keyword", "help_relation", "help_topic"];
        const syncBinlog = this.sqlSync("SELECT @@sync_binlog").trim();
        const make = (exact: boolean) =>
            this.sqlSync(
                [
                    ...tables.map(([table, engine]) => `ALTER TABLE ${table} ENGINE=${exact ? "InnoDB" : engine};`),
                    ...(FLAVOR === "mariadb" ? ariaNotCrashSafe.map((t) => `ALTER TABLE mysql.${t} TRANSACTIONAL=${exact ? 1 : 0};`) : []),
                    `SET GLOBAL sync_binlog = ${exact ? 1 : syncBinlog};`,
                ].join(" "),
            );
        make(true);
        return () => make(false);
    }

    sqlSync(statement: string, cnf = this.live.cnf): string {
        return run(CLIENT, [`--defaults-extra-file=${cnf}`, "--batch", "--skip-column-names", "-e", statement]);
    }

    /**
     * The snapshot script's account with the privileges the README lists and nothing more, and root's
     * option file as the demo host writes it: the socket for every client, the account for the script only.
     */
    private createBackupAccount(): void {
        const password = "Fixture-" + Math.random().toString(36).slice(2, 14);
        const grants =
            FLAVOR === "mariadb" ? "RELOAD, PROCESS, BINLOG MONITOR, SLAVE MONITOR, SHOW VIEW" : "RELOAD, PROCESS, REPLICATION CLIENT, SHOW VIEW, BACKUP_ADMIN";
        this.sqlSync(`CREATE USER '${BACKUP_USER}'@'localhost' IDENTIFIED BY '${password}';
            GRANT ${grants} ON *.* TO '${BACKUP_USER}'@'localhost';`);
        fs.mkdirSync(this.rootHome, { mode: 0o700 });
        fs.writeFileSync(
            path.join(this.rootHome, ".my.cnf"),
            `[client]\nsocket=${this.live.socket}\n\n[client_consistent_snapshot]\nuser=${BACKUP_USER}\npassword=${password}\n`,
            { mode: 0o600 },
        );
    }

    /**
     * Whether the database lock is free: a write that needs no disk (MEMORY table, not binlogged), so
     * only the global read lock can block it, not a frozen filesystem. Waits at most `waitSeconds`.
     */
    async lockFree(waitSeconds = 1): Promise<boolean> {
        try {
            await this.sql(
                `SET SESSION sql_log_bin = 0; SET SESSION lock_wait_timeout = ${waitSeconds}; ` +
                    "INSERT INTO app.lockprobe (at) VALUES (NOW(6)); DELETE FROM app.lockprobe",
                (waitSeconds + 5) * 1000,
            );
            return true;
        } catch {
            return false;
        }
    }

    /**
     * MariaDB: the BACKUP STAGE locks other sessions hold now, by mode (MDL_BACKUP_WAIT_COMMIT for BLOCK_COMMIT; the
     * DML and FTWRL modes of the same lock type are left out),
     * from the metadata_lock_info plugin: the server's own view, read from memory, so a frozen filesystem cannot
     * delay it (an attempted commit can stall on a frozen filesystem before it reaches the lock).
     */
    async backupLockModes(): Promise<string[]> {
        // MySQL: LOCK INSTANCE FOR BACKUP is the BACKUP LOCK held SHARED (DDL takes it INTENTION_EXCLUSIVE).
        const out =
            FLAVOR === "mysql"
                ? await this.sql(
                      "SELECT CONCAT(OBJECT_TYPE, ' ', LOCK_TYPE) FROM performance_schema.metadata_locks " +
                          "WHERE OBJECT_TYPE = 'BACKUP LOCK' AND LOCK_TYPE = 'SHARED' AND LOCK_STATUS = 'GRANTED'",
                      3000,
                  )
                : await this.sql(
                      "SELECT LOCK_MODE FROM information_schema.METADATA_LOCK_INFO " +
                          "WHERE LOCK_TYPE = 'Backup lock' AND THREAD_ID <> CONNECTION_ID() AND LOCK_MODE IN " +
                          "('MDL_BACKUP_START', 'MDL_BACKUP_FLUSH', 'MDL_BACKUP_WAIT_FLUSH', 'MDL_BACKUP_WAIT_DDL', 'MDL_BACKUP_WAIT_COMMIT') ORDER BY LOCK_MODE",
                      3000,
                  );
        return out.trim().split("\n").filter(Boolean);
    }

    async sql(statement: string, timeoutMs = 10000, cnf = this.live.cnf): Promise<string> {
        const { stdout } = await execFileAsync(CLIENT, [`--defaults-extra-file=${cnf}`, "--batch", "--skip-column-names", "-e", statement], {
            timeout: timeoutMs,
        });
        return stdout;
    }

    /** Environment for the script: the double's endpoints, fake credentials, the live server's option file. */
    scriptEnv(params: Record<string, string> = {}): NodeJS.ProcessEnv {
        const env: NodeJS.ProcessEnv = {
            PATH: process.env.PATH,
            HOME: this.dir,
            LANG: "C.UTF-8",
            AWS_EC2_METADATA_SERVICE_ENDPOINT: this.double.endpoint,
            AWS_ENDPOINT_URL_EC2: this.double.endpoint,
            AWS_ACCESS_KEY_ID: ENVIRONMENT_KEY.accessKeyId,
            AWS_SECRET_ACCESS_KEY: ENVIRONMENT_KEY.secretAccessKey,
            AWS_CONFIG_FILE: "/dev/null",
            AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
            CONSISTENT_SNAPSHOT_RUN_DIR: path.join(this.runDir, "cs"),
            SSM_mysqlDefaultsFile: this.live.cnf,
        };
        for (const [k, v] of Object.entries(params)) env[`SSM_${k}`] = v;
        return env;
    }

    /**
     * Runs the snapshot document the way the SSM Agent runs an aws:runShellScript step (amazon-ssm-agent's
     * source; see shared/notes/FACTS.md):
     * - the step's runCommand lines joined with newlines into `<orchestration>/<command id>/<step>/_script.sh`
     *   (mode 0700), run as `sh -c <path>` (dash on Debian: the shebang picks the shell), working directory
     *   /usr/bin, stdin /dev/null, stdout and stderr pipes, leading a new process group;
     * - the environment of a systemd service without User= (no HOME, no USER) plus what the agent adds:
     *   AWS_SSM_INSTANCE_ID, AWS_SSM_REGION_NAME, AWS_SSM_PLATFORM_*, SSM_COMMAND_ID, and SSM_<name> for every
     *   declared parameter, defaults included (interpolationType ENV_VAR);
     * - the step ends when both pipes reach end-of-file, not when the script exits: a child that kept them
     *   open holds the step until its timeout, when the agent SIGKILLs the process group (reported as 137);
     *   a cancel is the same SIGKILL.
     * Test plumbing, and nothing else: the two endpoint variables that point at the double, and root's home
     * (this fixture's `rootHome`) bound over /root in a private mount namespace — never the machine's /root.
     */
    runAsAgent(params: Record<string, string> = {}, opts: AgentRunOptions = {}): Promise<ScriptResult> {
        const timeoutSeconds = opts.timeoutSeconds ?? 120;
        const content = snapshotDocumentContent("consistent-snapshot", timeoutSeconds);
        const [step] = content.mainSteps;
        const commandId = `${(++this.commandCounter).toString(16).padStart(8, "0")}-0000-4000-8000-${Date.now().toString(16).padStart(12, "0")}`;
        const folder = path.join(this.orchestrationDir, commandId, step.name);
        fs.mkdirSync(folder, { recursive: true });
        const scriptPath = path.join(folder, "_script.sh");
        const values = Object.fromEntries(Object.entries(content.parameters).map(([name, spec]) => [name, params[name] ?? spec.default]));
        const commandText = step.inputs.runCommand.join("\n");
        fs.writeFileSync(scriptPath, opts.withoutEnvVarSupport ? commandText.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => values[name]) : commandText, {
            mode: 0o700,
        });
        for (const [name, value] of Object.entries(params)) {
            // SSM refuses a value its declaration does not allow before any script starts: such a run cannot happen.
            const error = documentParameterError("consistent-snapshot", name, value);
            if (error) throw new Error(`runAsAgent: SSM would refuse ${name}='${value}' before the script runs; expected ${error}`);
        }
        const env: NodeJS.ProcessEnv = {
            PATH: AGENT_PATH,
            LANG: "C.UTF-8",
            AWS_SSM_INSTANCE_ID: INSTANCE_ID,
            AWS_SSM_REGION_NAME: "eu-west-1",
            AWS_SSM_PLATFORM_NAME: "Debian GNU/Linux",
            AWS_SSM_PLATFORM_VERSION: "12",
            SSM_COMMAND_ID: commandId,
            AWS_EC2_METADATA_SERVICE_ENDPOINT: this.double.endpoint,
            AWS_ENDPOINT_URL_EC2: this.double.endpoint,
        };
        if (!opts.withoutEnvVarSupport) for (const [name, value] of Object.entries(values)) env[`SSM_${name}`] = value;
        const started = Date.now();
        const child = spawn(
            "unshare",
            ["--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$1" /root && exec sh -c "$2"', "ssm-agent-double", this.rootHome, scriptPath],
            { env, cwd: "/usr/bin", stdio: ["ignore", "pipe", "pipe"], detached: true },
        );
        this.children.add(child);
        let timedOut = false;
        let killed = false;
        const killGroup = () => {
            killed = true;
            try {
                process.kill(-child.pid!, "SIGKILL");
            } catch {
                /* already gone */
            }
        };
        const output = collectOutput(child, (line) => opts.onStderr?.(line, killGroup));
        let exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
        child.on("exit", (code, signal) => {
            exit = { code, signal };
        });
        return new Promise((resolve) => {
            const finish = () => {
                clearTimeout(guard);
                this.children.delete(child);
                child.stdout!.destroy();
                child.stderr!.destroy();
                const code = killed || exit.signal === "SIGKILL" ? 137 : exit.code;
                const result = output.result();
                keepRunLog(child, result.stderr);
                resolve({ code, signal: exit.signal, ...result, elapsedMs: Date.now() - started, timedOut });
            };
            // The agent waits for end-of-file on both pipes; at the step's timeout it kills the group.
            const guard = setTimeout(() => {
                timedOut = true;
                killGroup();
                this.thawAll();
                setTimeout(finish, 1000);
            }, timeoutSeconds * 1000);
            child.on("close", () => {
                if (!timedOut) finish();
            });
        });
    }

    /**
     * Runs a script by hand (bash, the given environment) with a hard bound: past `killAfterMs` it is killed by
     * PID and the fixture's mounts are thawed. `onStderr` sees each log line as it arrives (to act at a point of
     * the run). /root is this fixture's empty `byHandHome` for it, in a private mount namespace.
     */
    runScript(
        script: string,
        env: NodeJS.ProcessEnv,
        opts: { killAfterMs?: number; onStderr?: (line: string, child: ChildProcess) => void } = {},
    ): Promise<ScriptResult> {
        const started = Date.now();
        const child = spawn(
            "unshare",
            ["--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$1" /root && exec bash "$2"', "by-hand", this.byHandHome, script],
            { env, stdio: ["ignore", "pipe", "pipe"] },
        );
        this.children.add(child);
        const output = collectOutput(child, (line) => opts.onStderr?.(line, child));
        const guard = setTimeout(() => {
            child.kill("SIGKILL");
            this.thawAll();
        }, opts.killAfterMs ?? 120000);
        // A killed script's watchdog keeps its stderr open for a while: resolve on exit, once the
        // streams are drained or after a short grace period.
        const closed = new Promise<void>((resolve) => child.on("close", () => resolve()));
        return new Promise((resolve) => {
            child.on("exit", async (code, signal) => {
                await Promise.race([closed, sleep(1000)]);
                clearTimeout(guard);
                this.children.delete(child);
                const result = output.result();
                keepRunLog(child, result.stderr);
                resolve({ code, signal, ...result, elapsedMs: Date.now() - started });
            });
        });
    }

    /** Thaws the fixture's own mounts (never anything else). Safe to call when nothing is frozen. */
    thawAll(): void {
        for (const mount of this.freezableMounts) {
            try {
                execFileSync("fsfreeze", ["--unfreeze", mount], { stdio: "ignore" });
            } catch {
                /* not frozen */
            }
        }
    }

    /** Whether each fixture mount takes a write within `withinMs` (false = still frozen). */
    async writable(mount: string, withinMs = 2000): Promise<boolean> {
        const child = spawn("sh", ["-c", 'echo ok >> "$1/.writable-probe"', "probe", mount], { stdio: "ignore" });
        const done = new Promise<boolean>((resolve) => child.on("exit", (code) => resolve(code === 0)));
        return Promise.race([done, sleep(withinMs).then(() => false)]);
    }

    /**
     * Starts a writer stuck inside splice() on `mount` (from an empty pipe into a file there), the case seen on
     * kernel 6.18 that makes "fsfreeze --freeze" of that filesystem block in the kernel (state D, in
     * freeze_super: it waits for every writer, and cannot be killed) and fail "fsfreeze --unfreeze" with EINVAL
     * until the writer moves on; then the freeze completes and stays. `moveOn()` kills the writer (by its PID),
     * which ends the splice. Resolves once the writer is inside splice().
     */
    async startSplicer(mount: string): Promise<{ pid: number; moveOn: () => void }> {
        // libc's splice through ctypes: os.splice needs Python 3.10 (bullseye's is 3.9).
        const code =
            "import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\nr, w = os.pipe()\n" +
            "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)\nprint('splicing', flush=True)\n" +
            "sys.exit(0 if libc.splice(r, None, fd, None, 65536, 0) >= 0 else 1)\n";
        const child = spawn("python3", ["-c", code, path.join(mount, ".splice-target")], { stdio: ["ignore", "pipe", "inherit"] });
        this.children.add(child);
        child.on("exit", () => this.children.delete(child));
        await new Promise<void>((resolve, reject) => {
            child.stdout!.once("data", () => resolve());
            child.once("exit", (c) => reject(new Error(`the splicer exited (${c}) before splicing`)));
        });
        // splice() takes the filesystem's write protection before it waits for the pipe: give it the moment, and
        // make sure it is waiting there (a splicer that exited would make every test using it prove nothing).
        await sleep(200);
        const syscall = fs.readFileSync(`/proc/${child.pid}/syscall`, "utf8").split(" ")[0];
        if (child.exitCode !== null || syscall !== "275") {
            child.kill("SIGKILL");
            throw new Error(`the splicer is not waiting in splice() (exit ${child.exitCode}, syscall ${syscall}; x86_64's splice is 275)`);
        }
        return {
            pid: child.pid!,
            moveOn: () => {
                try {
                    process.kill(child.pid!, "SIGKILL");
                } catch {
                    /* gone */
                }
            },
        };
    }

    /** Starts the concurrent writer: InnoDB and MyISAM commits and fsync'd appends on the data mount. */
    startWriter(): Writer {
        // Its rows carry a label of their own: a statement of an earlier writer still in flight when that writer was
        // stopped cannot be taken for one of this writer's.
        const label = "w" + Math.random().toString(36).slice(2, 8);
        // Its own process group, so that stopping it stops its appender and client too (they write to our mounts).
        const child = spawn(...diesWithTests("TERM", "bash", [path.join(__dirname, "writer.sh"), this.live.cnf, this.appendLog, CLIENT, label]), {
            stdio: ["ignore", "pipe", "pipe"],
            detached: true,
        });
        this.children.add(child);
        child.on("exit", () => this.children.delete(child));
        return new Writer(child, label);
    }

    /** Mounts the snapshot copies of the data and logs volumes and starts a second MariaDB on them. */
    async restore(dataCopy: string, logsCopy: string): Promise<{ server: MysqlServer; dataMount: string; cleanup: () => Promise<void> }> {
        const root = fs.mkdtempSync(path.join(this.dir, "restore-"));
        const dataMount = path.join(root, "data");
        const logsMount = path.join(root, "logs");
        this.mount(this.attachLoop(dataCopy), dataMount);
        this.mount(this.attachLoop(logsCopy), logsMount, ["-o", "nouuid"]);
        const server = await this.startMysql(path.basename(root), dataMount, logsMount, false);
        return {
            server,
            dataMount,
            cleanup: async () => {
                await this.stopMysql(server);
                this.unmount(logsMount);
                this.unmount(dataMount);
            },
        };
    }

    /** A tmpfs at `target` (a filesystem the script does not freeze); removed at tear-down. */
    mountTmpfs(target: string): void {
        fs.mkdirSync(target, { recursive: true });
        run("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", target]);
        this.mounts.push({ target, loop: "" });
    }

    /** A bind mount of `source` at `target` (same filesystem, second mount point); removed at tear-down. */
    bindMount(source: string, target: string): void {
        fs.mkdirSync(target, { recursive: true });
        run("mount", ["--bind", source, target]);
        this.mounts.push({ target, loop: "" });
    }

    unmount(target: string): void {
        const entry = this.mounts.find((m) => m.target === target);
        run("umount", [target]);
        this.mounts = this.mounts.filter((m) => m.target !== target);
        if (entry) this.detachLoop(entry.loop);
    }

    private detachLoop(loop: string): void {
        if (!loop) return;
        try {
            execFileSync("losetup", ["-d", loop], { stdio: "ignore" });
        } catch {
            /* already detached */
        }
        this.loops = this.loops.filter((l) => l !== loop);
    }

    async tearDown(): Promise<void> {
        this.thawAll();
        for (const child of this.children) {
            // Writers lead their own process group; scripts are killed alone (their watchdog ends by itself).
            try {
                process.kill(child.spawnargs.some((a) => a.endsWith("writer.sh")) ? -child.pid! : child.pid!, "SIGKILL");
            } catch {
                /* gone */
            }
        }
        await this.double?.stop();
        for (const server of this.servers) await this.stopMysql(server).catch(() => undefined);
        // Innermost first: a mount's loop is detached before the pool holding its image is unmounted.
        const leftMounted: string[] = [];
        for (const { target, loop } of [...this.mounts].reverse()) {
            if (!(await this.unmountPatiently(target))) leftMounted.push(target);
            this.detachLoop(loop);
        }
        for (const loop of [...this.loops].reverse()) this.detachLoop(loop);
        // Never delete through a mount point that is still attached.
        if (leftMounted.length > 0) throw new Error(`tear-down: still mounted (lazily detached): ${leftMounted.join(", ")}`);
        fs.rmSync(this.dir, { recursive: true, force: true });
    }

    /** Unmounts, retrying while a process we killed still holds a file open; lazily as a last resort. */
    private async unmountPatiently(target: string): Promise<boolean> {
        for (let attempt = 0; attempt < 25; attempt++) {
            try {
                execFileSync("umount", [target], { stdio: "ignore" });
                return true;
            } catch {
                try {
                    execFileSync("mountpoint", ["-q", target], { stdio: "ignore" });
                } catch {
                    return true; /* not mounted */
                }
                await sleep(200);
            }
        }
        try {
            execFileSync("umount", ["--lazy", target], { stdio: "ignore" });
        } catch {
            /* reported below */
        }
        return false;
    }
}

/** One line of tests/script/writer.sh: a database commit (iteration N, both rows acknowledged) or an fsync'd append. */
export interface WriterEvent {
    kind: "db" | "file";
    atMs: number;
    iteration?: number;
}

/** Parses a line of writer.sh; anything else is an error, never a commit at time 0. */
export function parseWriterLine(line: string): WriterEvent {
    const db = /^db (\d{13}) (\d+)$/.exec(line);
    if (db) return { kind: "db", atMs: Number(db[1]), iteration: Number(db[2]) };
    const file = /^file (\d{13})$/.exec(line);
    if (file) return { kind: "file", atMs: Number(file[1]) };
    throw new Error(`writer.sh printed ${JSON.stringify(line)}: not "db <epoch ms> <N>" or "file <epoch ms>"`);
}

/**
 * What a copy of the database must hold of the writer's commits, given the instant it stands for: every iteration
 * acknowledged before `mustHaveBeforeMs`, and nothing beyond the iteration after the last one acknowledged by
 * `mayHaveUpToMs` (that one was sent and may have committed unacknowledged). Returns what is wrong, one line each.
 */
export function acknowledgedCommitProblems(events: WriterEvent[], mustHaveBeforeMs: number, mayHaveUpToMs: number, restored: number[]): string[] {
    const commits = events.filter((e) => e.kind === "db");
    const held = new Set(restored);
    const problems: string[] = [];
    for (const c of commits.filter((e) => e.atMs < mustHaveBeforeMs)) {
        if (!held.has(c.iteration!)) problems.push(`w${c.iteration}, acknowledged ${mustHaveBeforeMs - c.atMs} ms before the instant, is missing`);
    }
    const lastAllowed = Math.max(0, ...commits.filter((e) => e.atMs <= mayHaveUpToMs).map((e) => e.iteration!)) + 1;
    for (const n of restored.filter((r) => r > lastAllowed)) problems.push(`w${n} is there, sent after the instant (at most w${lastAllowed} may be)`);
    return problems;
}

/** The concurrent writer's view: committed rows and the longest gap between two commits. */
export class Writer {
    private lines: string[] = [];
    private buffer = "";
    readonly exited: Promise<void>;

    /** `label`: what its rows' values start with (`<label>.w<N>`). */
    constructor(
        private readonly child: ChildProcess,
        readonly label: string,
    ) {
        child.stdout!.on("data", (d: Buffer) => {
            this.buffer += d;
            const parts = this.buffer.split("\n");
            this.buffer = parts.pop() ?? "";
            this.lines.push(...parts);
        });
        this.exited = new Promise((resolve) =>
            child.on("exit", () => {
                // What the writer printed before it exited is read before this resolves. Not the pipe's end: its
                // appender can sleep uninterruptibly in a write to a frozen filesystem, holding the pipe until the thaw.
                if (child.stdout!.readableEnded) return resolve();
                child.stdout!.once("end", () => resolve());
                setTimeout(resolve, 300);
            }),
        );
    }

    /** Events reported by the writer, in order; a line it should not have printed throws. */
    get commits(): WriterEvent[] {
        return this.lines.map(parseWriterLine);
    }

    /** The iterations N of this writer's rows (`<label>.w<N>`) in the app.inno of the server of `cnf`. */
    rowsIn(f: Fixture, cnf: string): number[] {
        return f
            .sqlSync(`SELECT v FROM app.inno WHERE v LIKE '${this.label}.w%'`, cnf)
            .split("\n")
            .filter(Boolean)
            .map((v) => Number(v.slice(this.label.length + 2)));
    }

    /** Longest interval between consecutive events of a kind, in ms. */
    longestGapMs(kind: string): number {
        const times = this.commits.filter((c) => c.kind === kind).map((c) => c.atMs);
        let gap = 0;
        for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
        return gap;
    }

    async waitForCommits(n: number): Promise<void> {
        for (let i = 0; i < 200 && this.commits.filter((c) => c.kind === "db").length < n; i++) await sleep(50);
    }

    async stop(): Promise<void> {
        if (this.child.exitCode === null && this.child.signalCode === null) {
            try {
                process.kill(-this.child.pid!, "SIGTERM");
            } catch {
                /* already gone */
            }
        }
        await this.exited;
    }
}

/**
 * Collects a script's stdout and stderr, handing each complete stderr line to `onStderrLine` as it arrives;
 * `result()` gives both and the summary (the last stdout line, parsed).
 */
/**
 * A command that gets `signal` when the test process dies, however it dies (setpriv --pdeathsig; it execs, so the
 * PID is the command's own). A killed test run must leave no database server or writer behind: the script refuses
 * to run beside a second server (201), so one left over fails the next run's tests one by one, and a writer left
 * looping takes a core. The writer gets TERM (its trap stops its client and appender), a server KILL.
 */
function diesWithTests(signal: "KILL" | "TERM", command: string, args: string[]): [string, string[]] {
    return ["setpriv", ["--pdeathsig", signal, "--", command, ...args]];
}

/** SCRIPT_LOG_DIR: keeps each run's log (to see where a run's time goes: tools/run-times.js). */
function keepRunLog(child: ChildProcess, stderr: string): void {
    const dir = process.env.SCRIPT_LOG_DIR;
    if (!dir) return;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${Date.now()}-${child.pid}.log`), stderr);
}

function collectOutput(child: ChildProcess, onStderrLine: (line: string) => void) {
    let stdout = "";
    let stderr = "";
    let pending = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d: Buffer) => {
        stderr += d;
        pending += d;
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) onStderrLine(line);
    });
    return {
        result(): Pick<ScriptResult, "stdout" | "stderr" | "summary"> {
            const last = stdout.trim().split("\n").pop() ?? "";
            let summary: ScriptResult["summary"];
            try {
                summary = JSON.parse(last);
            } catch {
                summary = { status: "unparsable", exitCode: -1, message: last };
            }
            return { stdout, stderr, summary };
        },
    };
}

export function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
