//! Placeholder: the footprint benchmark is being written (see bench/run).
fn main() {}
