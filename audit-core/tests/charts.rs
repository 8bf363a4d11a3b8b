#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test may panic
//! Charts render well-formed SVG and real, non-blank PNGs for any input.

use std::collections::HashSet;
use std::io::Cursor;

use audit_core::chart::{
    Bar, BarChart, Chart, ChartSize, MAX_BARS, NO_ENTRIES, StackedBar, StackedBarChart, TimeAxis,
    TimelineChart, TimelinePoint,
};
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};

/// The plain bar colour, the success green and the failure vermilion.
const BAR: [u8; 3] = [0x3b, 0x6e, 0xa8];
const SUCCESS: [u8; 3] = [0x00, 0x9e, 0x73];
const FAILURE: [u8; 3] = [0xd5, 0x5e, 0x00];

/// A decoded PNG: width, height and its RGB pixels.
struct Picture {
    width: u32,
    height: u32,
    pixels: Vec<[u8; 3]>,
}

impl Picture {
    fn colours(&self) -> HashSet<[u8; 3]> {
        self.pixels.iter().copied().collect()
    }

    fn has(&self, colour: [u8; 3]) -> bool {
        self.pixels.contains(&colour)
    }

    /// Whether any pixel in the rows `top..bottom` is not white.
    fn inked(&self, top: u32, bottom: u32) -> bool {
        let width = self.width as usize;
        self.pixels[top as usize * width..bottom as usize * width]
            .iter()
            .any(|pixel| *pixel != [0xff; 3])
    }
}

fn decode(bytes: &[u8]) -> Picture {
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = buffer[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    Picture {
        width: info.width,
        height: info.height,
        pixels,
    }
}

/// Every `<text>` of an SVG, unescaped, after proving the document well-formed.
fn texts(svg: &str) -> Vec<String> {
    let document = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    document
        .descendants()
        .filter(|node| node.has_tag_name("text"))
        .map(|node| node.text().unwrap_or_default().to_owned())
        .collect()
}

/// The names of all elements of an SVG.
fn elements(svg: &str) -> HashSet<String> {
    let document = roxmltree::Document::parse(svg).unwrap();
    document
        .descendants()
        .filter(|node| node.is_element())
        .map(|node| node.tag_name().name().to_owned())
        .collect()
}

fn top_users() -> BarChart {
    BarChart::new(
        "Top users",
        "entries",
        vec![
            Bar::new("user17", 48_213),
            Bar::new("Jürgen", 19_045),
            Bar::new("用户", 7_912),
            Bar::new("Ærø", 4_100),
            Bar::new("helpdesk", 2_350),
        ],
    )
}

fn outcomes() -> StackedBarChart {
    StackedBarChart::new(
        "Outcome by event",
        "entries",
        vec![
            StackedBar::new("POST /validate/check", 120_455, 3_912),
            StackedBar::new("GET /token/", 48_120, 120),
            StackedBar::new("POST /auth", 31_200, 5_870),
        ],
    )
}

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 6, 0, 0, 0).unwrap() + Duration::days(n)
}

fn daily(days: i64) -> TimelineChart {
    let points = (0..days)
        .map(|i| TimelinePoint::new(day(i), 4_000 + (i as u64 * 37) % 900, 50 + i as u64 % 40))
        .collect();
    TimelineChart::new("Entries per day", "entries", TimeAxis::Day, points)
}

#[test]
fn bar_chart_png_has_the_requested_size_text_and_bar_colour() {
    let picture = decode(&top_users().to_png().unwrap());
    assert_eq!((picture.width, picture.height), (800, 400));
    assert!(picture.has(BAR));
    // Anti-aliased text brings many shades; a blank or one-colour picture has one or two.
    assert!(picture.colours().len() > 20, "{}", picture.colours().len());
    assert!(picture.inked(0, 40), "the title is drawn");
}

#[test]
fn bar_chart_svg_holds_the_title_caption_labels_and_values() {
    let texts = texts(&top_users().to_svg());
    for expected in [
        "Top users",
        "entries",
        "user17",
        "Jürgen",
        "用户",
        "Ærø",
        "48,213",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected} in {texts:?}"
        );
    }
}

#[test]
fn stacked_chart_draws_successes_failures_and_a_legend() {
    let chart = outcomes();
    let picture = decode(&chart.to_png().unwrap());
    assert!(picture.has(SUCCESS) && picture.has(FAILURE));
    assert!(!picture.has(BAR));
    let texts = texts(&chart.to_svg());
    for expected in [
        "Outcome by event",
        "success",
        "failure",
        "POST /validate/check",
    ] {
        assert!(
            texts.iter().any(|t| t == expected),
            "{expected} in {texts:?}"
        );
    }
    assert!(
        texts.iter().any(|t| t == "124,367"),
        "the total ends the bar"
    );
}

