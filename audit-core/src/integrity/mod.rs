//! The integrity chain (DESIGN §6): every entry carries an HMAC-SHA256 over a canonical,
//! versioned encoding of all its columns and the previous entry's MAC, so a changed, inserted,
//! deleted or reordered entry breaks the chain at that entry.
//!
//! ```
//! use audit_core::integrity::{Chain, IntegrityKey, Keyring, verify_links, Link};
//! use audit_core::{AuditEntry, AuditEvent};
//!
//! # fn main() -> audit_core::Result<()> {
//! let keyring = Keyring::new(IntegrityKey::new("k1", b"a secret of at least 16 bytes".to_vec())?);
//! let mut chain = Chain::genesis(keyring.clone());
//! let entries = vec![
//!     AuditEntry::new(1, AuditEvent::new("POST /auth").user("alice")),
//!     AuditEntry::new(2, AuditEvent::new("POST /auth").user("bob")),
//! ];
//! let links: Vec<Link> = entries
//!     .into_iter()
//!     .map(|entry| {
//!         let seal = chain.seal(entry.id(), entry.as_event());
//!         Link { entry, seal: Some(seal) }
//!     })
//!     .collect();
//! assert!(verify_links(&keyring, None, &links).is_ok());
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac as _};
use sha2::Sha256;

use crate::column::Column;
use crate::error::{Error, Result};
use crate::event::{AuditEntry, AuditEvent, AuditId};

mod checkpoint;

pub use checkpoint::{Checkpoint, Checkpoints, Gap};

/// The length of a MAC in bytes.
pub const MAC_LEN: usize = 32;

/// An HMAC-SHA256 value.
pub type Mac = [u8; MAC_LEN];

/// The "previous MAC" of the first entry of a chain.
pub const GENESIS: Mac = [0; MAC_LEN];

/// The version tag that starts every canonical encoding; a new encoding gets a new tag.
const ENCODING_V1: &[u8] = b"audit-chain-v1\0";

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// A MAC key with its id; the id is stored beside every MAC it made, so keys can be rotated.
#[derive(Clone)]
pub struct IntegrityKey {
    id: String,
    secret: Vec<u8>,
    /// The HMAC state after the key: cloned for every MAC instead of hashing the key again.
    keyed: Hmac<Sha256>,
}

impl PartialEq for IntegrityKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.secret == other.secret
    }
}

impl Eq for IntegrityKey {}

impl fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrityKey")
            .field("id", &self.id)
            .field("secret", &"<hidden>")
            .finish()
    }
}

impl IntegrityKey {
    /// A key: `id` of 1 to 64 printable ASCII characters, `secret` of at least
    /// [`MIN_SECRET_BYTES`] bytes.
    pub fn new(id: impl Into<String>, secret: Vec<u8>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::invalid_query(
                "key id",
                format!("{id:?} is not a key id"),
                "1 to 64 printable ASCII characters",
            ));
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(Error::invalid_query(
                "key secret",
                format!("the secret has {} bytes", secret.len()),
                format!("at least {MIN_SECRET_BYTES} bytes"),
            ));
        }
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret).map_err(|_| {
            Error::invalid_query("key secret", "the secret cannot key an HMAC", "any bytes")
        })?;
        Ok(IntegrityKey { id, secret, keyed })
    }

    /// The key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn mac(&self, id: AuditId, event: &AuditEvent, previous: &Mac) -> Mac {
        let mut hmac = self.keyed.clone();
        encode(id, event, &self.id, &mut |bytes| hmac.update(bytes));
        hmac.update(previous);
        hmac.finalize().into_bytes().into()
    }
}

/// The key that seals new entries, and older keys still needed to verify old ones.
#[derive(Debug, Clone)]
pub struct Keyring {
    current: IntegrityKey,
    retired: Vec<IntegrityKey>,
}

impl Keyring {
    /// A keyring sealing with `current`.
    pub fn new(current: IntegrityKey) -> Self {
        Keyring {
            current,
            retired: Vec::new(),
        }
    }

