//! Optimizers, schedules and training utilities: record round-trips, bad input, gradient
//! accumulation, clipping, loss scaling and L-BFGS on a real problem.

mod accumulation;
mod beyond;
mod common;
#[path = "../support/devices.rs"]
mod devices;
mod equivalence;
mod errors;
mod lbfgs;
#[cfg(feature = "train")]
mod learner;
#[cfg(not(feature = "train"))]
mod learner {
    #[test]
    #[ignore = "needs burn-train: build with --features train"]
    fn burn_train_steps_equal_the_trainer() {}
}
mod master_weights;
#[path = "../support/messages.rs"]
mod messages;
mod multi_device;
mod parity;
mod records;
mod update_rules;
