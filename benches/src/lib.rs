//! Shared support for the audit benchmarks: a deterministic generator of realistic audit events
//! and a small abstraction over the backends under test.
//!
//! # The data
//!
//! [`EventGenerator`] turns a seed and an index into one [`AuditEvent`], without any state
//! between events, so the same `(seed, index)` always gives the same event on every machine and
//! a benchmark can generate any slice of the data set on demand. The shape follows a
//! privacyIDEA installation:
//!
//! | column | values |
//! |---|---|
//! | `event` | 30 fixed endpoint names ([`EVENTS`]), weighted: mostly `POST /validate/check` and `POST /auth` |
//! | `user` | `user0` … `user999` ([`USERS`]), uniform; empty for system-wide administration |
//! | `realm`, `resolver` | one of 5 realms ([`REALMS`]), fixed per user |
//! | `success` | true for about 85 % of events |
//! | `authentication` | `ACCEPT`, `REJECT` or `CHALLENGE` on authentication events |
//! | `serial`, `token_type` | one to three tokens per user (`TOTP0A1B2C3D`, `totp`, …) |
//! | `location` | the user's usual IPv4 address, sometimes another one |
//! | `user_agent`, `user_agent_version`, `server`, `thread_id`, `log_level`, `policies` | small fixed sets |
//! | `date` | strictly increasing over the [`SPAN_DAYS`] days before [`END`] |
//! | `start_date`, `duration` | a few milliseconds, sometimes up to a second, before `date` |
//! | `description` | privacyIDEA's messages; about 0.1 % contain [`RARE_TERM`] |
//!
//! Events are generated in increasing date order, as a live service appends them. Indices at
//! or beyond `n` continue the same spacing past [`END`], so a benchmark that appends into a
//! filled store keeps appending newer events.
//!
//! # Backends
//!
//! [`backends`] lists every backend the benchmarks run against as [`BackendSpec`]s; a new
//! backend only adds a constructor there. [`filled`] appends generated events in batches of
//! [`FILL_BATCH`].
//!
//! | spec | backend |
//! |---|---|
//! | [`MEMORY`] | `audit-memory` |
//! | [`SQLITE`] | `audit-sqlite` with its defaults (WAL, `synchronous=FULL`, trigram search index), a fresh file in a [`TempDir`] |
//! | [`SQLITE_NOSEARCH`] | the same with `search_index(false)` |
//! | [`POSTGRES`] | `audit-postgres` with its defaults (trigram search index), in a fresh schema of the database named by `AUDIT_BENCH_POSTGRES_URL` (skipped when unset) |
//! | [`POSTGRES_NOSEARCH`] | the same with `search_index(false)`, in a schema of its own |
//!
//! [`raw_sqlite`] writes `audit-sqlite`'s rows by hand with rusqlite, and [`raw_postgres`]
//! `audit-postgres`'s with tokio-postgres' binary COPY: the baselines their batch appends are
//! measured against.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use audit_core::{AuditEvent, AuditStore, Error, Result};
use audit_memory::MemoryStore;
use audit_sqlite::SqliteStore;
use chrono::{DateTime, Utc};

pub mod raw_postgres;
pub mod raw_sqlite;

/// The seed the benchmarks use unless they need several independent data sets.
pub const DEFAULT_SEED: u64 = 0x00A0_D17E_5EED;

/// The number of rows a benchmark data set holds unless `AUDIT_BENCH_ROWS` says otherwise.
pub const DEFAULT_ROWS: usize = 1_000_000;

/// The environment variable that overrides [`DEFAULT_ROWS`] (for quick runs).
pub const ROWS_ENV: &str = "AUDIT_BENCH_ROWS";

/// Events per append while filling a store.
pub const FILL_BATCH: usize = 1_000;

/// How long every append benchmark measures: the store's (`store`) and the raw baselines'
/// (`sqlite_baseline`, `postgres_baseline`) the same, so their ratio compares like with like.
pub const APPEND_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// The end of the generated period, `2026-11-01T00:00:00Z`, in seconds since the Unix epoch.
pub const END_SECONDS: i64 = 1_793_491_200;

/// How many days the first `n` generated events span, ending at [`END`].
pub const SPAN_DAYS: i64 = 90;

const SPAN_MICROS: i64 = SPAN_DAYS * 24 * 60 * 60 * 1_000_000;

