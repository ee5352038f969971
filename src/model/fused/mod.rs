//! Parts of a block as single operations of burn's autodiff, for training on the CPU backend.
//!
//! Why: built from tensor operations, each step of a block (the convolution's padding and
//! neighbourhoods, layer normalisation's mean, centring, variance, division, scale and shift,
//! the ReLU) is an operation of its own, with a buffer of its own forward and one or more
//! backward; on Flex, copies, clears and these small passes over memory were most of a training
//! step outside the matrix products. As one operation each, with a backward pass written for it,
//! they read and write each buffer about once (`conv.rs`, `norm_relu.rs` say how).
//!
//! The same arithmetic up to rounding: sums run in other orders, so training from the same seed
//! gives weights that differ in the last bits from the unfused path's, not the same bits.
//!
//! burn offers custom autodiff operations only to backends implementing a trait of one's own,
//! which every generic function over the network would then have to name. The network stays
//! generic over `Backend` instead and takes these paths when its backend is the CPU training
//! backend, recognised by its type at run time. Everything else (inference, the GPU) keeps the
//! unfused path, so every embedding, and the map, is the same to the bit as before.

mod conv;
mod norm_relu;

use std::any::{Any, TypeId};

use burn::backend::Autodiff;
use burn::prelude::*;
use burn::tensor::TensorPrimitive;

use super::CpuBackend;

pub(super) use conv::convolve_on_cpu;
pub(super) use norm_relu::{LAYER_NORM_EPSILON, norm_relu_on_cpu};

/// The backend these operations are for: training on the CPU.
type Training = Autodiff<CpuBackend>;

fn is_training<B: Backend>() -> bool {
    TypeId::of::<B>() == TypeId::of::<Training>()
}

/// `value` as `To`, which the caller has checked is its own type (`From`).
fn same_type<From: 'static, To: 'static>(value: From) -> To {
    let boxed: Box<dyn Any> = Box::new(value);
    *boxed.downcast::<To>().expect("the caller checked that the types are the same")
}

fn primitive<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> B::FloatTensorPrimitive {
    tensor.into_primitive().tensor()
}

fn tensor<B: Backend, const D: usize>(primitive: B::FloatTensorPrimitive) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(primitive))
}

#[cfg(test)]
mod test_support {
    use burn::prelude::*;

    use super::CpuBackend;

    pub fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n).map(|i| (((i * 7919 + seed * 104_729) % 1000) as f32 / 500.0) - 1.0).collect()
    }

    /// The largest difference between `a` and `b`, relative to `b`'s largest magnitude.
    pub fn largest_difference<const D: usize>(a: Tensor<CpuBackend, D>, b: Tensor<CpuBackend, D>) -> f32 {
        let scale = b.clone().abs().max().into_scalar().max(1e-6);
        (a - b).abs().max().into_scalar() / scale
    }
}