#[test]
fn timeline_of_ninety_days_has_both_colours_and_a_sparse_time_axis() {
    let chart = daily(90);
    let picture = decode(&chart.to_png().unwrap());
    assert!(picture.has(SUCCESS) && picture.has(FAILURE));
    let svg = chart.to_svg();
    let texts = texts(&svg);
    assert!(texts.iter().any(|t| t == "6 Jan"), "{texts:?}");
    assert!(texts.iter().any(|t| t == "2025"), "the year is given once");
    let dates: Vec<&String> = texts
        .iter()
        .filter(|t| t.ends_with("Jan") || t.ends_with("Feb") || t.ends_with("Mar"))
        .collect();
    assert!(
        (5..=20).contains(&dates.len()),
        "not every day is labelled: {dates:?}"
    );
}

#[test]
fn time_labels_never_overlap() {
    for (axis, step, count) in [
        (TimeAxis::Minute, Duration::minutes(1), 600),
        (TimeAxis::Hour, Duration::hours(1), 72),
        (TimeAxis::Day, Duration::days(1), 400),
        (TimeAxis::Week, Duration::weeks(1), 150),
    ] {
        let points = (0..count)
            .map(|i| TimelinePoint::new(day(0) + step * i, 10, 1))
            .collect();
        let chart = TimelineChart::new("t", "entries", axis, points);
        let svg = chart.to_svg();
        let document = roxmltree::Document::parse(&svg).unwrap();
        // Time labels are the middle-anchored texts on the first line under the axis.
        let baseline = (400 - 42 + 17).to_string();
        let mut xs: Vec<f32> = document
            .descendants()
            .filter(|n| n.has_tag_name("text") && n.attribute("y") == Some(baseline.as_str()))
            .map(|n| n.attribute("x").unwrap().parse().unwrap())
            .collect();
        xs.sort_by(f32::total_cmp);
        assert!(xs.len() >= 3, "{axis:?}: {xs:?}");
        assert!(
            xs.windows(2).all(|w| w[1] - w[0] >= 40.0),
            "{axis:?}: labels too close: {xs:?}"
        );
    }
}

#[test]
fn markup_in_labels_is_escaped_and_comes_back_as_text() {
    let nasty = r#"<script>alert("x")</script> & 'quotes'"#;
    let chart = BarChart::new(nasty, "a < b & c", vec![Bar::new(nasty, 3)]);
    let svg = chart.to_svg();
    assert!(!elements(&svg).contains("script"));
    let texts = texts(&svg);
    assert!(
        texts.iter().filter(|t| *t == nasty).count() >= 2,
        "{texts:?}"
    );
    assert!(texts.iter().any(|t| t == "a < b & c"));
    let document = roxmltree::Document::parse(&svg).unwrap();
    let title = document
        .descendants()
        .find(|n| n.has_tag_name("title"))
        .unwrap();
    assert_eq!(title.text(), Some(nasty));
}

#[test]
fn control_characters_in_labels_keep_the_svg_well_formed() {
    let chart = StackedBarChart::new(
        "line\nbreak\0nul\u{1b}esc\u{FFFF}",
        "",
        vec![StackedBar::new("tab\there\u{7}", 1, 1)],
    );
    let texts = texts(&chart.to_svg());
    assert!(
        texts.iter().any(|t| t.starts_with("line break")),
        "{texts:?}"
    );
    decode(&chart.to_png().unwrap());
}

#[test]
fn long_labels_are_shortened_with_an_ellipsis() {
    let long = format!("POST /validate/check?{}", "serial=TOTP0001&".repeat(40));
    let chart = StackedBarChart::new(long.clone(), "entries", vec![StackedBar::new(&long, 5, 1)]);
    let texts = texts(&chart.to_svg());
    let shortened: Vec<&String> = texts.iter().filter(|t| t.ends_with('…')).collect();
    assert_eq!(shortened.len(), 2, "title and label: {texts:?}");
    for text in shortened {
        let kept = text.trim_end_matches('…');
        assert!(kept.len() > 10 && long.starts_with(kept), "{text}");
    }
    assert!(!texts.contains(&long));
}

#[test]
fn long_non_ascii_labels_are_cut_between_characters() {
    let long = "用户Jürgen Ærø ".repeat(30);
    let chart = BarChart::new("t", "entries", vec![Bar::new(&long, 5)]);
    let label = texts(&chart.to_svg())
        .into_iter()
        .find(|t| t.ends_with('…'))
        .unwrap();
    assert!(long.starts_with(label.trim_end_matches('…')));
}

#[test]
fn empty_inputs_render_a_no_entries_chart() {
    let charts: Vec<Chart> = vec![
        BarChart::new("Top users", "entries", vec![]).into(),
        BarChart::new(
            "Top users",
            "entries",
            vec![Bar::new("a", 0), Bar::new("b", 0)],
        )
        .into(),
        StackedBarChart::new("Outcome", "entries", vec![]).into(),
        StackedBarChart::new("Outcome", "entries", vec![StackedBar::new("a", 0, 0)]).into(),
        TimelineChart::new("Timeline", "entries", TimeAxis::Hour, vec![]).into(),
        TimelineChart::new(
            "Timeline",
            "entries",
            TimeAxis::Day,
            vec![TimelinePoint::new(day(0), 0, 0)],
        )
        .into(),
    ];
    for chart in charts {
        let texts = texts(&chart.to_svg());
        assert!(texts.iter().any(|t| t == NO_ENTRIES), "{texts:?}");
        assert!(texts.iter().any(|t| t == chart.title()));
        let picture = decode(&chart.to_png().unwrap());
        assert!(picture.inked(150, 250), "the message is drawn");
        assert!(!picture.has(BAR) && !picture.has(SUCCESS));
    }
}