/// The statistics request the benchmarks time: the five columns privacyIDEA's statistics
/// ranked (serial, event, user, administrator, realm), top 5 each, and a daily timeline over
/// the [`SPAN_DAYS`] days before [`END`].
pub fn statistics_request() -> Result<audit_core::StatsRequest> {
    use audit_core::{AuditQuery, Bucket, Column, StatsRequest};
    let query = AuditQuery::new()
        .from(END - chrono::TimeDelta::days(SPAN_DAYS))
        .to(END);
    let mut request = StatsRequest::new(query).bucket(Bucket::Day).top(5)?;
    for column in [
        Column::Serial,
        Column::Event,
        Column::User,
        Column::Administrator,
        Column::Realm,
    ] {
        request = request.rank(column)?;
    }
    Ok(request)
}

/// The number of distinct users (`user0` … `user999`).
pub const USERS: u64 = 1_000;

/// A five-letter term that occurs in about 0.1 % of descriptions and nowhere else, for
/// free-text (`find`) benchmarks.
pub const RARE_TERM: &str = "qzxwv";

/// How often [`RARE_TERM`] occurs, in events per million.
pub const RARE_TERM_PER_MILLION: u32 = 1_000;

/// How often an event succeeds, in events per million.
pub const SUCCESS_PER_MILLION: u32 = 850_000;

/// The end of the generated period: `2026-11-01T00:00:00Z`.
pub const END: DateTime<Utc> = match DateTime::from_timestamp(END_SECONDS, 0) {
    Some(end) => end,
    None => DateTime::UNIX_EPOCH,
};

/// The realms, with the resolver of each.
pub const REALMS: [(&str, &str); 5] = [
    ("corp", "corp-ldap"),
    ("sales", "sales-ad"),
    ("engineering", "eng-ldap"),
    ("partners", "partners-sql"),
    ("service", "service-accounts"),
];

/// What kind of request an event records; decides which columns it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A user authenticates: user, token, `authentication` result, client address.
    Authentication,
    /// An administrator acts on a user's token.
    TokenAdministration,
    /// An administrator reads or changes system-wide configuration; no user.
    SystemAdministration,
}

/// The 30 event names, each with its kind and relative weight (out of [`EVENT_WEIGHT_TOTAL`]).
pub const EVENTS: [(&str, EventKind, u32); 30] = [
    ("POST /validate/check", EventKind::Authentication, 400),
    ("POST /auth", EventKind::Authentication, 120),
    ("POST /validate/samlcheck", EventKind::Authentication, 40),
    ("GET /validate/check", EventKind::Authentication, 30),
    (
        "POST /validate/triggerchallenge",
        EventKind::Authentication,
        30,
    ),
    (
        "GET /validate/polltransaction",
        EventKind::Authentication,
        40,
    ),
    ("POST /ttype/push", EventKind::Authentication, 20),
    ("POST /validate/offlinerefill", EventKind::Authentication, 4),
    ("GET /token/", EventKind::TokenAdministration, 60),
    ("POST /token/init", EventKind::TokenAdministration, 20),
    ("DELETE /token/<serial>", EventKind::TokenAdministration, 5),
    ("POST /token/enable", EventKind::TokenAdministration, 5),
    ("POST /token/disable", EventKind::TokenAdministration, 5),
    ("POST /token/resync", EventKind::TokenAdministration, 4),
    ("POST /token/setpin", EventKind::TokenAdministration, 6),
    ("POST /token/reset", EventKind::TokenAdministration, 5),
    ("POST /token/assign", EventKind::TokenAdministration, 6),
    ("POST /token/unassign", EventKind::TokenAdministration, 4),
    ("POST /token/revoke", EventKind::TokenAdministration, 2),
    ("GET /user/", EventKind::TokenAdministration, 25),
    ("POST /container/init", EventKind::TokenAdministration, 3),
    ("GET /container/", EventKind::TokenAdministration, 5),
    ("GET /audit/", EventKind::SystemAdministration, 10),
    ("GET /realm/", EventKind::SystemAdministration, 6),
    ("GET /policy/", EventKind::SystemAdministration, 5),
    ("POST /policy/<name>", EventKind::SystemAdministration, 2),
    ("GET /system/", EventKind::SystemAdministration, 4),
    ("POST /system/setConfig", EventKind::SystemAdministration, 1),
    ("GET /resolver/", EventKind::SystemAdministration, 3),
    ("GET /machine/", EventKind::SystemAdministration, 3),
];

