//! The kit's deterministic dataset: 2,400 events that exercise the edges of the contract.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::event::AuditEvent;
use crate::testkit::rng::Rng;

/// How many events the dataset holds.
pub const DATASET_SIZE: usize = 2_400;

/// The first instant of the dataset's dates: 2026-03-01T00:00:00Z.
pub fn base_date() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_323_200, 0).unwrap_or_default()
}

/// The special rows, each with a value the named cases pin; the random pools never contain
/// these values, so the counts below are exact.
pub(crate) mod pinned {
    /// Descriptions that fold to contain `ärger`.
    pub(crate) const ARGER: [&str; 6] = [
        "ÄRGER im Büro",
        "ÄRGER im Büro",
        "ÄRGER im Büro",
        "großer ärger",
        "großer ärger",
        "Ärgerlich",
    ];
    /// Descriptions with SQL wildcard characters that must match literally.
    pub(crate) const LITERALS: [&str; 6] = [
        "100% sure",
        "100% sure",
        "1000 sure",
        "under_score",
        "underXscore",
        "back\\slash and star*name",
    ];
    /// Users that differ only in case.
    pub(crate) const CASED_USERS: [&str; 4] =
        ["Mixed.Case", "mixed.case", "MIXED.CASE", "MIXED.CASE"];
    /// Descriptions that spreadsheets would take as formulas.
    pub(crate) const FORMULAS: [&str; 6] = [
        "=cmd|' /C calc'!A0",
        "+1+1",
        "-5",
        "@SUM(A1)",
        "\tindented",
        "\rreturn",
    ];
    /// A Greek word with a final sigma and a Turkish dotted capital I.
    pub(crate) const FOLDING: [&str; 3] = ["ΟΔΟΣ ΚΑΛΟΣ", "İSTANBUL", "Straße"];
}

const USERS: &[&str] = &[
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "Alice",
    "jürgen",
    "JÜRGEN",
    "zoë",
    "用户",
    "Ωmega",
    "a_b",
    "axb",
    "pct%user",
    "back\\slash",
    "",
    "",
    "",
    "",
];
const REALMS: &[&str] = &["corp", "engineering", "external", "defrealm", ""];
const EVENTS: &[&str] = &[
    "POST /validate/check",
    "POST /validate/check",
    "POST /validate/check",
    "POST /validate/triggerchallenge",
    "POST /auth",
    "POST /auth",
    "GET /audit/",
    "GET /token/",
    "POST /token/init",
    "POST /token/enable",
    "DELETE /token/",
    "POST /user/",
    "GET /system/",
    "POST /container/init",
    "POST /token/reset",
];
const DESCRIPTIONS: &[&str] = &[
    "matching 1 tokens",
    "matching 1 tokens",
    "wrong otp pin",
    "challenge triggered",
    "",
    "",
    "",
    "token enrolled",
    "user not found",
    "Bücher über Äpfel",
    "ticket closed",
];
const AGENTS: &[&str] = &[
    "privacyIDEA-PAM",
    "privacyidea-keycloak",
    "curl",
    "Mozilla/5.0",
    "",
];
const TOKEN_TYPES: &[&str] = &["totp", "hotp", "sms", "email", "push", ""];
const POLICIES: &[&str] = &[
    "",
    "otppin_userstore",
    "otppin_userstore,challenge_resp",
    "passthru",
];

/// Builds the dataset, in append order. Dates are not in append order, many entries share a
/// timestamp, and every column is populated somewhere and missing somewhere.
pub fn events() -> Vec<AuditEvent> {
    let mut rng = Rng::new(0x0A0D_17C0_FFEE);
    let base = base_date();
    let mut previous_date = base;
    let mut special = special_rows().into_iter();
    let mut out = Vec::with_capacity(DATASET_SIZE);
    for i in 0..DATASET_SIZE {
        let date = if i % 10 == 3 || (200..230).contains(&i) {
            previous_date
        } else {
            base + TimeDelta::microseconds(
                i64::try_from(rng.below(60 * 86_400 * 1_000_000)).unwrap_or(0),
            )
        };
        previous_date = date;
        let event = if i % 37 == 5 {
            match special.next() {
                Some(make) => make(date),
                None => random_event(&mut rng, i, date),
            }
        } else {
            random_event(&mut rng, i, date)
        };
        out.push(event);
    }
    out
}

