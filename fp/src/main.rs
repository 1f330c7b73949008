//! shimon-fp: the command-line face of the fingerprint engine.
fn main() {}