/// The sum of the weights in [`EVENTS`].
pub const EVENT_WEIGHT_TOTAL: u32 = {
    let mut total = 0;
    let mut i = 0;
    while i < EVENTS.len() {
        total += EVENTS[i].2;
        i += 1;
    }
    total
};

const TOKEN_TYPES: [(&str, &str); 7] = [
    ("totp", "TOTP"),
    ("hotp", "OATH"),
    ("webauthn", "WAN"),
    ("push", "PIPU"),
    ("sms", "PISM"),
    ("email", "PIEM"),
    ("spass", "PISP"),
];

const USER_AGENTS: [(&str, &str); 6] = [
    ("privacyidea-cp", "3.10.1"),
    ("PAM", "2.1"),
    ("privacyIDEA-LDAP-Proxy", "0.7.2"),
    ("simpleSAMLphp", "2.2.2"),
    ("Keycloak", "24.0.4"),
    ("Mozilla", "5.0"),
];

const SERVERS: [&str; 3] = ["pi-node-1", "pi-node-2", "pi-node-3"];

const ADMINISTRATORS: [&str; 4] = ["admin", "helpdesk1", "helpdesk2", "superuser"];

const AUTH_POLICIES: [&str; 5] = [
    "",
    "",
    "otppin_userstore",
    "otppin_userstore,challenge_response",
    "passthru,lastauth",
];

const SUCCESS_MESSAGES: [&str; 3] = [
    "matching 1 tokens",
    "Matching 1 tokens",
    "Found matching challenge",
];

const FAILURE_MESSAGES: [&str; 5] = [
    "wrong otp value",
    "wrong otp pin",
    "The user has no tokens assigned",
    "User does not exist",
    "Authentication failed: challenge expired",
];

const CHALLENGE_MESSAGES: [&str; 2] = [
    "please enter otp: ",
    "Please confirm the authentication on your mobile device",
];

const ADMIN_MESSAGES: [&str; 4] = ["", "", "token settings changed", "Configuration saved"];

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, well-mixed pseudo-random generator. Not
/// for cryptography; here it makes benchmark data reproducible without a `rand` dependency.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose sequence is fixed by `seed`.
    pub const fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }

    /// A number in `0..bound` (0 when `bound` is 0), by Lemire's multiply-shift; the bias is
    /// below 2⁻³² for the small bounds used here.
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// True with probability `per_million` / 1,000,000.
    pub fn chance(&mut self, per_million: u32) -> bool {
        self.below(1_000_000) < u64::from(per_million)
    }

    /// One element of a non-empty slice, uniformly.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// SplitMix64's output function: a bijective 64-bit mixer.
