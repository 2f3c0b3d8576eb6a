//! Numbers for people, the same in the terminal and in every report.

/// A duration: `812 ns`, `1.52 µs`, `3.40 ms`, `2.31 s`.
pub fn duration(ns: f64) -> String {
    match ns {
        n if n < 1e3 => format!("{n:.0} ns"),
        n if n < 1e6 => format!("{:.2} µs", n / 1e3),
        n if n < 1e9 => format!("{:.2} ms", n / 1e6),
        n => format!("{:.2} s", n / 1e9),
    }
}

/// A size in binary units: `512 B`, `3.0 MiB`.
pub fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = b as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{b} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A share as a percentage with one decimal: `12.5%`.
pub fn percent(share: f64) -> String {
    format!("{:.1}%", 100.0 * share)
}

/// A value to three significant digits (no exponent): `0.125`, `3.97`, `0.00170`, `412`.
///
/// ```
/// use parbench_reports::format::significant;
/// assert_eq!(significant(0.12546), "0.125");
/// assert_eq!(significant(3.971), "3.97");
/// assert_eq!(significant(0.0017), "0.00170");
/// assert_eq!(significant(412.3), "412");
/// ```
pub fn significant(value: f64) -> String {
    let digits = if value > 0.0 {
        (2 - value.abs().log10().floor() as i32).clamp(0, 6) as usize
    } else {
        0
    };
    format!("{value:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_read_naturally() {
        assert_eq!(duration(812.0), "812 ns");
        assert_eq!(duration(1_520.0), "1.52 µs");
        assert_eq!(duration(3_404_000.0), "3.40 ms");
        assert_eq!(duration(2_310_000_000.0), "2.31 s");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
        assert_eq!(percent(0.125), "12.5%");
    }
}
