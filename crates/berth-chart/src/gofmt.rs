//! Go's `%v` / `strconv.FormatFloat(f, 'g', -1, 64)` formatting of float64, which
//! Helm uses wherever a number read from YAML turns into text (map keys,
//! `appVersion: 1.10`, `--set` echo). The formatting itself is berth-template's.

/// Formats `f` as Go's `%v` does: shortest round-trip digits, exponent form when
/// the decimal exponent is below -4 or at least 6; zero (also -0) is `0`.
pub(crate) fn format_float_g(f: f64) -> String {
    if f == 0.0 {
        return "0".to_owned();
    }
    berth_template::gofmt::format_g(f, None, false)
}

#[cfg(test)]
mod tests {
    use super::format_float_g as g;

    #[test]
    fn matches_go_v_formatting() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (123456.0, "123456"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1e20, "1e+20"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (2e7, "2e+07"),
            (-0.0, "0"),
            (12345678901.0, "1.2345678901e+10"),
            (1.1, "1.1"),
            (-2.5, "-2.5"),
        ];
        for (f, want) in cases {
            assert_eq!(g(f), want, "{f}");
        }
    }
}