pub const fn mix64(value: u64) -> u64 {
    let mut z = value;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Builds the event at any index of a data set of `n` events, deterministically.
///
/// ```
/// use audit_benches::{END, EventGenerator};
///
/// let generator = EventGenerator::new(7, 1_000);
/// assert_eq!(generator.event(10), generator.event(10));
/// assert!(generator.event(10).timestamp() < generator.event(11).timestamp());
/// assert!(generator.event(999).timestamp() < END);
/// assert!(generator.event(1_000).timestamp() >= END);
/// ```
#[derive(Debug, Clone)]
pub struct EventGenerator {
    seed: u64,
    start_micros: i64,
    step_micros: i64,
}

impl EventGenerator {
    /// A generator for a data set of `n` events spread over the [`SPAN_DAYS`] days before
    /// [`END`].
    pub fn new(seed: u64, n: usize) -> Self {
        let n = i64::try_from(n).unwrap_or(i64::MAX).max(1);
        EventGenerator {
            seed,
            start_micros: END.timestamp_micros() - SPAN_MICROS,
            step_micros: (SPAN_MICROS / n).max(1),
        }
    }

    /// The event at `index`. Dates strictly increase with the index: event `i` lies in the
    /// `i`-th of `n` equal slots of the period, so indices from `n` on lie after [`END`].
    pub fn event(&self, index: u64) -> AuditEvent {
        let mut rng = SplitMix64::new(mix64(self.seed ^ mix64(index)));
        let slot = i64::try_from(index).unwrap_or(i64::MAX);
        let jitter = rng.below(self.step_micros.unsigned_abs()) as i64;
        let date_micros = self
            .start_micros
            .saturating_add(slot.saturating_mul(self.step_micros))
            .saturating_add(jitter);
        let date = DateTime::from_timestamp_micros(date_micros).unwrap_or(END);

        let (name, kind) = pick_event(&mut rng);
        let success = rng.chance(SUCCESS_PER_MILLION);
        let user = rng.below(USERS);
        let (realm, resolver) = REALMS[(user % REALMS.len() as u64) as usize];
        // A user owns one to three tokens; which one an event uses is random.
        let token = rng.below(1 + user % 3);
        let (token_type, prefix) =
            TOKEN_TYPES[(mix64(user * 4 + token) % TOKEN_TYPES.len() as u64) as usize];
        let serial = format!("{prefix}{:08X}", mix64(user * 4 + token) as u32);
        let location = if rng.chance(800_000) {
            format!(
                "10.{}.{}.{}",
                1 + user % 200,
                (user * 37) % 256,
                1 + (user * 11) % 254
            )
        } else {
            format!(
                "{}.{}.{}.{}",
                1 + rng.below(223),
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            )
        };
        let (agent, agent_version) = rng.pick(&USER_AGENTS);
        // Mostly a few milliseconds; one request in twenty waits on a slow resolver or SMS gateway.
        let mut duration_micros = 2_000 + rng.below(40_000) as i64;
        if rng.chance(50_000) {
            duration_micros += rng.below(900_000) as i64;
        }
        let start = DateTime::from_timestamp_micros(date_micros - duration_micros).unwrap_or(date);

        let mut event = AuditEvent::new(name)
            .date(date)
            .start_date(start)
            .duration_micros(duration_micros)
            .success(success)
            .server(rng.pick(&SERVERS))
            .location(location)
            .user_agent(agent)
            .user_agent_version(agent_version)
            .thread_id(format!("1398{:011}", 17_000_000_000 + rng.below(64)))
            .log_level(if success { "INFO" } else { "WARNING" });

        let description = match kind {
            EventKind::Authentication => {
                let challenge =
                    success && (name.contains("triggerchallenge") || rng.chance(100_000));
                let (authentication, message) = if challenge {
                    ("CHALLENGE", rng.pick(&CHALLENGE_MESSAGES))
                } else if success {
                    ("ACCEPT", rng.pick(&SUCCESS_MESSAGES))
                } else {
                    ("REJECT", rng.pick(&FAILURE_MESSAGES))
                };
                event = event
                    .user(format!("user{user}"))
                    .realm(realm)
                    .resolver(resolver)
                    .serial(&serial)
                    .token_type(token_type)
                    .authentication(authentication)
                    .policies(rng.pick(&AUTH_POLICIES));
                message
            }
            EventKind::TokenAdministration => {
                event = event
                    .user(format!("user{user}"))
                    .realm(realm)
                    .resolver(resolver)
                    .serial(&serial)
                    .token_type(token_type)
                    .administrator(rng.pick(&ADMINISTRATORS))
                    .role("admin")
                    .action_detail(format!("serial={serial}"))
                    .policies("admin_token_rights");
                if name.contains("container") {
                    event = event
                        .container_serial(format!("SMPH{:08X}", mix64(user) as u32))
                        .container_type("smartphone");
                }
                if success {
                    rng.pick(&ADMIN_MESSAGES)
                } else {
                    "ERR401: Authentication failed"
                }
            }
            EventKind::SystemAdministration => {
                event = event.administrator(rng.pick(&ADMINISTRATORS)).role("admin");
                if success {
                    rng.pick(&ADMIN_MESSAGES)
                } else {
                    "ERR303: Policy check failed"
                }
            }
        };
        if rng.chance(RARE_TERM_PER_MILLION) {
            event = event.description(format!("{description} (ticket {RARE_TERM}-{user})"));
        } else {
            event = event.description(description);
        }
        event
    }

    /// The events at `indices`, in order.
    pub fn range(&self, indices: Range<u64>) -> impl Iterator<Item = AuditEvent> + Send + '_ {
        indices.map(|index| self.event(index))
    }
}

fn pick_event(rng: &mut SplitMix64) -> (&'static str, EventKind) {
    let mut roll = rng.below(u64::from(EVENT_WEIGHT_TOTAL)) as u32;
    for (name, kind, weight) in EVENTS {
        if roll < weight {
            return (name, kind);
        }
        roll -= weight;
    }
    (EVENTS[0].0, EVENTS[0].1)
}