type Special = fn(DateTime<Utc>) -> AuditEvent;

fn special_rows() -> Vec<Special> {
    let mut rows: Vec<Special> = vec![
        |d| {
            AuditEvent::new("POST /validate/check")
                .date(d)
                .description(pinned::ARGER[0])
                .user("erin")
        },
        |d| {
            AuditEvent::new("GET /audit/")
                .date(d)
                .description(pinned::ARGER[1])
                .administrator("admin")
        },
        |d| {
            AuditEvent::new("POST /auth")
                .date(d)
                .description(pinned::ARGER[2])
                .success(false)
        },
        |d| {
            AuditEvent::new("POST /auth")
                .date(d)
                .description(pinned::ARGER[3])
        },
        |d| {
            AuditEvent::new("POST /token/init")
                .date(d)
                .description(pinned::ARGER[4])
                .realm("corp")
        },
        |d| {
            AuditEvent::new("POST /token/init")
                .date(d)
                .description(pinned::ARGER[5])
        },
        |d| {
            AuditEvent::new("GET /system/")
                .date(d)
                .description(pinned::LITERALS[0])
        },
        |d| {
            AuditEvent::new("GET /system/")
                .date(d)
                .description(pinned::LITERALS[1])
                .success(false)
        },
        |d| {
            AuditEvent::new("GET /system/")
                .date(d)
                .description(pinned::LITERALS[2])
        },
        |d| {
            AuditEvent::new("GET /system/")
                .date(d)
                .description(pinned::LITERALS[3])
        },
        |d| {
            AuditEvent::new("GET /system/")
                .date(d)
                .description(pinned::LITERALS[4])
        },
        |d| {
            AuditEvent::new("GET /system/")
                .date(d)
                .description(pinned::LITERALS[5])
        },
        |d| {
            AuditEvent::new("POST /auth")
                .date(d)
                .user(pinned::CASED_USERS[0])
        },
        |d| {
            AuditEvent::new("POST /auth")
                .date(d)
                .user(pinned::CASED_USERS[1])
        },
        |d| {
            AuditEvent::new("POST /auth")
                .date(d)
                .user(pinned::CASED_USERS[2])
        },
        |d| {
            AuditEvent::new("POST /auth")
                .date(d)
                .user(pinned::CASED_USERS[3])
                .success(false)
        },
        |d| {
            AuditEvent::new("POST /user/")
                .date(d)
                .description(pinned::FORMULAS[0])
                .user("=HYPERLINK(\"x\")")
        },
        |d| {
            AuditEvent::new("POST /user/")
                .date(d)
                .description(pinned::FORMULAS[1])
        },
        |d| {
            AuditEvent::new("POST /user/")
                .date(d)
                .description(pinned::FORMULAS[2])
        },
        |d| {
            AuditEvent::new("POST /user/")
                .date(d)
                .description(pinned::FORMULAS[3])
        },
        |d| {
            AuditEvent::new("POST /user/")
                .date(d)
                .description(pinned::FORMULAS[4])
        },
        |d| {
            AuditEvent::new("POST /user/")
                .date(d)
                .description(pinned::FORMULAS[5])
        },
        |d| {
            AuditEvent::new("GET /system/")
                .date(d)
                .description(pinned::FOLDING[0])
                .location("2001:db8::1")
        },
        |d| {
            AuditEvent::new("GET /system/")
                .date(d)
                .description(pinned::FOLDING[1])
        },
        |d| {
            AuditEvent::new("GET /system/")
                .date(d)
                .description(pinned::FOLDING[2])
        },
        |d| {
            AuditEvent::new("POST /user/".repeat(40))
                .date(d)
                .user("u".repeat(300))
                .description(format!("{}ü", "x".repeat(2_999)))
                .extra("k".repeat(100), "v".repeat(2_000))
        },
        |d| {
            AuditEvent::new("POST /validate/check")
                .date(d)
                .description("nul\0inside")
                .serial("NUL\0SERIAL")
        },
        |d| {
            AuditEvent::new("POST /validate/check")
                .date(d)
                .user("quote\"comma,newline\nuser")
                .description("line one\r\nline two")
        },
    ];
    // Every column populated at least once in one row too.
    rows.push(|d| {
        let mut event = AuditEvent::new("POST /validate/check")
            .date(d)
            .success(true)
            .start_date(d - TimeDelta::milliseconds(250))
            .duration(Duration::from_micros(250_000))
            .extra("ticket", "T-ALL")
            .extra("source", "kit");
        for column in crate::column::Column::TEXT {
            if event.text(*column).is_empty() {
                event = event.with_text(*column, format!("all-{}", column.name()));
            }
        }
        event
    });
    rows
}

