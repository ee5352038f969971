//! Choosing where training runs: a GPU through burn's wgpu backend, or the CPU (burn Flex).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// What the user asked for (`--device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    /// The GPU when a real one is usable, else the CPU with a notice.
    Auto,
    /// The wgpu backend on whatever adapter there is (a software Vulkan driver included).
    Gpu,
    Cpu,
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "gpu" => Ok(Self::Gpu),
            "cpu" => Ok(Self::Cpu),
            other => Err(format!("unknown device {other:?} (use gpu, cpu or auto)")),
        }
    }
}

/// The decision, with the adapter's name for a GPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compute {
    Cpu,
    Gpu { adapter: String },
}

impl Compute {
    pub fn describe(&self) -> String {
        match self {
            Self::Cpu => "cpu".into(),
            Self::Gpu { adapter } => format!("gpu ({adapter})"),
        }
    }
}

/// A GPU adapter wgpu can see.
#[derive(Debug, Clone)]
pub struct Adapter {
    pub name: String,
    /// False for software renderers such as lavapipe, which run on the CPU.
    pub hardware: bool,
}

pub fn gpu_adapters() -> Vec<Adapter> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapters = block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    adapters
        .iter()
        .map(|a| {
            let info = a.get_info();
            Adapter {
                name: format!("{} ({:?})", info.name, info.backend),
                hardware: !matches!(info.device_type, wgpu::DeviceType::Cpu | wgpu::DeviceType::Other),
            }
        })
        .collect()
}

/// Resolves a choice to a device, and a one-line notice when `auto` falls back to the CPU.
pub fn choose(choice: DeviceChoice) -> Result<(Compute, Option<String>), String> {
    match choice {
        DeviceChoice::Cpu => Ok((Compute::Cpu, None)),
        DeviceChoice::Gpu => {
            let adapters = gpu_adapters();
            let best = adapters.iter().find(|a| a.hardware).or_else(|| adapters.first());
            match best {
                Some(a) => Ok((Compute::Gpu { adapter: a.name.clone() }, None)),
                None => {
                    Err("no GPU adapter found (no Vulkan, Metal, DirectX or OpenGL driver); use --device cpu".into())
                }
            }
        }
        DeviceChoice::Auto => match gpu_adapters().into_iter().find(|a| a.hardware) {
            Some(a) => Ok((Compute::Gpu { adapter: a.name }, None)),
            None => Ok((Compute::Cpu, Some("no usable GPU found: training on the CPU".into()))),
        },
    }
}

/// wgpu's native futures complete on first poll; this avoids an executor dependency.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
