//! The PostgreSQL server the tests run against (DESIGN §7), and a fresh schema per test.
//!
//! With `AUDIT_TEST_POSTGRES_URL` set, the tests use that server. Otherwise the first test of a
//! test binary starts a throwaway cluster from the PostgreSQL binaries on the machine (`initdb`
//! and `pg_ctl` on `PATH` or under `/usr/lib/postgresql/*/bin`; as root, run as the `postgres`
//! user through `runuser`), on a free loopback port, in a directory under the system temporary
//! directory; every test of the binary shares it.
//!
//! Stopping it: a test binary runs no destructors at exit and may die of a panic, a signal or a
//! timeout, so the cluster is stopped by a watcher process rather than by the tests. Before the
//! server starts, `xargs pg_ctl -m fast -w stop` is spawned in its own process group with its
//! standard input a pipe whose only writer is this process. Whenever this process ends, however
//! it ends, the kernel closes the pipe; `xargs` reads end-of-file and runs the stop once. No
//! shell is involved. The data directory is removed by the next run (a directory whose process
//! is gone is stopped, if need be, and deleted).
#![allow(dead_code, unreachable_pub)] // each test binary uses a part
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use audit_core::{AuditEntry, AuditEvent, AuditId, AuditPage, AuditQuery, AuditStore, Counts};
use audit_postgres::{PostgresStore, PostgresStoreBuilder};

/// The variable that points the tests at a server.
pub const URL_VARIABLE: &str = "AUDIT_TEST_POSTGRES_URL";

/// The server under test.
#[derive(Debug)]
pub struct Server {
    /// Where to connect, as a superuser (or at least a user that may create schemas).
    pub url: String,
    /// Whether the tests started it (and may do what a shared server must not see).
    pub owned: bool,
    /// The cluster the tests started, if they did.
    cluster: Option<Cluster>,
}

/// A cluster the tests started.
#[derive(Debug)]
struct Cluster {
    runner: Runner,
    dir: PathBuf,
    data: PathBuf,
    port: u16,
    /// The pipe whose closing stops the cluster; held for the life of the process.
    _stop_on_exit: Option<ChildStdin>,
}

impl Cluster {
    fn start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c max_connections=200 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        self.runner.run(
            "pg_ctl start",
            self.runner
                .command("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(self.dir.join("postgres.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"]),
        )
    }
}

impl Server {
    /// Stops the cluster the tests started (fast shutdown: connections are closed), or says
    /// why it cannot.
    pub fn stop(&self) -> Result<(), String> {
        let cluster = self
            .cluster
            .as_ref()
            .ok_or("the server is not the tests' own")?;
        cluster.runner.run(
            "pg_ctl stop",
            &mut cluster.runner.stop(&cluster.data, "fast"),
        )
    }

    /// Starts the cluster the tests started again, on the same port.
    pub fn start(&self) -> Result<(), String> {
        self.cluster
            .as_ref()
            .ok_or("the server is not the tests' own")?
            .start()
    }
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// The server, started on first use; panics with instructions when there is none.
pub fn server() -> &'static Server {
    match SERVER.get_or_init(find_or_start) {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    }
}

fn unavailable(reason: &str) -> String {
    format!(
        "the PostgreSQL tests need a server and none could be had: {reason}.\n\
         Either point them at one with {URL_VARIABLE}=postgres://USER@HOST:PORT/DATABASE (a user \
         that may create schemas; superuser for every test), or install the PostgreSQL server \
         binaries (initdb and pg_ctl on PATH or under /usr/lib/postgresql/*/bin; on Debian \
         `apt-get install postgresql`) so the tests can start a throwaway cluster."
    )
}

fn find_or_start() -> Result<Server, String> {
    if let Ok(url) = std::env::var(URL_VARIABLE) {
        if !url.trim().is_empty() {
            return Ok(Server {
                url,
                owned: false,
                cluster: None,
            });
        }
    }
    let bin = binaries().ok_or_else(|| {
        unavailable(&format!(
            "{URL_VARIABLE} is not set, and no initdb and pg_ctl were found on PATH or under \
             /usr/lib/postgresql/*/bin"
        ))
    })?;
    start_cluster(&bin).map_err(|e| unavailable(&e))
}

/// The directory holding `initdb` and `pg_ctl`: `PATH` first, then the newest Debian layout.
fn binaries() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|d| has_both(d)) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Runs PostgreSQL's programs as `postgres` when this process is root (they refuse root).
#[derive(Debug, Clone)]
struct Runner {
    bin: PathBuf,
    as_postgres: bool,
}