#[test]
fn a_chart_with_entries_does_not_say_no_entries() {
    let texts = texts(&daily(3).to_svg());
    assert!(!texts.iter().any(|t| t == NO_ENTRIES));
}

#[test]
fn data_uri_is_the_png_in_base64() {
    let chart = Chart::from(outcomes());
    let uri = chart.to_data_uri().unwrap();
    let encoded = uri.strip_prefix("data:image/png;base64,").unwrap();
    let png = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(png, chart.to_png().unwrap());
    assert_eq!(decode(&png).width, 800);
}

#[test]
fn size_is_configurable_and_clamped() {
    let chart = Chart::from(top_users()).with_size(ChartSize::new(640, 360));
    assert_eq!(decode(&chart.to_png().unwrap()).width, 640);
    assert!(chart.to_svg().contains(r#"width="640" height="360""#));

    let tiny = daily(10).with_size(ChartSize::new(0, 0));
    let picture = decode(&tiny.to_png().unwrap());
    assert_eq!((picture.width, picture.height), ChartSize::MIN);
    assert_eq!(ChartSize::new(u32::MAX, 10).width(), ChartSize::MAX.0);
}

#[test]
fn only_the_first_bars_are_drawn_and_a_note_says_so() {
    let bars = (0..5_000)
        .map(|i| Bar::new(format!("user{i}"), 5_000 - i))
        .collect();
    let chart = BarChart::new("Top users", "entries", bars);
    let texts = texts(&chart.to_svg());
    assert!(texts.iter().any(|t| t == "user0"));
    assert!(!texts.iter().any(|t| t == "user4999"));
    let drawn = texts.iter().filter(|t| t.starts_with("user")).count();
    assert!((3..=MAX_BARS).contains(&drawn), "{drawn}");
    let note = format!("first {drawn} of 5,000");
    assert!(texts.contains(&note), "{texts:?}");
    assert!(decode(&chart.to_png().unwrap()).has(BAR));
}

#[test]
fn huge_counts_scale_without_overflow() {
    let chart = StackedBarChart::new(
        "Huge",
        "entries",
        vec![
            StackedBar::new("max", u64::MAX, u64::MAX),
            StackedBar::new("one", 1, 0),
        ],
    );
    let picture = decode(&chart.to_png().unwrap());
    assert!(picture.has(SUCCESS) && picture.has(FAILURE));
    let texts = texts(&chart.to_svg());
    assert!(texts.iter().any(|t| t.ends_with('E')), "{texts:?}");

    let points = (0..10)
        .map(|i| TimelinePoint::new(day(i), u64::MAX, u64::MAX))
        .collect();
    let timeline = TimelineChart::new("Huge", "entries", TimeAxis::Day, points);
    assert!(decode(&timeline.to_png().unwrap()).has(FAILURE));
}

#[test]
fn thousands_of_scattered_points_are_added_up_into_columns() {
    // Out of order, duplicated, and spread over millennia at minute resolution.
    let mut points: Vec<TimelinePoint> = (0..20_000_i64)
        .map(|i| TimelinePoint::new(day(0) + Duration::minutes((i * 7_919) % 20_011), 3, 1))
        .collect();
    points.push(TimelinePoint::new(DateTime::<Utc>::MIN_UTC, 1, 0));
    points.push(TimelinePoint::new(DateTime::<Utc>::MAX_UTC, 0, 1));
    let chart = TimelineChart::new("Scattered", "entries", TimeAxis::Minute, points);
    let svg = chart.to_svg();
    let rects = roxmltree::Document::parse(&svg)
        .unwrap()
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .count();
    assert!(rects < 800, "{rects} rectangles");
    decode(&chart.to_png().unwrap());
}

#[test]
fn single_points_and_same_time_points_render() {
    for points in [
        vec![TimelinePoint::new(day(3), 5, 2)],
        vec![
            TimelinePoint::new(day(3), 5, 2),
            TimelinePoint::new(day(3), 1, 1),
        ],
    ] {
        let chart = TimelineChart::new("One", "entries", TimeAxis::Week, points);
        let texts = texts(&chart.to_svg());
        assert!(texts.iter().any(|t| t.contains("Jan")), "{texts:?}");
        assert!(decode(&chart.to_png().unwrap()).has(SUCCESS));
    }
}

#[test]
fn every_kind_renders_through_the_chart_enum() {
    let charts: [Chart; 3] = [top_users().into(), outcomes().into(), daily(90).into()];
    for chart in &charts {
        assert_eq!(chart.size(), ChartSize::default());
        assert!(texts(&chart.to_svg()).iter().any(|t| t == chart.title()));
        assert!(decode(&chart.to_png().unwrap()).colours().len() > 20);
    }
}
