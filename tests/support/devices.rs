//! The devices a test runs on (`#[path]`-included by the test binaries that use it).

use burn::tensor::Device;

/// wgpu where an adapter is found. Otherwise `None`, said on stderr; `DESCENT_REQUIRE_WGPU=1`
/// (set by CI, which installs software Vulkan) makes a missing adapter a failure.
#[allow(dead_code)] // not every test binary uses both functions
pub fn wgpu() -> Option<Device> {
    match descent::device::device("wgpu") {
        Ok(d) => Some(d),
        Err(e) if std::env::var("DESCENT_REQUIRE_WGPU").is_err() => {
            eprintln!("wgpu not run: {e} (set DESCENT_REQUIRE_WGPU=1 to require it)");
            None
        }
        Err(e) => panic!("DESCENT_REQUIRE_WGPU is set but {e}"),
    }
}

/// The CPU devices built in (flex; ndarray with `--features ndarray`) and [`wgpu`] where it
/// runs.
#[allow(dead_code)] // not every test binary uses both functions
pub fn every_device() -> Vec<Device> {
    let mut devices = descent::device::cpu_devices();
    devices.extend(wgpu());
    devices
}