/// The `n` events of the data set `seed`, in increasing date order.
///
/// ```
/// let events: Vec<_> = audit_benches::events(1, 100).collect();
/// assert_eq!(events.len(), 100);
/// assert!(events.windows(2).all(|w| w[0].timestamp() < w[1].timestamp()));
/// ```
pub fn events(seed: u64, n: usize) -> impl Iterator<Item = AuditEvent> + Send {
    let generator = EventGenerator::new(seed, n);
    (0..n as u64).map(move |index| generator.event(index))
}

/// The `n` events of the data set `seed` cut into batches of `batch_size` (at least 1); the
/// last batch may be shorter.
///
/// ```
/// let batches = audit_benches::batches(1, 2_500, 1_000);
/// assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [1_000, 1_000, 500]);
/// ```
pub fn batches(seed: u64, n: usize, batch_size: usize) -> Vec<Vec<AuditEvent>> {
    let batch_size = batch_size.max(1);
    let mut all = events(seed, n);
    let mut out = Vec::with_capacity(n.div_ceil(batch_size));
    loop {
        let batch: Vec<AuditEvent> = all.by_ref().take(batch_size).collect();
        if batch.is_empty() {
            return out;
        }
        out.push(batch);
    }
}

/// Appends the events `indices` of `generator` to `store` in batches of `batch_size` (at
/// least 1), generating each batch just before it is appended so memory stays small.
pub async fn append_generated(
    store: &dyn AuditStore,
    generator: &EventGenerator,
    indices: Range<u64>,
    batch_size: usize,
) -> Result<()> {
    let batch_size = batch_size.max(1) as u64;
    let mut next = indices.start;
    while next < indices.end {
        let end = next.saturating_add(batch_size).min(indices.end);
        store.append(generator.range(next..end).collect()).await?;
        next = end;
    }
    Ok(())
}

/// Appends the `n` events of the data set [`DEFAULT_SEED`] to `store`, in batches of
/// [`FILL_BATCH`].
pub async fn filled(store: &dyn AuditStore, n: usize) -> Result<()> {
    let generator = EventGenerator::new(DEFAULT_SEED, n);
    append_generated(store, &generator, 0..n as u64, FILL_BATCH).await
}

/// The number of rows to benchmark with: `AUDIT_BENCH_ROWS` when set, else [`DEFAULT_ROWS`].
pub fn rows_from_env() -> std::result::Result<usize, String> {
    match std::env::var(ROWS_ENV) {
        Ok(value) => value
            .replace('_', "")
            .parse::<usize>()
            .ok()
            .filter(|rows| *rows > 0)
            .ok_or_else(|| format!("{ROWS_ENV}={value:?} is not a positive whole number")),
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_ROWS),
        Err(e) => Err(format!("{ROWS_ENV}: {e}")),
    }
}

/// An opened backend under test.
pub struct BenchBackend {
    /// The backend's name, used in benchmark ids (`memory`, `sqlite`, …).
    pub name: &'static str,
    /// The store.
    pub store: Arc<dyn AuditStore>,
    /// Whatever must outlive the store (a temporary directory, a throwaway database cluster);
    /// dropped after it.
    pub keep_alive: Option<Box<dyn Any + Send + Sync>>,
}

impl BenchBackend {
    /// A backend that needs nothing beyond its store.
    pub fn new(name: &'static str, store: Arc<dyn AuditStore>) -> Self {
        BenchBackend {
            name,
            store,
            keep_alive: None,
        }
    }
}

impl fmt::Debug for BenchBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BenchBackend")
            .field("name", &self.name)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The future a [`BackendSpec`] constructor returns.
pub type OpenFuture = Pin<Box<dyn Future<Output = Result<BenchBackend>> + Send>>;

/// The future of [`BackendSpec::settle`].
pub type SettleFuture = Pin<Box<dyn Future<Output = Result<()>> + Send>>;

/// How to open a fresh, empty instance of one backend.
#[derive(Debug, Clone, Copy)]
pub struct BackendSpec {
    /// The backend's name.
    pub name: &'static str,
    /// Opens a fresh, empty store.
    pub constructor: fn() -> OpenFuture,
    /// Writes out, untimed, what earlier work left for the backend's server to write, so that
    /// a timed append does not pay for it; `None` when there is nothing to do.
    pub settle: Option<fn() -> SettleFuture>,
}

impl BackendSpec {
    /// Opens a fresh, empty store.
    pub async fn open(&self) -> Result<BenchBackend> {
        (self.constructor)().await
    }

