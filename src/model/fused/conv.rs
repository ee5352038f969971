//! A block's temporal convolution as one autodiff operation.
//!
//! Built from tensor operations (`net.rs`'s `unfolded`, still used everywhere else), the
//! convolution pads its input (a copy), lays each time step's neighbourhood side by side (a
//! second copy, `kernel` times the input's size) and multiplies that by the weights; its backward
//! pass writes each of the `kernel` shifted gradients into a zeroed buffer of the padded size and
//! adds them up. On Flex those copies and clears were about a sixth of a training step (perf: the
//! forward `cat` 10 %, the slices' backward 6.6 %).
//!
//! As one operation it pads once and multiplies a strided view of the padded input whose rows
//! overlap: row t starts at time step t and runs on for `kernel` steps, which is that step's
//! neighbourhood laid side by side already (Flex's `unfold` is such a view, and its matrix
//! product reads strided operands without copying). The backward pass pads the output's gradient
//! once and gets each gradient from one matrix product: the input's as the same convolution of
//! the padded gradient with the weights reversed in time and transposed (a transposed
//! convolution), the weights' as the overlapping view of the whole batch's padded input,
//! transposed, times the padded gradient (windows that straddle two patches meet zero rows of
//! the gradient, so they add nothing).

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;

use super::{Training, is_training, primitive, same_type, tensor};

/// `x` [batch, time, in] convolved over time with `weight` [kernel * in, out] (row k * in + c is
/// input channel c at time offset k - kernel / 2; zero outside the patch) -> [batch, time, out],
/// as one autodiff operation, when `B` is the CPU training backend and `kernel` is odd; else
/// `x` handed back.
pub(crate) fn convolve_on_cpu<B: Backend>(
    x: Tensor<B, 3>,
    weight: Tensor<B, 2>,
    kernel: usize,
) -> Result<Tensor<B, 3>, Tensor<B, 3>> {
    if kernel.is_multiple_of(2) || !is_training::<B>() {
        return Err(x);
    }
    let out = convolve::<super::CpuBackend, _>(same_type::<_, Tensor<Training, 3>>(x), same_type(weight), kernel);
    Ok(same_type(out))
}

/// The operation on the autodiff backend over `B`.
fn convolve<B: Backend, C: CheckpointStrategy>(
    x: Tensor<Autodiff<B, C>, 3>,
    weight: Tensor<Autodiff<B, C>, 2>,
    kernel: usize,
) -> Tensor<Autodiff<B, C>, 3> {
    let (x, weight) = (primitive(x), primitive(weight));
    let prepared = ConvolveBackward.prepare::<C>([x.node.clone(), weight.node.clone()]).compute_bound().stateful();
    let (x_inner, weight_inner) = (tensor::<B, 3>(x.primitive), tensor::<B, 2>(weight.primitive));
    let out = match prepared {
        OpsKind::Tracked(prep) => {
            let padded = pad_time(x_inner, kernel / 2);
            let out = convolve_padded(padded.clone(), weight_inner.clone(), kernel);
            prep.finish((primitive(padded), primitive(weight_inner), kernel), primitive(out))
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(primitive(convolve_padded(pad_time(x_inner, kernel / 2), weight_inner, kernel)))
        }
    };
    tensor(out)
}

/// [batch, time, channels] -> [batch, time + 2 * steps, channels], zeros before and after.
fn pad_time<B: Backend>(x: Tensor<B, 3>, steps: usize) -> Tensor<B, 3> {
    if steps == 0 {
        return x;
    }
    let [batch, _, channels] = x.dims();
    let zeros = Tensor::<B, 3>::zeros([batch, steps, channels], &x.device());
    Tensor::cat(vec![zeros.clone(), x, zeros], 1)
}

/// [batch, padded time, channels] -> [batch, padded time - kernel + 1, kernel * channels], a view
/// (no copy on Flex): row t is time steps t .. t + kernel side by side.
fn neighbourhoods<B: Backend>(padded: Tensor<B, 3>, kernel: usize) -> Tensor<B, 3> {
    let [batch, time, channels] = padded.dims();
    padded.reshape([batch, time * channels]).unfold(1, kernel * channels, channels)
}

/// The convolution of an already padded input: [batch, time + kernel - 1, in] x [kernel * in,
/// out] -> [batch, time, out].
fn convolve_padded<B: Backend>(padded: Tensor<B, 3>, weight: Tensor<B, 2>, kernel: usize) -> Tensor<B, 3> {
    neighbourhoods(padded, kernel).matmul(weight.unsqueeze())
}

#[derive(Debug)]
struct ConvolveBackward;