    /// Also verifies entries sealed with `key`.
    #[must_use]
    pub fn with_retired(mut self, key: IntegrityKey) -> Self {
        self.retired.push(key);
        self
    }

    /// The key that seals new entries.
    pub fn current(&self) -> &IntegrityKey {
        &self.current
    }

    /// The key with this id.
    pub fn key(&self, id: &str) -> Option<&IntegrityKey> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|k| k.id == id)
    }
}

fn put_text(out: &mut dyn FnMut(&[u8]), text: &str) {
    out(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
    out(text.as_bytes());
}

fn put_optional(out: &mut dyn FnMut(&[u8]), value: Option<i64>) {
    match value {
        Some(v) => {
            out(&[1]);
            out(&v.to_be_bytes());
        }
        None => out(&[0]),
    }
}

/// Feeds the canonical encoding to `out` piece by piece (see [`canonical_encoding`]).
fn encode(id: AuditId, event: &AuditEvent, key_id: &str, out: &mut dyn FnMut(&[u8])) {
    let stored = StoredEntry {
        id,
        date: event.timestamp().timestamp_micros(),
        success: event.is_success(),
        texts: &Column::TEXT
            .iter()
            .map(|c| event.text(*c))
            .collect::<Vec<&str>>(),
        start_date: event.started_at().map(|d| d.timestamp_micros()),
        duration: event.duration_in_micros(),
        extra: Some(event.extra_fields()),
    };
    stored.encode(key_id, out);
}

/// An entry's values as a database holds them, borrowed from the row: what a backend checks
/// without rebuilding the entry (see [`ChainChecker`]).
#[derive(Debug, Clone, Copy)]
pub struct StoredEntry<'a> {
    /// The id.
    pub id: AuditId,
    /// Microseconds since the epoch.
    pub date: i64,
    /// The outcome.
    pub success: bool,
    /// The text columns in [`Column::TEXT`] order.
    pub texts: &'a [&'a str],
    /// Microseconds since the epoch.
    pub start_date: Option<i64>,
    /// Microseconds.
    pub duration: Option<i64>,
    /// The host's fields (`None` is the same as none).
    pub extra: Option<&'a BTreeMap<String, String>>,
}

impl StoredEntry<'_> {
    fn encode(&self, key_id: &str, out: &mut dyn FnMut(&[u8])) {
        out(ENCODING_V1);
        out(&self.id.to_be_bytes());
        out(&self.date.to_be_bytes());
        out(&[u8::from(self.success)]);
        for index in 0..Column::TEXT.len() {
            put_text(out, self.texts.get(index).copied().unwrap_or(""));
        }
        put_optional(out, self.start_date);
        put_optional(out, self.duration);
        let count = self.extra.map_or(0, BTreeMap::len);
        out(&u32::try_from(count).unwrap_or(u32::MAX).to_be_bytes());
        for (key, value) in self.extra.into_iter().flatten() {
            put_text(out, key);
            put_text(out, value);
        }
        put_text(out, key_id);
    }

    /// The MAC of this entry under `key` after an entry sealed with `previous`.
    pub fn mac(&self, key: &IntegrityKey, previous: &Mac) -> Mac {
        let mut hmac = key.keyed.clone();
        self.encode(&key.id, &mut |bytes| hmac.update(bytes));
        hmac.update(previous);
        hmac.finalize().into_bytes().into()
    }
}

/// The canonical encoding of an entry (version 1): the version tag, the id, the date in
/// microseconds, the outcome, every text column in registry order (length-prefixed), the start
/// date and duration (flagged), the extra fields in key order (length-prefixed), and the key id.
/// Integers are big-endian.
pub fn canonical_encoding(id: AuditId, event: &AuditEvent, key_id: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(256);
    encode(id, event, key_id, &mut |piece| {
        bytes.extend_from_slice(piece)
    });
    bytes
}

/// What an entry carries: the MAC and the id of the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// The id of the key.
    pub key_id: String,
    /// HMAC-SHA256 over the entry's canonical encoding and the previous entry's MAC.
    pub mac: Mac,
}