    /// Runs [`settle`](Self::settle), if the backend has it.
    pub async fn settle(&self) -> Result<()> {
        match self.settle {
            Some(settle) => settle().await,
            None => Ok(()),
        }
    }
}

/// The in-memory backend.
pub const MEMORY: BackendSpec = BackendSpec {
    name: "memory",
    constructor: open_memory,
    settle: None,
};

fn open_memory() -> OpenFuture {
    Box::pin(async { Ok(BenchBackend::new("memory", Arc::new(MemoryStore::new()))) })
}

/// The SQLite backend with its defaults (WAL, `synchronous=FULL`, the trigram search index),
/// in a fresh database file in a temporary directory.
pub const SQLITE: BackendSpec = BackendSpec {
    name: "sqlite",
    constructor: open_sqlite,
    settle: None,
};

/// The SQLite backend without the search index (`search_index(false)`): free text scans.
pub const SQLITE_NOSEARCH: BackendSpec = BackendSpec {
    name: "sqlite-nosearch",
    constructor: open_sqlite_nosearch,
    settle: None,
};

fn open_sqlite() -> OpenFuture {
    Box::pin(open_sqlite_file("sqlite", true))
}

fn open_sqlite_nosearch() -> OpenFuture {
    Box::pin(open_sqlite_file("sqlite-nosearch", false))
}

async fn open_sqlite_file(name: &'static str, search_index: bool) -> Result<BenchBackend> {
    let dir = TempDir::new(name)
        .map_err(|e| Error::backend("sqlite", "creating a temporary directory", false, e))?;
    let store = SqliteStore::builder()
        .path(dir.path().join("audit.db"))
        .search_index(search_index)
        .open()
        .await?;
    Ok(BenchBackend {
        name,
        store: Arc::new(store),
        keep_alive: Some(Box::new(dir)),
    })
}

/// The environment variable naming a PostgreSQL database for the `postgres` backend, for
/// example `postgres://postgres@127.0.0.1:5432/audit_bench`; without it that backend is skipped.
pub const POSTGRES_URL_ENV: &str = "AUDIT_BENCH_POSTGRES_URL";

/// The schema the `postgres` backend works in; dropped and created afresh for each store.
pub const POSTGRES_SCHEMA: &str = "audit_bench";

/// The schema the `postgres-nosearch` backend works in, likewise.
pub const POSTGRES_NOSEARCH_SCHEMA: &str = "audit_bench_nosearch";

/// The PostgreSQL backend with its defaults (binary COPY, the trigram index when `pg_trgm` is
/// available) in schema [`POSTGRES_SCHEMA`] of the database at [`POSTGRES_URL_ENV`]. The
/// schema is left in place after the run, for inspection.
pub const POSTGRES: BackendSpec = BackendSpec {
    name: "postgres",
    constructor: open_postgres,
    settle: Some(postgres_settle),
};

/// The PostgreSQL backend without the trigram index (`search_index(false)`: free text scans),
/// in schema [`POSTGRES_NOSEARCH_SCHEMA`].
pub const POSTGRES_NOSEARCH: BackendSpec = BackendSpec {
    name: "postgres-nosearch",
    constructor: open_postgres_nosearch,
    settle: Some(postgres_settle),
};

fn open_postgres() -> OpenFuture {
    Box::pin(async {
        let store = postgres_store(POSTGRES_SCHEMA, true).await?;
        Ok(BenchBackend::new("postgres", Arc::new(store)))
    })
}

fn open_postgres_nosearch() -> OpenFuture {
    Box::pin(async {
        let store = postgres_store(POSTGRES_NOSEARCH_SCHEMA, false).await?;
        Ok(BenchBackend::new("postgres-nosearch", Arc::new(store)))
    })
}

/// `ANALYZE` of the database at [`POSTGRES_URL_ENV`], then [`postgres_checkpoint`]: the
/// planner's statistics exist, as autovacuum keeps them on a server that has been running
/// (right after a fill it has not run yet, and the planner guesses a handful of rows per
/// table), and the write-back of the fill does not compete with what is measured next.
pub fn postgres_settle() -> SettleFuture {
    Box::pin(async {
        let client = connect_postgres().await?;
        client
            .batch_execute("ANALYZE")
            .await
            .map_err(|e| Error::backend("postgres", "running ANALYZE", false, e))?;
        postgres_checkpoint().await
    })
}

