//! Times as people read them: seconds since the Unix epoch as an RFC 3339 UTC timestamp
//! (`2026-11-27T12:42:07Z`, by the humantime crate), for the clients to print the times the
//! server sends.

use std::time::{Duration, UNIX_EPOCH};

/// `unix_s` (seconds since the Unix epoch) as `YYYY-MM-DDTHH:MM:SSZ`, UTC; a time humantime
/// cannot show (before 1970) is printed as the plain number.
pub fn format_utc(unix_s: i64) -> String {
    match u64::try_from(unix_s) {
        Ok(secs) => humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string(),
        Err(_) => format!("{unix_s} (unix s)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_795_783_327), "2026-11-27T12:42:07Z");
        assert_eq!(format_utc(-1), "-1 (unix s)");
    }
}
