//! Choosing a Burn device by name at run time.

use core::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::tensor::{Device, Tensor};

/// The device names this project runs on.
pub const DEVICE_NAMES: [&str; 3] = ["flex", "ndarray", "wgpu"];

/// Why a device could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceError {
    /// The name is none of [`DEVICE_NAMES`].
    Unknown(String),
    /// The backend was not compiled in: build with `--features <name>`.
    NotBuilt(String),
    /// The backend is known but did not start (for wgpu: no usable GPU or Vulkan driver).
    Unavailable {
        /// The device name.
        name: String,
        /// What went wrong.
        reason: String,
    },
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::Unknown(name) => write!(
                f,
                "device: unknown name {name:?}; expected one of {}",
                DEVICE_NAMES.join(", ")
            ),
            DeviceError::NotBuilt(name) => write!(
                f,
                "device: {name} is not built into this binary; build with `--features {name}` \
                 (built: {})",
                built_devices().join(", ")
            ),
            DeviceError::Unavailable { name, reason } => write!(
                f,
                "device: {name} did not start ({reason}); on Linux, wgpu needs a Vulkan driver \
                 (apt-get install mesa-vulkan-drivers libvulkan1), or choose flex"
            ),
        }
    }
}

impl std::error::Error for DeviceError {}

/// The NdArray device; deprecated upstream in favour of Flex, kept here by design.
#[cfg(feature = "ndarray")]
#[allow(deprecated)]
fn ndarray() -> Result<Device, DeviceError> {
    Ok(Device::ndarray())
}

#[cfg(not(feature = "ndarray"))]
fn ndarray() -> Result<Device, DeviceError> {
    Err(DeviceError::NotBuilt("ndarray".into()))
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Result<Device, DeviceError> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Result<Device, DeviceError> {
    Err(DeviceError::NotBuilt("wgpu".into()))
}

/// The device names compiled into this binary: `flex` always, `ndarray` and `wgpu` with the
/// cargo features of the same names.
pub fn built_devices() -> Vec<&'static str> {
    let mut names = vec!["flex"];
    if cfg!(feature = "ndarray") {
        names.push("ndarray");
    }
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    names
}

/// The CPU devices compiled in: flex, and ndarray with the `ndarray` feature.
pub fn cpu_devices() -> Vec<Device> {
    let mut devices = vec![Device::flex()];
    if let Ok(d) = ndarray() {
        devices.push(d);
    }
    devices
}

/// Maps `flex`, `ndarray` or `wgpu` to a Burn [`Device`] (without autodiff; call
/// `.autodiff()` on it to train), checking that it starts by running one tiny operation.
///
/// # Errors
/// [`DeviceError::Unknown`] for another name, [`DeviceError::NotBuilt`] for a backend whose
/// cargo feature is off, [`DeviceError::Unavailable`] when the backend
/// fails to start (for example wgpu without a Vulkan driver).
pub fn device(name: &str) -> Result<Device, DeviceError> {
    let device = match name.trim().to_ascii_lowercase().as_str() {
        "flex" => Device::flex(),
        "ndarray" => ndarray()?,
        "wgpu" => wgpu()?,
        _ => return Err(DeviceError::Unknown(name.to_string())),
    };
    let probe = catch_unwind(AssertUnwindSafe(|| {
        Tensor::<1>::from_floats([1.0, 2.0], &device)
            .sum()
            .try_into_scalar::<f32>()
    }));
    match probe {
        Ok(Ok(3.0)) => Ok(device),
        Ok(Ok(v)) => Err(DeviceError::Unavailable {
            name: name.to_string(),
            reason: format!("a test sum gave {v} instead of 3"),
        }),
        Ok(Err(e)) => Err(DeviceError::Unavailable {
            name: name.to_string(),
            reason: format!("{e:?}"),
        }),
        Err(panic) => Err(DeviceError::Unavailable {
            name: name.to_string(),
            reason: panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the backend panicked".into()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_devices_start_and_unknown_names_are_refused() {
        for name in ["flex", " Flex "] {
            assert!(device(name).is_ok(), "{name} should start");
        }
        let built = cfg!(feature = "ndarray");
        match device("ndarray") {
            Ok(_) => assert!(built, "ndarray started without its feature"),
            Err(e) => {
                assert!(!built, "ndarray is built but did not start: {e}");
                assert!(e.to_string().contains("--features ndarray"), "{e}");
            }
        }
        let err = device("cuda9").unwrap_err();
        assert_eq!(err, DeviceError::Unknown("cuda9".into()));
        let message = err.to_string();
        assert!(
            message.contains("cuda9") && message.contains("flex, ndarray, wgpu"),
            "{message}"
        );
    }
}
