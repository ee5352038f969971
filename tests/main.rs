//! The one integration-test binary: each topic is a module.

mod util;

mod app;
mod cli;
mod demo;
mod fuzz;
mod import;
mod jobs;
mod map;
mod model;
mod package;
mod parity;
mod robustness;