/// A `CHECKPOINT` of the server at [`POSTGRES_URL_ENV`] (superuser or `pg_checkpoint`): every
/// dirty page is written out and synced, so the write-back of what ran before (the fill, the
/// hint bits a full read sets on every page) does not compete with the timed appends, and the
/// store's append benchmark and the raw baseline both start at the beginning of a checkpoint
/// cycle (the first change of each page after a checkpoint writes its full image to the WAL,
/// so where in the cycle a 10-second measurement falls changes its cost).
pub fn postgres_checkpoint() -> SettleFuture {
    Box::pin(async {
        let client = connect_postgres().await?;
        client
            .batch_execute("CHECKPOINT")
            .await
            .map_err(|e| Error::backend("postgres", "running CHECKPOINT", false, e))
    })
}

/// A plain connection to [`POSTGRES_URL_ENV`], driven on the current tokio runtime.
async fn connect_postgres() -> Result<tokio_postgres::Client> {
    let url = postgres_url()?;
    raw_postgres::connect(&url)
        .await
        .map_err(|e| Error::backend("postgres", "connecting", false, e))
}

/// The database URL of [`POSTGRES_URL_ENV`].
pub fn postgres_url() -> Result<String> {
    std::env::var(POSTGRES_URL_ENV)
        .map_err(|_| Error::Unsupported(format!("the postgres backend needs {POSTGRES_URL_ENV}")))
}

/// Opens a `PostgresStore` in `schema` of the database at [`POSTGRES_URL_ENV`], after dropping
/// whatever the schema held, so that the store creates its tables and indexes afresh.
pub async fn postgres_store(
    schema: &str,
    search_index: bool,
) -> Result<audit_postgres::PostgresStore> {
    let url = postgres_url()?;
    connect_postgres()
        .await?
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .map_err(|e| {
            Error::backend(
                "postgres",
                "dropping the previous benchmark schema",
                false,
                e,
            )
        })?;
    audit_postgres::PostgresStore::builder()
        .url(&url)
        .schema(schema)
        .search_index(search_index)
        .open()
        .await
}

/// Every backend the benchmarks run against: memory and both SQLite variants, and both
/// PostgreSQL variants when [`POSTGRES_URL_ENV`] is set.
pub fn backends() -> Vec<BackendSpec> {
    let mut specs = vec![MEMORY, SQLITE, SQLITE_NOSEARCH];
    if std::env::var_os(POSTGRES_URL_ENV).is_some() {
        specs.extend([POSTGRES, POSTGRES_NOSEARCH]);
    }
    specs
}

/// The environment variable that restricts the store benchmark to some backends, by name and
/// comma-separated (`AUDIT_BENCH_BACKENDS=postgres,postgres-nosearch`), so that a run filtered
/// to one backend does not fill the others first.
pub const BACKENDS_ENV: &str = "AUDIT_BENCH_BACKENDS";

/// The backends of [`backends`] named in `AUDIT_BENCH_BACKENDS`, in that order; all of them
/// when it is unset. A name that is not among them is an error, so a typo does not silently
/// benchmark nothing.
pub fn selected_backends() -> std::result::Result<Vec<BackendSpec>, String> {
    let all = backends();
    let names = match std::env::var(BACKENDS_ENV) {
        Ok(names) => names,
        Err(std::env::VarError::NotPresent) => return Ok(all),
        Err(e) => return Err(format!("{BACKENDS_ENV}: {e}")),
    };
    names
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            all.iter()
                .find(|spec| spec.name == name)
                .copied()
                .ok_or_else(|| {
                    let known: Vec<_> = all.iter().map(|spec| spec.name).collect();
                    format!(
                        "{BACKENDS_ENV} names {name:?}, which is not one of {known:?} \
                         (the postgres backends need {POSTGRES_URL_ENV})"
                    )
                })
        })
        .collect()
}

static TEMP_DIRS: AtomicU64 = AtomicU64::new(0);