impl Runner {
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn run(&self, what: &str, command: &mut Command) -> Result<(), String> {
        let output = command
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{what} could not be run: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what} failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    fn stop(&self, data: &Path, mode: &str) -> Command {
        let mut command = self.command("pg_ctl");
        command
            .arg("-D")
            .arg(data)
            .args(["-m", mode, "-w", "-t", "60", "stop"]);
        command
    }
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The uid and gid of the `postgres` user, from `id`.
fn postgres_ids() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let output = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| format!("`id` could not be run: {e}"))?;
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                "running as root, but there is no `postgres` user to run the cluster as".to_owned()
            })
    };
    Ok((id("-u")?, id("-g")?))
}

fn base_directory() -> PathBuf {
    std::env::temp_dir().join("audit-postgres-tests")
}

/// Stops and deletes clusters left by test processes that are gone.
fn remove_stale_clusters(runner: &Runner) {
    let Ok(entries) = std::fs::read_dir(base_directory()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("cluster-")
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if Path::new("/proc").join(pid).exists() {
            continue;
        }
        let data = entry.path().join("data");
        if data.join("postmaster.pid").exists() {
            let _ = runner.run("pg_ctl stop", &mut runner.stop(&data, "immediate"));
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("no free loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn start_cluster(bin: &Path) -> Result<Server, String> {
    let as_postgres = is_root();
    let runner = Runner {
        bin: bin.to_path_buf(),
        as_postgres,
    };
    remove_stale_clusters(&runner);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = base_directory().join(format!("cluster-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let text = dir.to_string_lossy();
    if text.contains(['\'', '"', ' ', '\\']) {
        return Err(format!(
            "the temporary directory {text} holds characters pg_ctl's options cannot take"
        ));
    }
    if as_postgres {
        // The base directory stays root's (postgres only passes through it); the cluster's
        // own directory is postgres's.
        let (uid, gid) = postgres_ids()?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
            .map_err(|e| format!("handing {} to postgres: {e}", dir.display()))?;
    }
    let data = dir.join("data");
    runner.run(
        "initdb",
        runner.command("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        ]),
    )?;
    // The watcher, before the server exists: from here on, however this process ends, the
    // cluster is stopped.
    let stop = runner.stop(&data, "fast");
    let mut watcher = Command::new("xargs");
    watcher
        .arg("-0")
        .arg(stop.get_program())
        .args(stop.get_args())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut watcher = watcher
        .spawn()
        .map_err(|e| format!("`xargs` (to stop the cluster at exit) could not be run: {e}"))?;
    let mut cluster = Cluster {
        runner,
        dir,
        data,
        port: 0,
        _stop_on_exit: watcher.stdin.take(),
    };
    let mut last_error = String::new();
    for _ in 0..3 {
        cluster.port = free_port()?;
        match cluster.start() {
            Ok(()) => {
                return Ok(Server {
                    url: format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port),
                    owned: true,
                    cluster: Some(cluster),
                });
            }
            // Another process may have taken the port in between: try another.
            Err(error) => last_error = error,
        }
    }
    let log = std::fs::read_to_string(cluster.dir.join("postgres.log")).unwrap_or_default();
    Err(format!("{last_error}\n{log}"))
}

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

/// A schema name no other test (of this or an earlier run) uses.
pub fn unique_name(prefix: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 1_000_000_000)
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{millis}",
        std::process::id(),
        SCHEMAS.fetch_add(1, Ordering::Relaxed)
    )
}

/// A connection for the test itself (to look at or break what the store did).
pub async fn admin() -> tokio_postgres::Client {
    admin_at(&server().url).await
}

/// A connection to `url`.
pub async fn admin_at(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test server failed: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A connection made from driver settings.
pub async fn admin_at_config(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test server failed: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A test schema, dropped with everything in it when the guard goes.
#[derive(Debug)]
pub struct Schema {
    pub name: String,
}

impl Schema {
    pub fn new() -> Self {
        Schema {
            name: unique_name("audit_t"),
        }
    }

    /// A builder for a store in this schema on the test server.
    pub fn builder(&self) -> PostgresStoreBuilder {
        PostgresStore::builder()
            .url(&server().url)
            .schema(&self.name)
            .max_connections(4)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        run_now(
            &server().url,
            &[format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name)],
        );
    }
}

/// Runs `statements` one by one (each in its own transaction) on `url` from a thread of its
/// own, so that it works inside `Drop`, where the test's runtime cannot be blocked on; a
/// failure is reported, not raised, as the test has its own verdict.
pub fn run_now(url: &str, statements: &[String]) {
    let url = url.to_owned();
    let statements = statements.to_vec();
    let outcome = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            for statement in &statements {
                client
                    .batch_execute(statement)
                    .await
                    .map_err(|e| format!("{statement}: {e}"))?;
            }
            Ok::<(), String>(())
        })
    })
    .join();
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("note: cleaning up after a test failed: {error}"),
        Err(_) => eprintln!("note: cleaning up after a test panicked"),
    }
}

/// Statements run when the guard goes, whether the test passed or not.
#[derive(Debug)]
pub struct Cleanup {
    pub url: String,
    pub statements: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        run_now(&self.url, &self.statements);
    }
}

