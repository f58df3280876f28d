//! Loss properties, the seed notes' worked examples, the errors bad input gets, the PyTorch
//! 2.15 parity losses against references written out here, and Optax's losses (issue 14).

mod catalog;
#[path = "../support/devices.rs"]
mod devices;
mod equivalence;
mod errors;
mod gradcheck;
#[path = "../support/messages.rs"]
mod messages;
mod optax;
mod parity;
mod properties;
mod seed_examples;
