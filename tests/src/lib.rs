//! Host-level tests for Counterpart: a headless CLAP host (`clap_host`) that loads the built
//! bundle, and a small DAW around it (`daw`) that drives it like a real host.

pub mod clap_host;
pub mod daw;