impl<B: Backend> Backward<B, 2> for ConvolveBackward {
    /// The padded input, the weights, the kernel.
    type State = (B::FloatTensorPrimitive, B::FloatTensorPrimitive, usize);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [x_node, weight_node] = ops.parents;
        let grad = tensor::<B, 3>(grads.consume::<B>(&ops.node));
        let (padded, weight, kernel) = ops.state;
        let (padded, weight) = (tensor::<B, 3>(padded), tensor::<B, 2>(weight));
        let [batch, padded_time, channels] = padded.dims();
        let out_channels = grad.dims()[2];
        let half = kernel / 2;
        // The output's gradient with the input's padding: [batch, padded time, out].
        let grad_padded = pad_time(grad, half);
        if let Some(node) = x_node {
            // x[s] met weights k at output s + half - k: the padded gradient's neighbourhoods by
            // the weights reversed in time, each tap's block transposed: [kernel * out, in].
            // Tap by tap: each is a plain 2-D transpose, which Flex copies in tiles (a flip and a
            // 3-D swap it would walk element by element).
            let taps =
                (0..kernel).rev().map(|k| weight.clone().narrow(0, k * channels, channels).transpose()).collect();
            let reversed = Tensor::cat(taps, 0);
            let grad_x = convolve_padded(grad_padded.clone(), reversed, kernel);
            grads.register::<B>(node.id, primitive(grad_x));
        }
        if let Some(node) = weight_node {
            // Every window of the batch's padded input, straddling patches or not, as rows of
            // one matrix; the gradient row that meets window r is output row r of its patch,
            // which is padded row r + half, and zero where the window straddles two patches.
            let rows = batch * padded_time - kernel + 1;
            let windows =
                padded.reshape([batch * padded_time * channels]).unfold::<2, _>(0, kernel * channels, channels);
            let grad_rows = grad_padded.reshape([batch * padded_time, out_channels]).narrow(0, half, rows);
            grads.register::<B>(node.id, primitive(windows.transpose().matmul(grad_rows)));
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::super::CpuBackend;
    use super::super::test_support::{largest_difference, values};
    use super::*;

    type B = Training;

    /// The convolution as the network builds it everywhere but in CPU training (`net.rs`'s
    /// `unfolded`: pad, neighbourhoods side by side by `cat`, one matrix product).
    fn reference(x: Tensor<B, 3>, weight: Tensor<B, 2>, kernel: usize) -> Tensor<B, 3> {
        let [batch, time, _] = x.dims();
        let out = crate::model::net::unfolded(x, kernel).matmul(weight);
        let out_channels = out.dims()[1];
        out.reshape([batch, time, out_channels])
    }

    #[test]
    fn the_fused_convolution_gives_the_values_and_gradients_of_the_one_built_from_tensor_operations() {
        let device = Default::default();
        for (batch, time, channels, out_channels, kernel) in [(3, 16, 5, 7, 3), (2, 8, 4, 6, 5), (1, 4, 3, 2, 1)] {
            let x_data = TensorData::new(values(batch * time * channels, 1), [batch, time, channels]);
            let w_data =
                TensorData::new(values(kernel * channels * out_channels, 2), [kernel * channels, out_channels]);
            let g_data = TensorData::new(values(batch * time * out_channels, 3), [batch, time, out_channels]);
            let run = |fused: bool| {
                let x = Tensor::<B, 3>::from_data(x_data.clone(), &device).require_grad();
                let w = Tensor::<B, 2>::from_data(w_data.clone(), &device).require_grad();
                let out = if fused {
                    convolve_on_cpu(x.clone(), w.clone(), kernel).unwrap_or_else(|_| panic!("the CPU training backend"))
                } else {
                    reference(x.clone(), w.clone(), kernel)
                };
                // A loss whose gradient with respect to the output is g_data.
                let loss = (out.clone() * Tensor::<B, 3>::from_data(g_data.clone(), &device)).sum();
                let grads = loss.backward();
                (out.inner(), x.grad(&grads).expect("x's gradient"), w.grad(&grads).expect("w's gradient"))
            };
            let (out, grad_x, grad_w) = run(true);
            let (out_ref, grad_x_ref, grad_w_ref) = run(false);
            assert_eq!(out.dims(), [batch, time, out_channels]);
            assert!(largest_difference(out, out_ref) < 1e-6, "values, kernel {kernel}");
            assert!(largest_difference(grad_x, grad_x_ref) < 1e-6, "input gradient, kernel {kernel}");
            assert!(largest_difference(grad_w, grad_w_ref) < 1e-6, "weight gradient, kernel {kernel}");
        }
    }

    #[test]
    fn other_backends_and_even_kernels_are_handed_back() {
        let device = Default::default();
        let x = Tensor::<CpuBackend, 3>::zeros([1, 4, 2], &device);
        let w = Tensor::<CpuBackend, 2>::zeros([6, 3], &device);
        assert!(convolve_on_cpu(x, w, 3).is_err(), "no autodiff: inference keeps its path");
        let x = Tensor::<B, 3>::zeros([1, 4, 2], &device);
        let w = Tensor::<B, 2>::zeros([4, 3], &device);
        assert!(convolve_on_cpu(x, w, 2).is_err());
    }

    #[test]
    fn an_input_that_asks_no_gradient_gets_none_and_the_weights_still_get_theirs() {
        let device = Default::default();
        let x = Tensor::<B, 3>::from_data(TensorData::new(values(2 * 8 * 3, 4), [2, 8, 3]), &device);
        let w = Tensor::<B, 2>::from_data(TensorData::new(values(9 * 4, 5), [9, 4]), &device).require_grad();
        let out = convolve_on_cpu(x.clone(), w.clone(), 3).unwrap_or_else(|_| panic!("the CPU training backend"));
        let grads = out.sum().backward();
        assert!(x.grad(&grads).is_none());
        let expected = reference(x.clone(), w.clone(), 3).sum().backward();
        let (grad_w, expected) = (w.grad(&grads).expect("w's gradient"), w.grad(&expected).expect("w's gradient"));
        assert!(largest_difference(grad_w, expected) < 1e-6);
    }
}
