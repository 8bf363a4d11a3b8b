//! Realistic demo events for a new store, so the APIs have something to show.

use std::time::Duration;

use audit_core::AuditEvent;
use chrono::{DateTime, TimeDelta, Utc};

const USERS: [&str; 12] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "jürgen",
];
const REALMS: [&str; 4] = ["corp", "engineering", "external", "defrealm"];
const ADMINS: [&str; 3] = ["admin", "helpdesk", "operator"];
const AGENTS: [(&str, &str); 4] = [
    ("privacyIDEA-PAM", "1.3.0"),
    ("privacyidea-keycloak", "1.5.0"),
    ("curl", "8.5.0"),
    ("Mozilla/5.0", ""),
];

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}

/// `count` demo events spread over the 30 days before `end`, oldest first.
pub fn events(count: usize, end: DateTime<Utc>) -> Vec<AuditEvent> {
    let mut rng = Rng(0xDE30);
    let span = 30 * 86_400_000_000i64;
    let step = span / i64::try_from(count.max(1)).unwrap_or(1);
    (0..count)
        .map(|i| {
            let date = end
                - TimeDelta::microseconds(
                    span - step * i64::try_from(i).unwrap_or(0)
                        - i64::try_from(rng.below(1_000_000)).unwrap_or(0),
                );
            // Some users are much busier than others, and each has two tokens.
            let index = rng
                .below(USERS.len() as u64)
                .min(rng.below(USERS.len() as u64));
            let user = USERS[usize::try_from(index).unwrap_or(0)];
            let realm = *rng.pick(&REALMS);
            let (agent, version) = *rng.pick(&AGENTS);
            let took = Duration::from_micros(20_000 + rng.below(600_000));
            let location = format!(
                "10.{}.{}.{}",
                rng.below(4),
                rng.below(256),
                1 + rng.below(254)
            );
            let serial = format!(
                "TOTP{:08X}",
                (index * 2 + rng.below(2)).wrapping_mul(0x9E37_79B1) >> 8
            );
            let base = AuditEvent::new("")
                .date(date)
                .start_date(
                    date - TimeDelta::microseconds(i64::try_from(took.as_micros()).unwrap_or(0)),
                )
                .duration(took)
                .location(location)
                .user_agent(agent)
                .user_agent_version(version)
                .server(*rng.pick(&["pi-node1", "pi-node2"]))
                .log_level("default")
                .clearance_level("default")
                .thread_id(format!("1397000000{:05}", rng.below(8) * 1000));
            match rng.below(10) {
                0..=5 => {
                    // mallory keeps guessing.
                    let ok = rng.below(100) < if user == "mallory" { 30 } else { 88 };
                    base.with_text(audit_core::Column::Event, "POST /validate/check")
                        .user(user)
                        .realm(realm)
                        .resolver(format!("resolver_{realm}"))
                        .serial(&serial)
                        .token_type("totp")
                        .success(ok)
                        .authentication(if ok { "ACCEPT" } else { "REJECT" })
                        .description(if ok {
                            "matching 1 tokens"
                        } else {
                            "wrong otp value"
                        })
                        .policies(*rng.pick(&["", "otppin_userstore"]))
                }
                6 => base
                    .with_text(audit_core::Column::Event, "POST /validate/triggerchallenge")
                    .user(user)
                    .realm(realm)
                    .resolver(format!("resolver_{realm}"))
                    .serial(&serial)
                    .token_type("push")
                    .authentication("CHALLENGE")
                    .description("challenge triggered"),
                7 => base
                    .with_text(audit_core::Column::Event, "POST /auth")
                    .administrator(*rng.pick(&ADMINS))
                    .role("admin")
                    .success(rng.below(100) < 95)
                    .description("internal admin"),
                8 => base
                    .with_text(audit_core::Column::Event, "POST /token/init")
                    .administrator(*rng.pick(&ADMINS))
                    .role("admin")
                    .user(user)
                    .realm(realm)
                    .serial(&serial)
                    .token_type("totp")
                    .action_detail("tokentype=totp")
                    .description("token enrolled"),
                _ => base
                    .with_text(audit_core::Column::Event, "GET /audit/")
                    .administrator(*rng.pick(&ADMINS))
                    .role("admin")
                    .description("audit log read"),
            }
        })
        .collect()
}
