//! Accounts and session tokens: who may log in, and which token belongs to whom.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use audit_core::Scope;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a token stays valid after login.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// Whether an account administers or reads only its own entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An administrator (possibly restricted to some realms).
    Admin,
    /// A self-service user.
    User,
}

impl Role {
    /// privacyIDEA's name of the role.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

/// One account that may log in, and what it may see.
#[derive(Clone)]
pub struct Account {
    /// The login name.
    pub name: String,
    password: String,
    /// Administrator or self-service user.
    pub role: Role,
    /// What the account may see.
    pub scope: Scope,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("password", &"<hidden>")
            .field("role", &self.role)
            .field("scope", &self.scope)
            .finish()
    }
}

impl Account {
    /// An administrator who sees everything.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> Self {
        Account {
            name: name.into(),
            password: password.into(),
            role: Role::Admin,
            scope: Scope::everything(),
        }
    }

    /// An administrator who may read these realms and the entries they wrote themselves.
    pub fn realm_admin(name: &str, password: &str, realms: Vec<String>) -> Self {
        Account {
            scope: Scope::realms(realms).with_own_entries(name),
            ..Account::new(name, password)
        }
    }

    /// A self-service user: their own entries in `realm`, no CSV download.
    pub fn user(name: &str, password: &str, realm: &str) -> Self {
        Account {
            role: Role::User,
            scope: Scope::user(name, realm),
            ..Account::new(name, password)
        }
    }

    /// Parses `NAME:PASSWORD` (every realm) or `NAME:PASSWORD:REALM1,REALM2` (those realms
    /// and the entries the administrator wrote); with realms, the password cannot hold `:`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, rest) = spec
            .split_once(':')
            .filter(|(name, rest)| !name.is_empty() && !rest.is_empty())
            .ok_or_else(|| format!("{spec:?} is not NAME:PASSWORD[:REALM,...]"))?;
        match rest.split_once(':') {
            None => Ok(Account::new(name, rest)),
            Some((password, realms)) => {
                let realms: Vec<String> = realms
                    .split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect();
                if password.is_empty() || realms.is_empty() {
                    return Err(format!("{spec:?} is not NAME:PASSWORD:REALM1,REALM2"));
                }
                Ok(Account::realm_admin(name, password, realms))
            }
        }
    }

    /// Parses `NAME:PASSWORD:REALM` for a self-service user.
    pub fn parse_user(spec: &str) -> Result<Self, String> {
        let mut parts = spec.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(name), Some(password), Some(realm))
                if !name.is_empty() && !password.is_empty() && !realm.is_empty() =>
            {
                Ok(Account::user(name, password, realm))
            }
            _ => Err(format!("{spec:?} is not NAME:PASSWORD:REALM")),
        }
    }
}

/// Compares without an early exit, so the time taken does not tell how much matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

/// The accounts and the tokens handed out at login.
#[derive(Debug, Default)]
pub struct Accounts {
    accounts: Vec<Account>,
    tokens: Mutex<HashMap<String, (usize, Instant)>>,
}

impl Accounts {
    /// These accounts, no token yet.
    pub fn new(accounts: Vec<Account>) -> Self {
        Accounts {
            accounts,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Checks a login and hands out a new token.
    pub fn login(&self, name: &str, password: &str) -> Option<String> {
        let mut known = None;
        for (index, account) in self.accounts.iter().enumerate() {
            if same(account.name.as_bytes(), name.as_bytes())
                & same(account.password.as_bytes(), password.as_bytes())
            {
                known = Some(index);
            }
        }
        let index = known?;
        let token = new_token()?;
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        tokens.retain(|_, (_, expires)| *expires > now);
        tokens.insert(token.clone(), (index, now + TOKEN_LIFETIME));
        Some(token)
    }

    /// The account a valid token belongs to.
    pub fn account_of(&self, token: &str) -> Option<&Account> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(token)
            .filter(|(_, expires)| *expires > Instant::now())
            .and_then(|(index, _)| self.accounts.get(*index))
    }

    /// The account called `name`.
    pub fn named(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == name)
    }
}

fn new_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// A random password for the default admin.
pub fn random_password() -> Option<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}
