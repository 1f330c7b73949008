//! shimon-station: being built (issue 4).
