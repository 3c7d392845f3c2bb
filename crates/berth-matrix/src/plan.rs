//! The matrix's dimensions as the command line gives them (`--kube 1.28..1.35`,
//! `--distribution generic,k3s`, `--airgap both`) and the list of cells they span. Pure.

use crate::MatrixError;
use serde::Serialize;

/// The Kubernetes distributions a cell can simulate.
pub const DISTRIBUTIONS: &[&str] = &["generic", "k3s", "rke2", "eks", "gke", "aks", "openshift"];

/// Oldest and newest minor the simulator's API catalog models faithfully.
const MINOR_RANGE: std::ops::RangeInclusive<u32> = 16..=40;

/// Whether cells install online, air-gapped, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AirgapMode {
    /// Images pulled from the vendor's registries.
    Online,
    /// Images from a signed bundle pushed into a registry only the cell's cluster reaches.
    Airgapped,
    /// Both, one cell each.
    Both,
}

impl AirgapMode {
    /// `online`, `airgapped` (or `true`), `both`.
    pub fn parse(s: &str) -> Result<AirgapMode, MatrixError> {
        match s.trim() {
            "online" | "false" | "no" => Ok(AirgapMode::Online),
            "airgapped" | "air-gapped" | "true" | "yes" => Ok(AirgapMode::Airgapped),
            "both" => Ok(AirgapMode::Both),
            other => Err(MatrixError::Input(format!(
                "--airgap {other:?}: expected online, airgapped or both"
            ))),
        }
    }

    fn values(self) -> &'static [bool] {
        match self {
            AirgapMode::Online => &[false],
            AirgapMode::Airgapped => &[true],
            AirgapMode::Both => &[false, true],
        }
    }
}

/// One cell: a Kubernetes minor version, a distribution, online or air-gapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// `1.NN`.
    pub kube: String,
    /// The minor number (`NN`).
    pub minor: u32,
    /// One of [`DISTRIBUTIONS`].
    pub distribution: String,
    /// Installed from a bundle into a private registry.
    pub airgapped: bool,
}

impl Cell {
    /// A stable identifier usable in file names and URLs: `1.32-k3s-airgapped`.
    pub fn id(&self) -> String {
        format!(
            "{}-{}-{}",
            self.kube,
            self.distribution,
            if self.airgapped {
                "airgapped"
            } else {
                "online"
            }
        )
    }
}

/// Parse `1.28..1.35` (inclusive), `1.30`, or a list `1.28,1.31,1.35` into minors.
pub fn parse_kube(spec: &str) -> Result<Vec<u32>, MatrixError> {
    let bad = |why: &str| {
        MatrixError::Input(format!(
            "--kube {spec:?}: {why}; write a range such as 1.28..1.35 or a list such as 1.30,1.32"
        ))
    };
    let minor = |s: &str| -> Result<u32, MatrixError> {
        let s = s.trim().trim_start_matches('v');
        let rest = s
            .strip_prefix("1.")
            .ok_or_else(|| bad(&format!("{s:?} is not a 1.NN version")))?;
        let n: u32 = rest
            .split('.')
            .next()
            .unwrap_or("")
            .parse()
            .map_err(|_| bad(&format!("{s:?} is not a 1.NN version")))?;
        if !MINOR_RANGE.contains(&n) {
            return Err(bad(&format!(
                "1.{n} is outside the simulated versions 1.{}..1.{}",
                MINOR_RANGE.start(),
                MINOR_RANGE.end()
            )));
        }
        Ok(n)
    };
    let mut out = Vec::new();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        if let Some((a, b)) = part.split_once("..") {
            let (a, b) = (minor(a)?, minor(b)?);
            if a > b {
                return Err(bad("the range goes backwards"));
            }
            out.extend(a..=b);
        } else {
            out.push(minor(part)?);
        }
    }
    if out.is_empty() {
        return Err(bad("no version given"));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Parse `generic,k3s,...`, refusing unknown names.
pub fn parse_distributions(spec: &str) -> Result<Vec<String>, MatrixError> {
    let mut out: Vec<String> = Vec::new();
    for d in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let d = if d == "vanilla" || d == "default" {
            "generic"
        } else {
            d
        };
        if !DISTRIBUTIONS.contains(&d) {
            return Err(MatrixError::Input(format!(
                "--distribution {d:?} is not simulated; choose from {}",
                DISTRIBUTIONS.join(", ")
            )));
        }
        if !out.iter().any(|x| x == d) {
            out.push(d.to_string());
        }
    }
    if out.is_empty() {
        return Err(MatrixError::Input(
            "--distribution names no distribution; e.g. generic,k3s,openshift".into(),
        ));
    }
    Ok(out)
}

/// Every cell, ordered by version, then distribution, then online before air-gapped.
pub fn cells(minors: &[u32], distributions: &[String], airgap: AirgapMode) -> Vec<Cell> {
    let mut out = Vec::new();
    for &minor in minors {
        for d in distributions {
            for &airgapped in airgap.values() {
                out.push(Cell {
                    kube: format!("1.{minor}"),
                    minor,
                    distribution: d.clone(),
                    airgapped,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_lists_and_errors() {
        assert_eq!(
            parse_kube("1.28..1.35").expect("range"),
            (28..=35).collect::<Vec<_>>()
        );
        assert_eq!(parse_kube("1.32,1.30,v1.30.2").expect("list"), vec![30, 32]);
        let e = parse_kube("1.35..1.28").expect_err("backwards");
        assert!(e.to_string().contains("backwards"), "{e}");
        let e = parse_kube("2.1").expect_err("major");
        assert!(e.to_string().contains("not a 1.NN"), "{e}");
        let e = parse_kube("1.99").expect_err("outside");
        assert!(e.to_string().contains("outside"), "{e}");
    }

    #[test]
    fn distributions_are_checked() {
        assert_eq!(
            parse_distributions("generic, k3s,k3s,vanilla").expect("ok"),
            vec!["generic", "k3s"]
        );
        let e = parse_distributions("minikube").expect_err("unknown");
        assert!(e.to_string().contains("openshift"), "{e}");
    }

    #[test]
    fn forty_eight_cells() {
        let c = cells(
            &parse_kube("1.28..1.35").expect("range"),
            &parse_distributions("generic,k3s,rke2").expect("d"),
            AirgapMode::parse("both").expect("both"),
        );
        assert_eq!(c.len(), 48);
        assert_eq!(c[0].id(), "1.28-generic-online");
        assert_eq!(c[1].id(), "1.28-generic-airgapped");
        assert_eq!(c[47].id(), "1.35-rke2-airgapped");
        assert!(AirgapMode::parse("sometimes").is_err());
    }
}
