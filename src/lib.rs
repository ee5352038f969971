//! songspace: see your music. Every song becomes a point in a 3D space, placed by what it sounds
//! like.
//!
//! The core is plain Rust without any UI dependency: [`audio`] (decoding and log-mel features)
//! and [`library`] (tracks, metadata, import). The command line in [`cli`] drives it.

pub mod audio;
pub mod cli;
pub mod error;
pub mod fsutil;
pub mod library;
pub mod model;
