//! The matrix's dimensions as the command line gives them (`--kube 1.28..1.35`,
//! `--distribution generic,k3s`, `--airgap both`, `--ingress nginx,gateway-api`) and the list
//! of cells they span. Pure.

use crate::MatrixError;
use serde::Serialize;
use std::collections::BTreeMap;

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
    /// The ingress flavour the cell's cluster offers (`--ingress`); `None`: the
    /// distribution's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingress: Option<String>,
    /// A real cluster reached through this kubeconfig (`--kubeconfig`) instead of a fresh
    /// simulator: the cell runs online, in a throwaway namespace removed afterwards; its
    /// `kube`/`minor` are the server's once connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<std::path::PathBuf>,
}

impl Cell {
    /// A stable identifier usable in file names and URLs: `1.32-k3s-airgapped`.
    pub fn id(&self) -> String {
        let mut id = format!(
            "{}-{}-{}",
            self.kube,
            self.distribution,
            if self.airgapped {
                "airgapped"
            } else {
                "online"
            }
        );
        if let Some(i) = &self.ingress {
            id.push('-');
            id.push_str(i);
        }
        id
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

/// The ingress flavours a cell can offer: every flavour berth generates for, except the
/// plain `ingress` (no controller to simulate).
pub fn ingress_flavours() -> Vec<&'static str> {
    berth_render::expose::Flavour::names()
        .filter(|n| *n != "ingress")
        .collect()
}

/// Parse `nginx,traefik,gateway-api,...`, refusing unknown names.
pub fn parse_ingress(spec: &str) -> Result<Vec<String>, MatrixError> {
    let known = ingress_flavours();
    let mut out: Vec<String> = Vec::new();
    for i in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        if !known.contains(&i) {
            return Err(MatrixError::Input(format!(
                "--ingress {i:?} is not a flavour berth generates for; choose from {}",
                known.join(", ")
            )));
        }
        if !out.iter().any(|x| x == i) {
            out.push(i.to_string());
        }
    }
    if out.is_empty() {
        return Err(MatrixError::Input(
            "--ingress names no flavour; e.g. nginx,traefik,gateway-api,openshift-route".into(),
        ));
    }
    Ok(out)
}

/// The resources a `--namespace-quota` may limit: those the simulator's quota admission
/// counts (docs/formats/sim-profile.md §13).
pub const QUOTA_RESOURCES: [&str; 7] = [
    "pods",
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// Parse `limits.cpu=2,limits.memory=2Gi,pods=10` into a ResourceQuota's `spec.hard`.
pub fn parse_quota(spec: &str) -> Result<BTreeMap<String, String>, MatrixError> {
    let mut hard = BTreeMap::new();
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((name, value)) = item.split_once('=') else {
            return Err(MatrixError::Input(format!(
                "{item:?}: expected RESOURCE=QUANTITY, e.g. limits.cpu=2"
            )));
        };
        let (name, value) = (name.trim(), value.trim());
        if !QUOTA_RESOURCES.contains(&name) {
            return Err(MatrixError::Input(format!(
                "{name:?} is not a resource the quota can limit here; choose from {}",
                QUOTA_RESOURCES.join(", ")
            )));
        }
        if !is_quantity(value) {
            return Err(MatrixError::Input(format!(
                "{name}={value:?}: not a Kubernetes quantity (e.g. 2, 500m, 2Gi)"
            )));
        }
        hard.insert(name.to_string(), value.to_string());
    }
    if hard.is_empty() {
        return Err(MatrixError::Input(
            "names no resource; e.g. limits.cpu=2,limits.memory=2Gi".into(),
        ));
    }
    Ok(hard)
}

/// Parse `ingress` or `ingress,egress` (any case) into the `policyTypes` of the default-deny
/// NetworkPolicy every new namespace gets (sorted, each once).
pub fn parse_default_deny(spec: &str) -> Result<Vec<String>, MatrixError> {
    let mut types = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let t = match item.to_ascii_lowercase().as_str() {
            "ingress" => "Ingress",
            "egress" => "Egress",
            _ => {
                return Err(MatrixError::Input(format!(
                    "{item:?}: expected ingress or ingress,egress"
                )));
            }
        };
        if !types.contains(&t) {
            types.push(t);
        }
    }
    if types.is_empty() {
        return Err(MatrixError::Input(
            "names no direction; expected ingress or ingress,egress".into(),
        ));
    }
    types.sort();
    Ok(types.into_iter().map(String::from).collect())
}

/// A plain decimal with an optional suffix (`m`, `k`, `M`, `G`, `T`, `Ki`, `Mi`, `Gi`, `Ti`).
fn is_quantity(v: &str) -> bool {
    let digits_end = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (num, suffix) = v.split_at(digits_end);
    !num.is_empty()
        && num.parse::<f64>().is_ok()
        && matches!(
            suffix,
            "" | "m" | "k" | "M" | "G" | "T" | "Ki" | "Mi" | "Gi" | "Ti"
        )
}