/// A store in a schema of its own, which is dropped with the store.
#[derive(Debug)]
pub struct TestStore {
    // Declared first so the pool closes before the schema is dropped.
    pub store: PostgresStore,
    pub schema: Schema,
    /// Whether the first statistics request analyzes the table first, so that the planner's
    /// estimates exist (as on a server that has been running).
    pub analyze_before_statistics: std::sync::atomic::AtomicBool,
}

impl TestStore {
    /// Opens a store with the search index on or off in a fresh schema.
    pub async fn open(search_index: bool) -> Self {
        TestStore::open_with(search_index, None).await
    }

    /// Like [`TestStore::open`], sealing with `keyring` when given.
    pub async fn open_with(
        search_index: bool,
        keyring: Option<audit_core::integrity::Keyring>,
    ) -> Self {
        let schema = Schema::new();
        let mut builder = schema.builder().search_index(search_index);
        if let Some(keyring) = keyring {
            builder = builder.integrity(keyring);
        }
        let store = builder
            .open()
            .await
            .unwrap_or_else(|e| panic!("opening the store failed: {e}"));
        TestStore {
            store,
            schema,
            analyze_before_statistics: false.into(),
        }
    }
}

#[async_trait]
impl AuditStore for TestStore {
    async fn append(&self, batch: Vec<AuditEvent>) -> audit_core::Result<Vec<AuditId>> {
        self.store.append(batch).await
    }

    async fn fetch(&self, query: &AuditQuery) -> audit_core::Result<Vec<AuditEntry>> {
        self.store.fetch(query).await
    }

    fn export_stream(
        &self,
        query: &AuditQuery,
        chunk_size: u32,
    ) -> Option<audit_core::store::BoxStream<audit_core::Result<Vec<AuditEntry>>>> {
        self.store.export_stream(query, chunk_size)
    }

    async fn count(&self, query: &AuditQuery) -> audit_core::Result<Counts> {
        self.store.count(query).await
    }

    async fn query(&self, query: &AuditQuery) -> audit_core::Result<AuditPage> {
        self.store.query(query).await
    }

    async fn statistics(
        &self,
        request: &audit_core::StatsRequest,
    ) -> audit_core::Result<audit_core::Statistics> {
        use std::sync::atomic::Ordering;
        if self.analyze_before_statistics.swap(false, Ordering::SeqCst) {
            admin()
                .await
                .batch_execute(&format!("ANALYZE \"{}\".audit_entries", self.schema.name))
                .await
                .unwrap_or_else(|e| panic!("analyzing the table failed: {e}"));
        }
        self.store.statistics(request).await
    }

    async fn chain(
        &self,
        after: AuditId,
        limit: u32,
    ) -> audit_core::Result<Vec<audit_core::integrity::Link>> {
        self.store.chain(after, limit).await
    }

    async fn check_chain(
        &self,
        keyring: &audit_core::integrity::Keyring,
        checkpoints: &audit_core::integrity::Checkpoints,
        after: AuditId,
        limit: u32,
    ) -> audit_core::Result<audit_core::integrity::ChainCheck> {
        self.store
            .check_chain(keyring, checkpoints, after, limit)
            .await
    }

    async fn seals(
        &self,
        ids: &[AuditId],
    ) -> audit_core::Result<Vec<(AuditId, Option<audit_core::integrity::Seal>)>> {
        self.store.seals(ids).await
    }

    async fn checkpoints(&self) -> audit_core::Result<Vec<audit_core::integrity::Checkpoint>> {
        self.store.checkpoints().await
    }

    async fn purge(
        &self,
        request: &audit_core::retention::PurgeRequest,
    ) -> audit_core::Result<audit_core::retention::PurgeReport> {
        self.store.purge(request).await
    }
}

/// A fresh, empty store for the conformance kit.
pub async fn fresh_store(search_index: bool) -> Arc<dyn AuditStore> {
    Arc::new(TestStore::open(search_index).await)
}

/// A fresh, empty store that computes every statistics request in two slices; with `analyze`,
/// the table is analyzed before the first request, so the planner's estimates let keys with
/// few values share a grouping set.
pub async fn fresh_sliced_store(analyze: bool) -> Arc<dyn AuditStore> {
    let schema = Schema::new();
    let store = schema
        .builder()
        .statistics_slice_above(0)
        .open()
        .await
        .unwrap_or_else(|e| panic!("opening the store failed: {e}"));
    Arc::new(TestStore {
        store,
        schema,
        analyze_before_statistics: analyze.into(),
    })
}

/// A fresh, empty store sealing with the kit's retention key.
pub async fn fresh_sealed_store(search_index: bool) -> Arc<dyn AuditStore> {
    let keyring = audit_core::testkit::retention_keyring();
    Arc::new(TestStore::open_with(search_index, Some(keyring)).await)
}
