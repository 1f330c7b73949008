//! shimon-agent: being built (issue 4).