/// Whether a distribution can run a flavour's controller: the cloud load balancers only on
/// their cloud, Routes only on OpenShift (whose Routes berth prefers to anything else there).
pub fn ingress_fits(ingress: &str, distribution: &str) -> bool {
    let only = match ingress {
        "alb" => "eks",
        "gce" => "gke",
        "azure-application-gateway" | "aks-app-routing" => "aks",
        "openshift-route" => "openshift",
        _ => return distribution != "openshift",
    };
    only == distribution
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
                    ingress: None,
                    kubeconfig: None,
                });
            }
        }
    }
    out
}

/// The column of a real cluster (`--kubeconfig FILE`): online only (its nodes cannot reach
/// the cell's in-process registry), distribution `kubeconfig-<file stem>`; the version is
/// read from the server when the cell runs.
pub fn live_cell(kubeconfig: &std::path::Path) -> Result<Cell, MatrixError> {
    if !kubeconfig.is_file() {
        return Err(MatrixError::Input(format!(
            "--kubeconfig {}: no such file; give the kubeconfig of the cluster to add as a column",
            kubeconfig.display()
        )));
    }
    let stem: String = kubeconfig
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    Ok(Cell {
        kube: "live".into(),
        minor: 0,
        distribution: format!("kubeconfig-{}", stem.trim_matches('-')),
        airgapped: false,
        ingress: None,
        kubeconfig: Some(kubeconfig.to_path_buf()),
    })
}

/// [`cells`] times the ingress flavours (none given: [`cells`]); a flavour is paired only
/// with the distributions it [fits](ingress_fits). Refuses a plan left with no cell.
pub fn cells_with_ingress(
    minors: &[u32],
    distributions: &[String],
    airgap: AirgapMode,
    ingresses: &[String],
) -> Result<Vec<Cell>, MatrixError> {
    let base = cells(minors, distributions, airgap);
    if ingresses.is_empty() {
        return Ok(base);
    }
    let out: Vec<Cell> = base
        .into_iter()
        .flat_map(|c| {
            ingresses
                .iter()
                .filter(|i| ingress_fits(i, &c.distribution))
                .map(|i| Cell {
                    ingress: Some(i.clone()),
                    ..c.clone()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if out.is_empty() {
        return Err(MatrixError::Input(format!(
            "no cell: --ingress {} fits none of --distribution {} (alb runs on eks, gce on gke, azure-application-gateway and aks-app-routing on aks, openshift-route on openshift, the others anywhere but openshift)",
            ingresses.join(","),
            distributions.join(",")
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_parse_and_bad_ones_name_the_fix() {
        let q = parse_quota("limits.cpu=2, limits.memory=2Gi,pods=10").expect("quota");
        assert_eq!(q["limits.cpu"], "2");
        assert_eq!(q["limits.memory"], "2Gi");
        assert_eq!(q["pods"], "10");
        let e = parse_quota("limits.gpu=1").expect_err("resource");
        assert!(e.to_string().contains("choose from pods, cpu"), "{e}");
        let e = parse_quota("cpu=two").expect_err("quantity");
        assert!(e.to_string().contains("not a Kubernetes quantity"), "{e}");
        let e = parse_quota("cpu").expect_err("shape");
        assert!(e.to_string().contains("RESOURCE=QUANTITY"), "{e}");
        assert!(parse_quota(" , ").is_err());
    }

    #[test]
    fn default_deny_directions_parse_and_bad_ones_name_the_choices() {
        assert_eq!(parse_default_deny("ingress").expect("ok"), ["Ingress"]);
        assert_eq!(
            parse_default_deny("Egress, ingress").expect("ok"),
            ["Egress", "Ingress"]
        );
        let e = parse_default_deny("ingress,dns").expect_err("direction");
        assert!(
            e.to_string().contains("expected ingress or ingress,egress"),
            "{e}"
        );
        assert!(parse_default_deny(",").is_err());
    }

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

    #[test]
    fn ingress_flavours_pair_with_the_distributions_that_run_them() {
        let i = parse_ingress("nginx,traefik,gateway-api,openshift-route").expect("ingress");
        let c = cells_with_ingress(
            &[32],
            &parse_distributions("generic,openshift").expect("d"),
            AirgapMode::Online,
            &i,
        )
        .expect("cells");
        let ids: Vec<String> = c.iter().map(Cell::id).collect();
        assert_eq!(
            ids,
            vec![
                "1.32-generic-online-nginx",
                "1.32-generic-online-traefik",
                "1.32-generic-online-gateway-api",
                "1.32-openshift-online-openshift-route",
            ]
        );
        let e = parse_ingress("treafik").expect_err("unknown");
        assert!(e.to_string().contains("traefik"), "{e}");
        let e = cells_with_ingress(
            &[32],
            &["generic".into()],
            AirgapMode::Online,
            &["alb".into()],
        )
        .expect_err("alb off EKS");
        assert!(e.to_string().contains("alb runs on eks"), "{e}");
        // Without --ingress the plan is unchanged.
        assert_eq!(
            cells_with_ingress(&[32], &["generic".into()], AirgapMode::Both, &[]).expect("plain"),
            cells(&[32], &["generic".into()], AirgapMode::Both)
        );
    }
}
