//! Signed checkpoints: what a purge leaves where it deleted entries, so verification can step
//! over the gap while an unexplained gap still breaks the chain.
//!
//! A checkpoint says "entries `first..=last` are gone; the entry before them was sealed with
//! `before`, the last of them with `last_mac`", signed with a key of the keyring. Verification
//! crosses a gap only over checkpoints that are authentic and link up: the first starts right
//! after the entry before the gap and names its MAC, each next one starts where the one before
//! ended and names its MAC, and the entry after the gap is checked against the last one's
//! `last_mac`. Without the key nobody can make one, so deleting entries by hand stays visible.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hmac::Mac as _;

use super::{IntegrityKey, Keyring, Mac, constant_time_equal};
use crate::event::AuditId;

/// The version tag that starts a checkpoint's signed encoding.
const CHECKPOINT_V1: &[u8] = b"audit-checkpoint-v1\0";

/// A signed record of entries a purge deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The first deleted id.
    pub first: AuditId,
    /// The last deleted id.
    pub last: AuditId,
    /// The MAC of entry `first - 1` ([`GENESIS`](super::GENESIS) when `first` is 1).
    pub before: Mac,
    /// The MAC of entry `last`: what entry `last + 1` was sealed after.
    pub last_mac: Mac,
    /// How many entries the range held when they were deleted (earlier gaps inside it were
    /// already empty).
    pub purged: u64,
    /// When the last purge that touched the range ran.
    pub purged_at: DateTime<Utc>,
    /// The id of the key that signed it.
    pub key_id: String,
    /// HMAC-SHA256 over all the fields above.
    pub signature: Mac,
}

/// A checkpoint's fields before it is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The first deleted id.
    pub first: AuditId,
    /// The last deleted id.
    pub last: AuditId,
    /// The MAC of entry `first - 1`.
    pub before: Mac,
    /// The MAC of entry `last`.
    pub last_mac: Mac,
    /// How many entries were deleted inside the range.
    pub purged: u64,
}

impl Checkpoint {
    /// Signs `gap` with the keyring's current key.
    pub fn sign(gap: Gap, purged_at: DateTime<Utc>, keyring: &Keyring) -> Checkpoint {
        let key = keyring.current();
        Checkpoint {
            first: gap.first,
            last: gap.last,
            before: gap.before,
            last_mac: gap.last_mac,
            purged: gap.purged,
            purged_at,
            key_id: key.id().to_owned(),
            signature: signature(&gap, purged_at, key),
        }
    }

    /// The gap it records.
    pub fn gap(&self) -> Gap {
        Gap {
            first: self.first,
            last: self.last,
            before: self.before,
            last_mac: self.last_mac,
            purged: self.purged,
        }
    }

    /// Whether a key of `keyring` signed exactly these fields.
    pub fn is_authentic(&self, keyring: &Keyring) -> bool {
        self.first >= 1
            && self.first <= self.last
            && keyring.key(&self.key_id).is_some_and(|key| {
                constant_time_equal(
                    &signature(&self.gap(), self.purged_at, key),
                    &self.signature,
                )
            })
    }
}

fn signature(gap: &Gap, purged_at: DateTime<Utc>, key: &IntegrityKey) -> Mac {
    let mut hmac = key.keyed.clone();
    hmac.update(CHECKPOINT_V1);
    hmac.update(&gap.first.to_be_bytes());
    hmac.update(&gap.last.to_be_bytes());
    hmac.update(&gap.before);
    hmac.update(&gap.last_mac);
    hmac.update(&gap.purged.to_be_bytes());
    hmac.update(&purged_at.timestamp_micros().to_be_bytes());
    hmac.update(
        &u32::try_from(key.id().len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    hmac.update(key.id().as_bytes());
    hmac.finalize().into_bytes().into()
}

/// The authentic checkpoints of a store, by first id: what verification may step over.
/// Cloning is cheap (shared).
#[derive(Debug, Clone, Default)]
pub struct Checkpoints {
    by_first: Arc<BTreeMap<AuditId, Checkpoint>>,
    forged: Arc<[Checkpoint]>,
}

impl Checkpoints {
    /// No checkpoints: every gap breaks the chain.
    pub fn none() -> Self {
        Checkpoints::default()
    }

    /// Keeps the checkpoints a key of `keyring` signed; the others are remembered as forged
    /// and never stepped over.
    pub fn authentic(keyring: &Keyring, checkpoints: Vec<Checkpoint>) -> Self {
        let mut by_first = BTreeMap::new();
        let mut forged = Vec::new();
        for checkpoint in checkpoints {
            if checkpoint.is_authentic(keyring) {
                by_first.insert(checkpoint.first, checkpoint);
            } else {
                forged.push(checkpoint);
            }
        }
        Checkpoints {
            by_first: Arc::new(by_first),
            forged: forged.into(),
        }
    }

    /// How many authentic checkpoints there are.
    pub fn len(&self) -> usize {
        self.by_first.len()
    }

    /// Whether there is no authentic checkpoint.
    pub fn is_empty(&self) -> bool {
        self.by_first.is_empty()
    }

    /// The checkpoints that failed their signature check.
    pub fn forged(&self) -> &[Checkpoint] {
        &self.forged
    }

    /// Steps from entry `previous_id` (sealed with `previous_mac`) over consecutive
    /// checkpoints towards `next_id`: the id and MAC that entry `next_id` must follow, or the
    /// last point reached when the checkpoints do not close the gap.
    pub fn cross(
        &self,
        previous_id: AuditId,
        previous_mac: Mac,
        next_id: AuditId,
    ) -> Result<(AuditId, Mac), AuditId> {
        let (mut id, mut mac) = (previous_id, previous_mac);
        while id.saturating_add(1) < next_id {
            match self.by_first.get(&(id + 1)) {
                Some(checkpoint)
                    if constant_time_equal(&checkpoint.before, &mac)
                        && checkpoint.last < next_id =>
                {
                    id = checkpoint.last;
                    mac = checkpoint.last_mac;
                }
                _ => return Err(id),
            }
        }
        Ok((id, mac))
    }

    /// The authentic checkpoint whose range holds `id`, if one does.
    pub fn covering(&self, id: AuditId) -> Option<&Checkpoint> {
        self.by_first
            .range(..=id)
            .next_back()
            .map(|(_, c)| c)
            .filter(|c| c.last >= id)
    }

    /// The MAC of entry `id` as recorded by the checkpoint that ends there, if one does.
    pub fn mac_at_end(&self, id: AuditId) -> Option<Mac> {
        self.covering(id)
            .filter(|c| c.last == id)
            .map(|c| c.last_mac)
    }
}