/// A directory created under [`std::env::temp_dir`] (`TMPDIR`) and removed with everything in
/// it when dropped: the home of a benchmark's database files.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a new, empty directory whose name starts with `audit-bench-<label>-`.
    pub fn new(label: &str) -> std::io::Result<Self> {
        let n = TEMP_DIRS.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "audit-bench-{label}-{}-{n}-{nanos:08x}",
            std::process::id()
        ));
        std::fs::create_dir(&path)?;
        Ok(TempDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a file another thread still holds open disappears when it is closed.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_core::Column;

    #[test]
    fn the_same_seed_gives_the_same_events() {
        let a: Vec<_> = events(3, 500).collect();
        let b: Vec<_> = events(3, 500).collect();
        let c: Vec<_> = events(4, 500).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn dates_increase_and_end_before_the_fixed_instant() {
        let all: Vec<_> = events(1, 10_000).collect();
        assert!(all.windows(2).all(|w| w[0].timestamp() < w[1].timestamp()));
        let first = all[0].timestamp();
        let last = all[all.len() - 1].timestamp();
        assert!(last < END);
        assert!(END - first <= chrono::TimeDelta::days(SPAN_DAYS));
        assert!(END - first > chrono::TimeDelta::days(SPAN_DAYS - 1));
    }

    #[test]
    fn distributions_are_realistic() {
        let n = 200_000;
        let all: Vec<_> = events(DEFAULT_SEED, n).collect();
        let successes = all.iter().filter(|e| e.is_success()).count();
        let rate = successes as f64 / n as f64;
        assert!((0.84..0.86).contains(&rate), "success rate {rate}");
        let rare = all
            .iter()
            .filter(|e| e.text(Column::Description).contains(RARE_TERM))
            .count();
        assert!((120..280).contains(&rare), "rare term in {rare} events");
        let names: std::collections::BTreeSet<_> = all.iter().map(|e| e.event()).collect();
        assert_eq!(names.len(), EVENTS.len());
        let users: std::collections::BTreeSet<_> =
            all.iter().map(|e| e.text(Column::User)).collect();
        // Every user plus the empty user of system administration.
        assert_eq!(users.len(), USERS as usize + 1);
        let outcomes: std::collections::BTreeSet<_> =
            all.iter().map(|e| e.text(Column::Authentication)).collect();
        assert_eq!(
            outcomes.into_iter().collect::<Vec<_>>(),
            ["", "ACCEPT", "CHALLENGE", "REJECT"]
        );
    }

    #[test]
    fn the_rare_term_occurs_only_in_descriptions() {
        for event in events(9, 50_000) {
            for column in Column::TEXT {
                if *column != Column::Description {
                    assert!(!event.text(*column).to_lowercase().contains(RARE_TERM));
                }
            }
        }
    }

    #[test]
    fn batches_cover_every_event_once() {
        let flat: Vec<_> = batches(5, 2_345, 1_000).into_iter().flatten().collect();
        assert_eq!(flat, events(5, 2_345).collect::<Vec<_>>());
    }

    #[test]
    fn filled_appends_n_events() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let store = MemoryStore::new();
        rt.block_on(filled(&store, 2_500)).unwrap();
        assert_eq!(store.len(), 2_500);
    }

    #[test]
    fn every_backend_opens_fills_and_cleans_up() {
        // The PostgreSQL backends run too when AUDIT_BENCH_POSTGRES_URL names a database.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let names: Vec<_> = backends().iter().map(|spec| spec.name).collect();
        let mut expected = vec!["memory", "sqlite", "sqlite-nosearch"];
        if std::env::var_os(POSTGRES_URL_ENV).is_some() {
            expected.extend(["postgres", "postgres-nosearch"]);
        }
        assert_eq!(names, expected);
        for spec in backends() {
            let backend = rt.block_on(spec.open()).unwrap();
            assert_eq!(backend.name, spec.name);
            rt.block_on(filled(&*backend.store, 2_500)).unwrap();
            let query = audit_core::AuditQuery::new()
                .find(RARE_TERM)
                .and_then(|q| q.offset(0, 10))
                .unwrap();
            let page = rt.block_on(backend.store.query(&query)).unwrap();
            assert_eq!(page.total_count, 2_500, "{}", spec.name);
            let expected = events(DEFAULT_SEED, 2_500)
                .filter(|e| e.text(Column::Description).contains(RARE_TERM))
                .count();
            assert_eq!(page.filter_count as usize, expected, "{}", spec.name);
            let dir = backend
                .keep_alive
                .as_ref()
                .and_then(|k| k.downcast_ref::<TempDir>())
                .map(|d| d.path().to_path_buf());
            drop(backend);
            if let Some(dir) = dir {
                assert!(!dir.exists(), "{} left {}", spec.name, dir.display());
            }
        }
    }
}
