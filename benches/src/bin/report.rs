//! Prints the tables of `benches/README.md` from criterion results
//! (`<dir>/<group>/<id>/new/estimates.json`, median point estimates):
//! `cargo run -p tollgate-benches --bin report [-- <criterion dir>...]` (default
//! `target/criterion`). Given several directories (one per run, as `benches/bench.sh` keeps
//! them), each figure is the lowest median across the runs: on a shared machine, other load only
//! ever makes a run slower.

use serde_json::Value;
use std::path::{Path, PathBuf};

const ALGS: [&str; 6] = ["HS256", "RS256", "PS256", "ES256", "ES384", "EdDSA"];
const DEPLOYMENTS: [&str; 4] = [
    "project-oidc",
    "workspace-api",
    "service-accounts",
    "tenant-path",
];

/// One benchmark's median in one run, in nanoseconds.
fn run_median(root: &Path, group: &str, id: &str) -> Option<f64> {
    let path = root
        .join(group.replace('/', "_"))
        .join(id)
        .join("new/estimates.json");
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

/// One benchmark's lowest median across the runs, in nanoseconds.
fn median(roots: &[PathBuf], group: &str, id: &str) -> Option<f64> {
    roots
        .iter()
        .filter_map(|r| run_median(r, group, id))
        .min_by(f64::total_cmp)
}

fn time(ns: Option<f64>) -> String {
    match ns {
        None => "–".to_owned(),
        Some(ns) if ns >= 100_000.0 => format!("{:.0} µs", ns / 1000.0),
        Some(ns) if ns >= 10_000.0 => format!("{:.1} µs", ns / 1000.0),
        Some(ns) if ns >= 1000.0 => format!("{:.2} µs", ns / 1000.0),
        Some(ns) => format!("{ns:.0} ns"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}", a / b),
        _ => "–".to_owned(),
    }
}

fn verify(root: &[PathBuf]) {
    let ids = [
        "tollgate",
        "tollgate_aws_lc",
        "tollgate_cached",
        "ring_floor",
        "ring_floor_json",
        "jsonwebtoken_aws_lc_rs",
        "jsonwebtoken_rust_crypto",
        "jwt_simple",
    ];
    println!("### verify: median times\n");
    println!("| alg | {} |", ids.join(" | "));
    println!("|---|{}", "---:|".repeat(ids.len()));
    for alg in ALGS {
        let group = format!("verify/{alg}");
        let cells: Vec<String> = ids
            .iter()
            .map(|id| time(median(root, &group, id)))
            .collect();
        println!("| {alg} | {} |", cells.join(" | "));
    }
    println!("\n### verify: ratios (time ÷ time; below 1.00 means the left side is faster)\n");
    println!(
        "| alg | tollgate ÷ ring_floor | tollgate ÷ ring_floor_json | tollgate ÷ tollgate_cached | \
         tollgate ÷ jsonwebtoken_aws_lc_rs | tollgate ÷ jsonwebtoken_rust_crypto | \
         tollgate ÷ jwt_simple | tollgate ÷ fastest peer | tollgate_aws_lc ÷ fastest peer |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for alg in ALGS {
        let g = format!("verify/{alg}");
        let m = |id: &str| median(root, &g, id);
        let fastest_peer = [
            "jsonwebtoken_aws_lc_rs",
            "jsonwebtoken_rust_crypto",
            "jwt_simple",
        ]
        .into_iter()
        .filter_map(&m)
        .min_by(f64::total_cmp);
        println!(
            "| {alg} | {} | {} | {} | {} | {} | {} | {} | {} |",
            ratio(m("tollgate"), m("ring_floor")),
            ratio(m("tollgate"), m("ring_floor_json")),
            ratio(m("tollgate"), m("tollgate_cached")),
            ratio(m("tollgate"), m("jsonwebtoken_aws_lc_rs")),
            ratio(m("tollgate"), m("jsonwebtoken_rust_crypto")),
            ratio(m("tollgate"), m("jwt_simple")),
            ratio(m("tollgate"), fastest_peer),
            ratio(m("tollgate_aws_lc"), fastest_peer),
        );
    }
}

fn engine(root: &[PathBuf]) {
    println!("\n### engine: median times\n");
    println!("| deployment | check | check_into | verify | check_into − verify | check − verify |");
    println!("|---|---:|---:|---:|---:|---:|");
    for d in DEPLOYMENTS {
        let g = format!("engine/{d}");
        let m = |id: &str| median(root, &g, id);
        let diff = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => format!("{:+.0} ns", a - b),
            _ => "–".to_owned(),
        };
        println!(
            "| {d} | {} | {} | {} | {} | {} |",
            time(m("check")),
            time(m("check_into")),
            time(m("verify")),
            diff(m("check_into"), m("verify")),
            diff(m("check"), m("verify")),
        );
    }
    println!(
        "| api-key | {} | {} | – | – | – |",
        time(median(root, "engine/api-key", "check")),
        time(median(root, "engine/api-key", "check_into")),
    );
    println!(
        "\nwebhook: v1 (HMAC) {}, v1a (Ed25519) {}",
        time(median(root, "engine/webhook", "v1_hmac")),
        time(median(root, "engine/webhook", "v1a_ed25519")),
    );
}

fn scaling(root: &[PathBuf]) {
    let groups: [(&str, &[&str], &[u32]); 5] = [
        (
            "claims",
            &["tollgate", "ring_floor", "ring_floor_json"],
            &[1, 10, 30, 100],
        ),
        ("jwks", &["tollgate"], &[1, 10, 100, 1000]),
        ("routes", &["check"], &[10, 100, 1000, 10_000]),
        ("roles", &["check"], &[4, 10, 100, 1000]),
        ("tenants", &["check", "verify"], &[1, 10, 100, 1000]),
    ];
    for (name, ids, sizes) in groups {
        let g = format!("scaling/{name}");
        println!("\n### scaling/{name}: median times\n");
        println!(
            "| id | {} |",
            sizes
                .iter()
                .map(|n| format!("N = {n}"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        println!("|---|{}", "---:|".repeat(sizes.len()));
        for id in ids {
            let cells: Vec<String> = sizes
                .iter()
                .map(|n| time(median(root, &g, &format!("{id}/{n}"))))
                .collect();
            println!("| {id} | {} |", cells.join(" | "));
        }
    }
}

fn main() {
    let mut roots: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if roots.is_empty() {
        roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"));
    }
    let root = roots.as_slice();
    verify(root);
    engine(root);
    scaling(root);
}
