//! Accounts and session tokens: who may log in, and which token belongs to whom.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a token stays valid after login.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// One administrator who may log in.
#[derive(Clone)]
pub struct Account {
    /// The login name.
    pub name: String,
    password: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.name)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Account {
    /// An account with this name and password.
    pub fn new(name: impl Into<String>, password: impl Into<String>) -> Self {
        Account {
            name: name.into(),
            password: password.into(),
        }
    }

    /// Parses `NAME:PASSWORD`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        match spec.split_once(':') {
            Some((name, password)) if !name.is_empty() && !password.is_empty() => {
                Ok(Account::new(name, password))
            }
            _ => Err(format!("{spec:?} is not NAME:PASSWORD")),
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
    tokens: Mutex<HashMap<String, (String, Instant)>>,
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
        let mut known = false;
        for account in &self.accounts {
            if same(account.name.as_bytes(), name.as_bytes())
                & same(account.password.as_bytes(), password.as_bytes())
            {
                known = true;
            }
        }
        if !known {
            return None;
        }
        let token = new_token()?;
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        tokens.retain(|_, (_, expires)| *expires > now);
        tokens.insert(token.clone(), (name.to_owned(), now + TOKEN_LIFETIME));
        Some(token)
    }

    /// The account name a valid token belongs to.
    pub fn user_of(&self, token: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(token)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(name, _)| name.clone())
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
