//! songspace: see your music. Every song becomes a point in a 3D space, placed by what it sounds
//! like.
//!
//! The core is plain Rust without any UI dependency: [`audio`] (decoding and log-mel features),
//! [`library`] (tracks, metadata, import), [`model`] (the CNN and its embeddings) and [`space`]
//! (the 3D map, neighbours, placing new songs). The command line in [`cli`] drives it.

pub mod app;
pub mod audio;
pub mod cli;
pub mod error;
pub mod explore;
pub mod fsutil;
pub mod library;
pub mod model;
pub mod settings;
pub mod space;
pub mod workflow;