impl Seal {
    /// The seal of a stored row from its `seal_key` and `seal_mac` columns: `None` unless both
    /// are set. A MAC of the wrong length is kept as zeros, which verification reports as a
    /// broken link.
    pub fn from_columns(key_id: Option<String>, mac: Option<&[u8]>) -> Option<Seal> {
        Some(Seal {
            key_id: key_id?,
            mac: Mac::try_from(mac?).unwrap_or(GENESIS),
        })
    }
}

/// An entry as stored, with its seal (`None` for an entry written without integrity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The entry.
    pub entry: AuditEntry,
    /// Its seal.
    pub seal: Option<Seal>,
}

/// The tail of a chain: seals entries one after the other.
#[derive(Debug, Clone)]
pub struct Chain {
    keyring: Keyring,
    last: Mac,
}

impl Chain {
    /// A chain whose next entry is the first.
    pub fn genesis(keyring: Keyring) -> Self {
        Chain::after(keyring, GENESIS)
    }

    /// A chain continuing after an entry sealed with `last`.
    pub fn after(keyring: Keyring, last: Mac) -> Self {
        Chain { keyring, last }
    }

    /// Seals the event stored under `id` as the next link and advances the tail.
    pub fn seal(&mut self, id: AuditId, event: &AuditEvent) -> Seal {
        let key = self.keyring.current();
        let mac = key.mac(id, event, &self.last);
        self.last = mac;
        Seal {
            key_id: key.id.clone(),
            mac,
        }
    }

    /// The MAC of the last sealed entry.
    pub fn last(&self) -> Mac {
        self.last
    }
}

/// How a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakKind {
    /// The entry's MAC does not match its content and its predecessor: the entry was changed,
    /// forged, or moved, or its predecessor was.
    Altered,
    /// Entries are missing before this one: the previous id is `previous`.
    Missing {
        /// The id of the entry before the gap.
        previous: AuditId,
    },
    /// The entry carries no seal.
    Unsealed,
    /// The entry was sealed with a key the keyring does not hold.
    UnknownKey(String),
}

/// The first broken link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The entry where the chain breaks.
    pub id: AuditId,
    /// How it breaks.
    pub kind: BreakKind,
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BreakKind::Altered => write!(f, "entry {} does not match its seal", self.id),
            BreakKind::Missing { previous } => {
                write!(f, "entries between {previous} and {} are missing", self.id)
            }
            BreakKind::Unsealed => write!(f, "entry {} carries no seal", self.id),
            BreakKind::UnknownKey(key) => {
                write!(f, "entry {} was sealed with unknown key {key:?}", self.id)
            }
        }
    }
}

/// Checks consecutive links: each must follow `previous` (the id and MAC of the link before,
/// `None` at the start of the chain) without a gap and match its seal. Returns the first break.
pub fn verify_links(
    keyring: &Keyring,
    previous: Option<(AuditId, Mac)>,
    links: &[Link],
) -> std::result::Result<(), Break> {
    // The chain starts at id 1 after the genesis MAC.
    let (mut previous_id, mut previous_mac) = previous.unwrap_or((0, GENESIS));
    for link in links {
        let id = link.entry.id();
        let at = |kind| Break { id, kind };
        if id != previous_id + 1 {
            return Err(at(BreakKind::Missing {
                previous: previous_id,
            }));
        }
        let seal = link.seal.as_ref().ok_or_else(|| at(BreakKind::Unsealed))?;
        let key = keyring
            .key(&seal.key_id)
            .ok_or_else(|| at(BreakKind::UnknownKey(seal.key_id.clone())))?;
        let expected = key.mac(id, link.entry.as_event(), &previous_mac);
        if !constant_time_equal(&expected, &seal.mac) {
            return Err(at(BreakKind::Altered));
        }
        previous_id = id;
        previous_mac = seal.mac;
    }
    Ok(())
}

