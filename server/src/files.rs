//! Writing the deployment's files: never over an existing file, readable by its owner only when it
//! holds a secret, and on disk before the call returns.

use std::io::Write;
use std::path::Path;

/// Writes `contents` to a new file at `path` (an existing file is an error, never overwritten),
/// with mode 0600 when `private` (0644 otherwise), flushed to disk.
pub fn write_new(path: &Path, contents: &[u8], private: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, if private { 0o600 } else { 0o644 });
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
