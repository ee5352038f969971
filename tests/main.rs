//! The one integration-test binary: each topic is a module.

mod util;

mod cli;
mod import;
mod map;
mod model;
mod parity;