/// Whether `seal` vouches for `entry` following an entry sealed with `previous` (the check of
/// one link, for a page of entries).
pub fn check_seal(keyring: &Keyring, entry: &AuditEntry, seal: &Seal, previous: &Mac) -> bool {
    keyring.key(&seal.key_id).is_some_and(|key| {
        constant_time_equal(&key.mac(entry.id(), entry.as_event(), previous), &seal.mac)
    })
}

fn constant_time_equal(a: &Mac, b: &Mac) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Checks stored entries one after the other, from the entry after `after`: what
/// [`AuditStore::check_chain`](crate::AuditStore::check_chain) does for one chunk. Feed the
/// entry `after` itself first when it exists, so its MAC links the chunk to the one before.
/// A gap in the ids is crossed only over authentic [`Checkpoints`].
#[derive(Debug)]
pub struct ChainChecker<'k> {
    keyring: &'k Keyring,
    checkpoints: &'k Checkpoints,
    after: AuditId,
    previous: Option<(AuditId, Mac)>,
    checked: u64,
    last_intact: Option<AuditId>,
    first_break: Option<Break>,
}

/// What a chunk check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCheck {
    /// Entries found intact.
    pub checked: u64,
    /// The last entry read (intact or not), `None` when the chunk was empty.
    pub last_id: Option<AuditId>,
    /// The last entry found intact.
    pub last_intact: Option<AuditId>,
    /// The first broken link.
    pub first_break: Option<Break>,
}

impl<'k> ChainChecker<'k> {
    /// A check of the entries after `after` (0: from the start of the chain).
    pub fn new(keyring: &'k Keyring, checkpoints: &'k Checkpoints, after: AuditId) -> Self {
        ChainChecker {
            keyring,
            checkpoints,
            after,
            previous: (after == 0).then_some((0, GENESIS)),
            checked: 0,
            last_intact: None,
            first_break: None,
        }
    }

    /// A check of the entries after entry `id`, which is taken as sealed with `mac` (a purge
    /// checks the rows it deletes from the stored row before them).
    pub fn resume(
        keyring: &'k Keyring,
        checkpoints: &'k Checkpoints,
        id: AuditId,
        mac: Mac,
    ) -> Self {
        ChainChecker {
            previous: Some((id, mac)),
            ..ChainChecker::new(keyring, checkpoints, id)
        }
    }

    /// Feeds the next stored entry with its seal; false once the chain is broken.
    pub fn feed(&mut self, entry: &StoredEntry<'_>, seal: Option<(&str, &[u8])>) -> bool {
        if self.first_break.is_some() {
            return false;
        }
        let id = entry.id;
        if id == self.after && self.previous.is_none() {
            let mac = seal
                .and_then(|(_, mac)| Mac::try_from(mac).ok())
                .unwrap_or(GENESIS);
            self.previous = Some((id, mac));
            return true;
        }
        // The entry a chunk starts after may have been purged since it was checked: an
        // authentic checkpoint covering it says what the chain continues from.
        let resumed = self.previous.or_else(|| {
            self.checkpoints
                .covering(self.after)
                .map(|c| (c.last, c.last_mac))
        });
        let linked = match resumed {
            None => Err(self.after),
            Some((previous_id, previous_mac)) => {
                self.checkpoints.cross(previous_id, previous_mac, id)
            }
        };
        let kind = match linked {
            Err(previous) => Some(BreakKind::Missing { previous }),
            Ok((_, previous_mac)) => match seal {
                None => Some(BreakKind::Unsealed),
                Some((key_id, mac)) => match self.keyring.key(key_id) {
                    None => Some(BreakKind::UnknownKey(key_id.to_owned())),
                    Some(key) => {
                        let expected = entry.mac(key, &previous_mac);
                        match Mac::try_from(mac) {
                            Ok(stored) if constant_time_equal(&expected, &stored) => {
                                self.previous = Some((id, stored));
                                None
                            }
                            _ => Some(BreakKind::Altered),
                        }
                    }
                },
            },
        };
        match kind {
            None => {
                self.checked += 1;
                self.last_intact = Some(id);
                true
            }
            Some(kind) => {
                self.first_break = Some(Break { id, kind });
                false
            }
        }
    }

