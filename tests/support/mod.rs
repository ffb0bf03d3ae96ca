//! Shared test harness: private network namespaces, a loopback provider, and the real
//! `dynhost` binary driven as a child process. Each integration test file includes it
//! with `mod support;`; not every file uses every part.
#![allow(dead_code)]

pub mod agent;
pub mod netns;
pub mod ovh_api;
pub mod provider;
pub mod scene;
