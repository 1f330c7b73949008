//! shimon-server: being built (issue 4).
