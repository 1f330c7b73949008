//! Where the shared fingerprint databases live, for the accuracy test and the benchmarks: the
//! folder named by `SHIMON_SHARED`, by default `../shared` beside the workspace.

use std::path::{Path, PathBuf};

/// Environment variable naming the shared folder.
pub const SHARED_ENV: &str = "SHIMON_SHARED";

/// The six FVC databases with headline figures, in the order of the dataset README.
pub const FVC_DATABASES: [&str; 6] = [
    "fvc2002-db1b",
    "fvc2002-db2b",
    "fvc2002-db3b",
    "fvc2004-db1b",
    "fvc2004-db2b",
    "fvc2004-db3b",
];

/// The shared folder: `$SHIMON_SHARED` (a relative value is taken from the workspace root), else
/// `<workspace root>/../shared`.
pub fn shared_dir(workspace_root: &Path) -> PathBuf {
    match std::env::var_os(SHARED_ENV) {
        Some(v) if !v.is_empty() => workspace_root.join(v),
        _ => workspace_root.join("..").join("shared"),
    }
}

/// The folder holding one database per subfolder.
pub fn fingerprints_dir(workspace_root: &Path) -> PathBuf {
    shared_dir(workspace_root).join("datasets").join("fingerprints")
}

/// True under CI (`CI=true`), where missing data is a failure rather than a skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}
