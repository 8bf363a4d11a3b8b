//! Value axes: round tick steps and number formatting.

/// Ticks for a value axis from zero to at least `max`: the axis end and the step, with at most
/// `max_ticks` steps of 1, 2, 2.5 or 5 times a power of ten (never below 1, as counts are
/// whole numbers).
pub(crate) fn ticks(max: f64, max_ticks: usize) -> (f64, f64) {
    let max_ticks = max_ticks.max(1) as f64;
    if !(max.is_finite() && max > 0.0) {
        return (1.0, 1.0);
    }
    let raw = (max / max_ticks).max(1.0);
    let magnitude = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        // 2.5 only where it is a whole number (from 25 on).
        .find(|step| *step >= raw && step.fract() == 0.0)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil() * step, step)
}

/// A short tick label: `950`, `1.5k`, `20M`, `18.4E`.
pub(crate) fn compact(value: f64) -> String {
    const UNITS: [&str; 7] = ["", "k", "M", "G", "T", "P", "E"];
    let mut scaled = value;
    let mut unit = 0;
    while scaled.abs() >= 1000.0 && unit < UNITS.len() - 1 {
        scaled /= 1000.0;
        unit += 1;
    }
    // One decimal, dropped when it is zero: 2.5k but 20k.
    let rounded = (scaled * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}{}", UNITS[unit])
    } else {
        format!("{rounded:.1}{}", UNITS[unit])
    }
}

/// A full count with thousands separators: `1,234,567`.
pub(crate) fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(ticks(1234.0, 5), (1250.0, 250.0));
        assert_eq!(ticks(12.0, 5), (15.0, 5.0));
        assert_eq!(ticks(7.0, 5), (8.0, 2.0));
        assert_eq!(ticks(1.0, 5), (1.0, 1.0));
        assert_eq!(ticks(0.0, 5), (1.0, 1.0));
        let (end, step) = ticks(u64::MAX as f64, 8);
        assert!(end >= u64::MAX as f64 && (end / step) <= 8.0);
    }

    #[test]
    fn compact_labels_use_si_suffixes() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(2500.0), "2.5k");
        assert_eq!(compact(20_000_000.0), "20M");
        assert_eq!(compact(u64::MAX as f64), "18.4E");
    }

    #[test]
    fn grouped_separates_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1234567), "1,234,567");
        assert_eq!(grouped(u64::MAX), "18,446,744,073,709,551,615");
    }
}