    /// What the check found; `last_id` is the last entry fed.
    pub fn finish(self, last_id: Option<AuditId>) -> ChainCheck {
        ChainCheck {
            checked: self.checked,
            last_id,
            last_intact: self.last_intact,
            first_break: self.first_break,
        }
    }
}

/// The outcome of walking a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Entries checked before the walk ended.
    pub checked: u64,
    /// The last entry found intact.
    pub last_intact: Option<AuditId>,
    /// The first broken link, if any.
    pub first_break: Option<Break>,
    /// How many authentic checkpoints the store holds (gaps the walk may step over).
    pub checkpoints: usize,
    /// Checkpoints whose signature did not verify (never stepped over).
    pub forged_checkpoints: usize,
}

/// Entries read per round trip while verifying.
pub const VERIFY_CHUNK: u32 = 4_000;

/// Walks the whole chain of `store` in chunks of [`VERIFY_CHUNK`] and reports the first broken
/// link, stepping over gaps that authentic checkpoints of purges explain. Each chunk is checked
/// by the store ([`AuditStore::check_chain`](crate::AuditStore::check_chain)), two at a time:
/// the next chunk is started at a guess (ids without gaps) and read again when the guess was
/// wrong. A gap found while a purge runs is checked again against the checkpoints as they are
/// then, so a concurrent purge is not reported as tampering.
pub async fn verify(
    store: &dyn crate::store::AuditStore,
    keyring: &Keyring,
) -> Result<Verification> {
    let chunk = AuditId::from(VERIFY_CHUNK);
    let mut checkpoints = Checkpoints::authentic(keyring, store.checkpoints().await?);
    let mut after: AuditId = 0;
    let mut checked = 0u64;
    let mut last_intact = None;
    let mut reloaded_at = None;
    'walk: loop {
        let guess = after.saturating_add(chunk);
        let (current, next) = futures_util::future::try_join(
            store.check_chain(keyring, &checkpoints, after, VERIFY_CHUNK),
            store.check_chain(keyring, &checkpoints, guess, VERIFY_CHUNK),
        )
        .await?;
        for (start, part) in [(after, current), (guess, next)] {
            if start != after {
                // The part before did not end at the guess: read again from where it ended.
                break;
            }
            if let Some(Break {
                id,
                kind: BreakKind::Missing { .. },
            }) = &part.first_break
            {
                if reloaded_at != Some(*id) {
                    reloaded_at = Some(*id);
                    checkpoints = Checkpoints::authentic(keyring, store.checkpoints().await?);
                    continue 'walk;
                }
            }
            checked += part.checked;
            last_intact = part.last_intact.or(last_intact);
            if part.first_break.is_some() || part.checked < u64::from(VERIFY_CHUNK) {
                // A break, or fewer entries than asked for: the end of the chain.
                return Ok(Verification {
                    checked,
                    last_intact,
                    first_break: part.first_break,
                    checkpoints: checkpoints.len(),
                    forged_checkpoints: checkpoints.forged().len(),
                });
            }
            after = part.last_id.unwrap_or(guess);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AuditEvent;

    fn keyring() -> Keyring {
        Keyring::new(IntegrityKey::new("k1", vec![7; 32]).unwrap_or_else(|e| panic!("{e}")))
    }

    fn sealed(events: Vec<AuditEvent>) -> Vec<Link> {
        let mut chain = Chain::genesis(keyring());
        events
            .into_iter()
            .enumerate()
            .map(|(i, event)| {
                let entry = AuditEntry::new(i as AuditId + 1, event);
                let seal = chain.seal(entry.id(), entry.as_event());
                Link {
                    entry,
                    seal: Some(seal),
                }
            })
            .collect()
    }

    fn events() -> Vec<AuditEvent> {
        (0..5)
            .map(|i| {
                AuditEvent::new("POST /auth")
                    .user(format!("u{i}"))
                    .extra("k", "v")
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify_links(&keyring(), None, &sealed(events())), Ok(()));
    }

    #[test]
    fn every_kind_of_tampering_breaks_the_chain_at_the_right_entry() {
        let links = sealed(events());
        let kind = |links: &[Link]| verify_links(&keyring(), None, links).err();

        let mut changed = links.clone();
        changed[2].entry = AuditEntry::new(3, AuditEvent::new("POST /auth").user("mallory"));
        assert_eq!(
            kind(&changed),
            Some(Break {
                id: 3,
                kind: BreakKind::Altered
            })
        );

        let mut deleted = links.clone();
        deleted.remove(1);
        assert_eq!(
            kind(&deleted),
            Some(Break {
                id: 3,
                kind: BreakKind::Missing { previous: 1 }
            })
        );

        let mut swapped = links.clone();
        let (a, b) = (swapped[1].entry.date(), swapped[3].entry.date());
        let restamp = |link: &Link, date| {
            AuditEntry::new(link.entry.id(), link.entry.as_event().clone().date(date))
        };
        swapped[1].entry = restamp(&links[1], b - chrono::TimeDelta::seconds(1));
        swapped[3].entry = restamp(&links[3], a);
        assert_eq!(
            kind(&swapped),
            Some(Break {
                id: 2,
                kind: BreakKind::Altered
            })
        );

        let mut forged = links.clone();
        forged[4].seal = Some(Seal {
            key_id: "k1".into(),
            mac: [1; MAC_LEN],
        });
        assert_eq!(
            kind(&forged),
            Some(Break {
                id: 5,
                kind: BreakKind::Altered
            })
        );

        let mut unknown = links;
        if let Some(seal) = unknown[0].seal.as_mut() {
            seal.key_id = "k9".into();
        }
        assert_eq!(
            kind(&unknown),
            Some(Break {
                id: 1,
                kind: BreakKind::UnknownKey("k9".into())
            })
        );
    }

    #[test]
    fn a_chunk_resumes_over_a_checkpoint_when_its_anchor_was_purged_meanwhile() {
        let links = sealed(events());
        let stored = |link: &Link| {
            let event = link.entry.as_event();
            let texts: Vec<String> = Column::TEXT
                .iter()
                .map(|c| event.text(*c).to_owned())
                .collect();
            (link.entry.id(), texts, event.clone())
        };
        // Entries 1 to 3 are purged after a verification checked up to 2; the next chunk
        // starts after 2 and finds 4 first.
        let keyring = keyring();
        let mac = |i: usize| links[i].seal.as_ref().map(|s| s.mac).unwrap_or(GENESIS);
        let checkpoint = Checkpoint::sign(
            Gap {
                first: 1,
                last: 3,
                before: GENESIS,
                last_mac: mac(2),
                purged: 3,
            },
            chrono::Utc::now(),
            &keyring,
        );
        let (id, texts, event) = stored(&links[3]);
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let entry = StoredEntry {
            id,
            date: event.timestamp().timestamp_micros(),
            success: event.is_success(),
            texts: &texts,
            start_date: None,
            duration: None,
            extra: Some(event.extra_fields()),
        };
        let seal = links[3]
            .seal
            .as_ref()
            .map(|s| (s.key_id.as_str(), &s.mac[..]));
        let none = Checkpoints::none();
        let mut without = ChainChecker::new(&keyring, &none, 2);
        assert!(!without.feed(&entry, seal));
        let with = Checkpoints::authentic(&keyring, vec![checkpoint]);
        let mut checker = ChainChecker::new(&keyring, &with, 2);
        assert!(checker.feed(&entry, seal));
        assert_eq!(checker.finish(Some(4)).first_break, None);
    }

    #[test]
    fn keys_are_checked() {
        assert!(IntegrityKey::new("", vec![0; 32]).is_err());
        assert!(IntegrityKey::new("k", vec![0; 8]).is_err());
        assert!(
            !format!("{:?}", keyring()).contains('7'),
            "the secret is not printed"
        );
    }
}
