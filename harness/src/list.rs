//! `parbench list`: every workload and strategy, with its parameters.

use std::fmt::Write as _;

use parbench_workloads::{ParamKind, ParamSpec};

use crate::plugins::Plugins;

fn params(out: &mut String, params: &[ParamSpec]) {
    for p in params {
        let default = match p.kind.default_value().to_string() {
            empty if empty.is_empty() => "none".to_owned(),
            default => default,
        };
        let valid = match p.kind {
            ParamKind::Choice { .. } | ParamKind::Text { .. } | ParamKind::IntOrAuto { .. } => {
                p.kind.valid()
            }
            _ => format!("in {}", p.kind.valid()),
        };
        let _ = writeln!(
            out,
            "      {:<14} {} (default {default}; {valid})",
            p.name, p.help
        );
    }
}

/// The listing, as printed.
pub fn render(plugins: &Plugins) -> String {
    let mut out = String::from("workloads:\n");
    for w in plugins.workloads.iter() {
        let _ = writeln!(
            out,
            "  {:<12} {} [{}; default size {}]",
            w.name, w.description, w.kind, w.default_size
        );
        params(&mut out, w.params);
    }
    out.push_str("\nstrategies:\n");
    for s in plugins.strategies.iter() {
        let _ = writeln!(out, "  {:<12} {}", s.name, s.description);
        params(&mut out, s.params);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_workload_strategy_and_parameter() {
        let text = render(&Plugins::default());
        for name in [
            "square",
            "resize",
            "json",
            "http",
            "risky",
            "spin",
            "sequential",
        ] {
            assert!(
                text.contains(&format!("  {name:<12} ")),
                "{name} missing:\n{text}"
            );
        }
        assert!(text.contains(
            "      latency_ms     server-side wait per request, in milliseconds (tokio's timer \
             resolution is 1 ms) (default 1; in 0..=60000)"
        ), "{text}");
        assert!(text.contains("(default lanczos3; lanczos3 | catmull-rom | triangle | nearest)"));
    }
}