fn random_event(rng: &mut Rng, i: usize, date: DateTime<Utc>) -> AuditEvent {
    let name = *rng.pick(EVENTS);
    let validate = name.contains("/validate/");
    let user = if rng.chance(70) {
        (*rng.pick(USERS)).to_owned()
    } else {
        format!("user{}", rng.below(40))
    };
    let realm = *rng.pick(REALMS);
    let mut event = AuditEvent::new(name)
        .date(date)
        .success(rng.chance(85))
        .user(&user)
        .realm(realm)
        .resolver(if realm.is_empty() {
            String::new()
        } else {
            format!("resolver_{realm}")
        })
        .description(*rng.pick(DESCRIPTIONS))
        .location(match rng.below(4) {
            0 => format!("10.0.{}.{}", rng.below(4), rng.below(255)),
            1 => format!("192.168.1.{}", rng.below(50)),
            2 => "::1".to_owned(),
            _ => String::new(),
        })
        .server(*rng.pick(&["pi-node1", "pi-node2", ""]))
        .log_level(*rng.pick(&["default", "default", "info", ""]))
        .clearance_level(*rng.pick(&["default", ""]))
        .thread_id(if rng.chance(60) {
            format!("1397000000{:05}", rng.below(8) * 1000)
        } else {
            String::new()
        })
        .user_agent(*rng.pick(AGENTS))
        .user_agent_version(*rng.pick(&["1.3.0", "8.5.0", "", ""]))
        .policies(*rng.pick(POLICIES));
    if validate {
        event = event
            .authentication(*rng.pick(&["ACCEPT", "ACCEPT", "REJECT", "CHALLENGE", "DECLINED"]))
            .serial(format!(
                "{}{:04X}",
                rng.pick(&["TOTP", "HOTP", "SMS", "PUSH"]),
                rng.below(64)
            ))
            .token_type(*rng.pick(TOKEN_TYPES));
    } else if rng.chance(60) {
        event = event
            .administrator(*rng.pick(&["admin", "helpdesk", "operator", "Admin", ""]))
            .role(*rng.pick(&["admin", "user", ""]))
            .action_detail(*rng.pick(&["", "tokentype=totp", "realm=corp", "serial=*"]));
    }
    if rng.chance(8) {
        event = event
            .container_serial(format!("SMPH{:04}", rng.below(30)))
            .container_type(*rng.pick(&["smartphone", "generic"]));
    }
    if rng.chance(70) {
        let micros = rng.below(2_000_000);
        event = event
            .duration(Duration::from_micros(micros))
            .start_date(date - TimeDelta::microseconds(i64::try_from(micros).unwrap_or(0)));
    }
    if rng.chance(20) {
        event = event
            .extra(
                "ticket",
                format!("{}-{}", rng.pick(&["T", "t"]), rng.below(20)),
            )
            .extra("source", *rng.pick(&["api", "ui", "Ärger-Kanal"]));
    }
    if i % 11 == 0 {
        // Values made of characters SQL treats specially must match literally.
        event = event.action_detail(*rng.pick(&["50%_off", "a*b", "c\\d", "%", "_"]));
    }
    event
}
