//! The server's command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use audit_core::Column;
use audit_core::integrity::{IntegrityKey, Keyring};
use audit_core::query::TimeLimit;

use crate::accounts::Account;

/// Where entries are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// A SQLite file (the default `audit.db`).
    Sqlite(PathBuf),
    /// Memory only.
    Memory,
    /// A PostgreSQL server, by URL or `key=value` settings.
    Postgres(String),
}

/// The server's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Where entries are kept.
    pub storage: Storage,
    /// Who may log in; no administrator means one `admin` with a generated password.
    pub admins: Vec<Account>,
    /// Self-service users.
    pub users: Vec<Account>,
    /// The oldest entry anyone may see.
    pub max_age: Option<TimeLimit>,
    /// Columns nobody sees.
    pub hidden: Vec<Column>,
    /// The key that seals every entry into an integrity chain.
    pub integrity: Option<Keyring>,
    /// Demo events appended to an empty store (`None`: 10,000 for a new store).
    pub demo: Option<usize>,
    /// Whether every API request is itself audited.
    pub self_audit: bool,
    /// The largest body `POST /events` accepts.
    pub max_ingest_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            storage: Storage::Sqlite(PathBuf::from("audit.db")),
            admins: Vec::new(),
            users: Vec::new(),
            max_age: None,
            hidden: Vec::new(),
            integrity: None,
            demo: None,
            self_audit: true,
            max_ingest_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The usage text.
pub const USAGE: &str = "usage: audit-server [--listen ADDR] [--db PATH | --postgres URL | --memory] \
[--admin NAME:PASSWORD[:REALM,...]]... [--user NAME:PASSWORD:REALM]... [--max-age 30d] [--hide COLUMN,...] \
[--integrity-key-file PATH] \
[--demo N] [--no-self-audit] [--max-ingest-bytes N]";

impl Config {
    /// Parses the arguments after the program name.
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut config = Config::default();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
            };
            match flag.as_str() {
                "--listen" => {
                    let text = value("--listen")?;
                    config.listen = text.parse().map_err(|_| {
                        format!("--listen: {text:?} is not an address such as 127.0.0.1:8080")
                    })?;
                }
                "--db" => config.storage = Storage::Sqlite(PathBuf::from(value("--db")?)),
                "--memory" => config.storage = Storage::Memory,
                "--postgres" => config.storage = Storage::Postgres(value("--postgres")?),
                "--admin" => config
                    .admins
                    .push(Account::parse(&value("--admin")?).map_err(|e| format!("--admin: {e}"))?),
                "--user" => config.users.push(
                    Account::parse_user(&value("--user")?).map_err(|e| format!("--user: {e}"))?,
                ),
                "--max-age" => {
                    let text = value("--max-age")?;
                    config.max_age = Some(text.parse().map_err(|e| format!("--max-age: {e}"))?);
                }
                "--hide" => {
                    for name in value("--hide")?.split(',').map(str::trim) {
                        let column = Column::from_privacyidea_name(name)
                            .filter(|c| !matches!(c, Column::Id | Column::Date))
                            .ok_or_else(|| {
                                format!("--hide: {name:?} is not a privacyIDEA column that can be hidden")
                            })?;
                        config.hidden.push(column);
                    }
                }
                "--integrity-key-file" => {
                    let path = value("--integrity-key-file")?;
                    config.integrity = Some(read_key_file(&path)?);
                }
                "--demo" => {
                    let text = value("--demo")?;
                    config.demo = Some(
                        text.parse()
                            .map_err(|_| format!("--demo: {text:?} is not a whole number"))?,
                    );
                }
                "--no-self-audit" => config.self_audit = false,
                "--max-ingest-bytes" => {
                    let text = value("--max-ingest-bytes")?;
                    config.max_ingest_bytes = text.parse().map_err(|_| {
                        format!("--max-ingest-bytes: {text:?} is not a whole number")
                    })?;
                }
                "--help" | "-h" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(config)
    }
}

/// Reads `KEY_ID:SECRET` (one line; the secret at least 16 bytes) from a file, so the secret
/// stays out of the process list.
fn read_key_file(path: &str) -> Result<Keyring, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--integrity-key-file: cannot read {path}: {e}"))?;
    let (id, secret) = text
        .trim_end_matches(['\r', '\n'])
        .split_once(':')
        .ok_or_else(|| format!("--integrity-key-file: {path} does not hold KEY_ID:SECRET"))?;
    let key = IntegrityKey::new(id, secret.as_bytes().to_vec())
        .map_err(|e| format!("--integrity-key-file: {e}"))?;
    Ok(Keyring::new(key))
}
