//! Layer normalisation over channels, the ReLU and (in all blocks but the last) max-pooling of
//! each two time steps into one, as one autodiff operation on Flex.
//!
//! burn builds layer normalisation under autodiff from seven tensor operations (mean, centring,
//! square, mean, square root, division, scale and shift), the ReLU an eighth and the pooling
//! (`net.rs`'s `max_pool_pairs`) four more, each a pass over the block's output with a buffer of
//! its own, and the backward pass of each one or two more: together about a fifth of a training
//! step (perf: mean_dim's backward alone 5 %). Here one pass per row forward (its mean and
//! spread, then the normalised, scaled, shifted and clipped values, and each pair of rows'
//! larger values) and one backward: the pooling's gradient to the larger of each pair (the even
//! step on a tie, as `max_pool_pairs` does), the ReLU's where its output is positive (burn's
//! rule), and layer normalisation's from its textbook form,
//! dx = (g - mean(g) - x̂ · mean(g · x̂)) / σ, with g the gradient that passed the ReLU times the
//! scale and x̂ the normalised input.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::prelude::*;
use burn_flex::{Flex, FlexTensor};

use super::{Training, is_training, primitive, same_type, tensor};

/// The blocks' layer normalisation's epsilon (burn's default, named so that this path and the
/// blocks' `LayerNorm` modules say the same).
pub(crate) const LAYER_NORM_EPSILON: f64 = 1e-5;

/// relu(layer_norm(x) * gamma + beta) over the last dimension of `x` [rows, channels], rows
/// being time steps, and with `pool` each two rows (an even time step and the next) into their
/// larger values ([rows / 2, channels]; rows must be even), as one autodiff operation when `B`
/// is the CPU training backend; else `x` handed back.
pub(crate) fn norm_relu_on_cpu<B: Backend>(
    x: Tensor<B, 2>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    pool: bool,
) -> Result<Tensor<B, 2>, Tensor<B, 2>> {
    if !is_training::<B>() || (pool && !x.dims()[0].is_multiple_of(2)) {
        return Err(x);
    }
    let out = norm_relu(same_type::<_, Tensor<Training, 2>>(x), same_type(gamma), same_type(beta), pool);
    Ok(same_type(out))
}

fn norm_relu<C: CheckpointStrategy>(
    x: Tensor<Autodiff<Flex, C>, 2>,
    gamma: Tensor<Autodiff<Flex, C>, 1>,
    beta: Tensor<Autodiff<Flex, C>, 1>,
    pool: bool,
) -> Tensor<Autodiff<Flex, C>, 2> {
    let (x, gamma, beta) = (primitive(x), primitive(gamma), primitive(beta));
    let prepared = NormReluBackward
        .prepare::<C>([x.node.clone(), gamma.node.clone(), beta.node.clone()])
        .compute_bound()
        .stateful();
    let input = x.primitive.to_contiguous();
    let gamma = gamma.primitive.to_contiguous();
    let beta = beta.primitive.to_contiguous();
    let (rows, width) = rows_and_width(&input);
    let mut activated = zeroed(rows, width);
    let mut statistics = vec![[0f32; 2]; rows];
    let forward = Forward { x: values(&input), gamma: values(&gamma), beta: values(&beta), width };
    on_wide_vectors(
        #[inline(always)]
        || forward.rows(activated.storage_mut::<f32>(), &mut statistics),
    );
    let out = if pool {
        let mut pooled = zeroed(rows / 2, width);
        on_wide_vectors(
            #[inline(always)]
            || pool_pairs(values(&activated), width, pooled.storage_mut::<f32>()),
        );
        pooled
    } else {
        activated.clone()
    };
    let out = match prepared {
        OpsKind::Tracked(prep) => prep.finish(State { input, gamma, activated, statistics, pool }, out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    tensor(out)
}

fn rows_and_width(tensor: &FlexTensor) -> (usize, usize) {
    let shape = tensor.layout().shape();
    (shape[0], shape[1])
}

fn values(tensor: &FlexTensor) -> &[f32] {
    tensor.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// A [rows, width] tensor of zeros, allocated as f32 (Flex's own `empty` allocates bytes, whose
/// alignment it then finds too small, and copies the buffer).
fn zeroed(rows: usize, width: usize) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(vec![0f32; rows * width], [rows, width]))
}

/// Runs `work` compiled for AVX2 and FMA where the CPU has them: the loops below would otherwise
/// be compiled for x86-64's baseline (SSE2), a quarter of the lanes an AVX-512 machine has.
#[inline(always)]
fn on_wide_vectors<T>(work: impl FnOnce() -> T) -> T {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        #[target_feature(enable = "avx2,fma")]
        fn wide<T>(work: impl FnOnce() -> T) -> T {
            work()
        }
        // SAFETY: the CPU has both features `wide` is compiled for (checked just above).
        #[allow(unsafe_code)]
        return unsafe { wide(work) };
    }
    work()
}

/// The sum of `term(i)` for i in 0..n, in sixteen running partial sums that the compiler keeps
/// in vector registers.
#[inline(always)]
fn sum_of(n: usize, term: impl Fn(usize) -> f32) -> f32 {
    let mut partial = [0f32; 16];
    let whole = n / 16 * 16;
    for start in (0..whole).step_by(16) {
        for (lane, p) in partial.iter_mut().enumerate() {
            *p += term(start + lane);
        }
    }
    partial.iter().sum::<f32>() + (whole..n).map(term).sum::<f32>()
}

/// What the forward pass reads: the input [rows, width] and the parameters [width].
struct Forward<'a> {
    x: &'a [f32],
    gamma: &'a [f32],
    beta: &'a [f32],
    width: usize,
}

impl Forward<'_> {
    /// The activated rows and each row's mean and 1 / standard deviation.
    #[inline(always)]
    fn rows(&self, y: &mut [f32], statistics: &mut [[f32; 2]]) {
        let width = self.width;
        let n = width as f32;
        let (gamma, beta) = (&self.gamma[..width], &self.beta[..width]);
        for ((row, y), statistic) in self.x.chunks_exact(width).zip(y.chunks_exact_mut(width)).zip(statistics) {
            let mean = sum_of(width, |i| row[i]) / n;
            let variance = sum_of(width, |i| (row[i] - mean) * (row[i] - mean)) / n;
            let inverse = 1.0 / (variance + LAYER_NORM_EPSILON as f32).sqrt();
            for i in 0..width {
                y[i] = ((row[i] - mean) * inverse * gamma[i] + beta[i]).max(0.0);
            }
            *statistic = [mean, inverse];
        }
    }
}

/// Each two rows of `y` [rows, width] into their larger values [rows / 2, width].
#[inline(always)]
fn pool_pairs(y: &[f32], width: usize, pooled: &mut [f32]) {
    for (pair, out) in y.chunks_exact(2 * width).zip(pooled.chunks_exact_mut(width)) {
        let (even, odd) = pair.split_at(width);
        for i in 0..width {
            out[i] = even[i].max(odd[i]);
        }
    }
}

#[derive(Debug, Clone)]
struct State {
    input: FlexTensor,
    gamma: FlexTensor,
    /// The rows after the ReLU, before pooling.
    activated: FlexTensor,
    statistics: Vec<[f32; 2]>,
    pool: bool,
}

/// What the backward pass reads: the input and the activated rows [rows, width], the output's
/// gradient ([rows / 2, width] when pooled), the scale [width] and each row's statistics.
struct BackwardInputs<'a> {
    x: &'a [f32],
    y: &'a [f32],
    grad: &'a [f32],
    gamma: &'a [f32],
    statistics: &'a [[f32; 2]],
    width: usize,
    pool: bool,
}

/// What it writes: the input's gradient [rows, width] and the parameters' [width].
struct Gradient<'a> {
    dx: &'a mut [f32],
    gamma: &'a mut [f32],
    beta: &'a mut [f32],
}

impl BackwardInputs<'_> {
    #[inline(always)]
    fn rows(&self, out: Gradient) {
        let width = self.width;
        let n = width as f32;
        let gamma = &self.gamma[..width];
        let (grad_gamma, grad_beta) = (&mut out.gamma[..width], &mut out.beta[..width]);
        let mut scratch = vec![0f32; 3 * width];
        let (dy, rest) = scratch.split_at_mut(width);
        let (scaled, normalised) = rest.split_at_mut(width);
        let rows = self.x.chunks_exact(width).zip(self.y.chunks_exact(width)).zip(out.dx.chunks_exact_mut(width));
        for (r, ((x, y), dx)) in rows.enumerate() {
            let [mean, inverse] = self.statistics[r];
            if self.pool {
                // The pair's gradient goes to the larger step, the even one on a tie.
                let pair = r / 2;
                let grad = &self.grad[pair * width..(pair + 1) * width];
                let partner = &self.y[(r ^ 1) * width..((r ^ 1) + 1) * width];
                let even = r % 2 == 0;
                for i in 0..width {
                    let wins = if even { y[i] >= partner[i] } else { y[i] > partner[i] };
                    dy[i] = if wins { grad[i] } else { 0.0 };
                }
            } else {
                dy.copy_from_slice(&self.grad[r * width..(r + 1) * width]);
            }
            for i in 0..width {
                // The ReLU passes the gradient where its output is positive (burn's rule).
                let passed = if y[i] > 0.0 { dy[i] } else { 0.0 };
                let x_hat = (x[i] - mean) * inverse;
                grad_beta[i] += passed;
                grad_gamma[i] += passed * x_hat;
                scaled[i] = passed * gamma[i];
                normalised[i] = x_hat;
            }
            let mean_scaled = sum_of(width, |i| scaled[i]) / n;
            let mean_product = sum_of(width, |i| scaled[i] * normalised[i]) / n;
            for i in 0..width {
                dx[i] = (scaled[i] - mean_scaled - normalised[i] * mean_product) * inverse;
            }
        }
    }
}

#[derive(Debug)]
struct NormReluBackward;

impl Backward<Flex, 3> for NormReluBackward {
    type State = State;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [x_node, gamma_node, beta_node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node).to_contiguous();
        let State { input, gamma, activated, statistics, pool } = ops.state;
        let (rows, width) = rows_and_width(&input);
        let mut grad_x = zeroed(rows, width);
        let (mut grad_gamma, mut grad_beta) = (vec![0f32; width], vec![0f32; width]);
        let backward = BackwardInputs {
            x: values(&input),
            y: values(&activated),
            grad: values(&grad),
            gamma: values(&gamma),
            statistics: &statistics,
            width,
            pool,
        };
        let dx = grad_x.storage_mut::<f32>();
        on_wide_vectors(
            #[inline(always)]
            || backward.rows(Gradient { dx, gamma: &mut grad_gamma, beta: &mut grad_beta }),
        );
        let parameter = |values: Vec<f32>| FlexTensor::from_data(TensorData::new(values, [width]));
        if let Some(node) = x_node {
            grads.register::<Flex>(node.id, grad_x);
        }
        if let Some(node) = gamma_node {
            grads.register::<Flex>(node.id, parameter(grad_gamma));
        }
        if let Some(node) = beta_node {
            grads.register::<Flex>(node.id, parameter(grad_beta));
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::LayerNormConfig;
    use burn::prelude::*;
    use burn::tensor::activation::relu;

    use super::super::test_support::{largest_difference, values};
    use super::*;

    type B = Training;

    #[test]
    fn the_fused_norm_and_relu_give_the_values_and_gradients_of_burn_s_layer_norm_and_relu() {
        let device = Default::default();
        for (rows, width) in [(37, 128), (5, 24), (3, 1)] {
            let norm = LayerNormConfig::new(width).with_epsilon(LAYER_NORM_EPSILON).init::<B>(&device);
            // Parameters away from their initial ones and each other, so that mixing them up shows.
            let gamma = Tensor::<B, 1>::from_data(TensorData::new(values(width, 7), [width]), &device).require_grad();
            let beta = Tensor::<B, 1>::from_data(TensorData::new(values(width, 8), [width]), &device).require_grad();
            let x_data =
                TensorData::new(values(rows * width, 9).iter().map(|v| 3.0 * v + 0.5).collect(), [rows, width]);
            let g_data = TensorData::new(values(rows * width, 10), [rows, width]);
            let run = |fused: bool| {
                let x = Tensor::<B, 2>::from_data(x_data.clone(), &device).require_grad();
                let out = if fused {
                    norm_relu_on_cpu(x.clone(), gamma.clone(), beta.clone(), false)
                        .unwrap_or_else(|_| panic!("CPU training"))
                } else {
                    let mut norm = norm.clone();
                    norm.gamma = burn::module::Param::from_tensor(gamma.clone());
                    norm.beta = Some(burn::module::Param::from_tensor(beta.clone()));
                    relu(norm.forward(x.clone()))
                };
                let loss = (out.clone() * Tensor::<B, 2>::from_data(g_data.clone(), &device)).sum();
                let grads = loss.backward();
                let grad = |t: &Tensor<B, 1>| t.grad(&grads).expect("a parameter's gradient");
                (out.inner(), x.grad(&grads).expect("x's gradient"), grad(&gamma), grad(&beta))
            };
            let (out, dx, dgamma, dbeta) = run(true);
            let (out_ref, dx_ref, dgamma_ref, dbeta_ref) = run(false);
            assert!(!out.clone().lower_elem(0.0).any().into_scalar(), "the ReLU leaves nothing below zero");
            assert!(largest_difference(out, out_ref) < 1e-5, "values, {rows} x {width}");
            assert!(largest_difference(dx, dx_ref) < 1e-4, "input gradient, {rows} x {width}");
            assert!(largest_difference(dgamma, dgamma_ref) < 1e-5, "scale gradient, {rows} x {width}");
            assert!(largest_difference(dbeta, dbeta_ref) < 1e-5, "shift gradient, {rows} x {width}");
        }
    }

    #[test]
    fn pooling_pairs_gives_the_values_and_gradients_of_max_over_each_pair_ties_included() {
        let device = Default::default();
        let (rows, width) = (12, 32);
        let gamma = Tensor::<B, 1>::from_data(TensorData::new(values(width, 11), [width]), &device).require_grad();
        let beta = Tensor::<B, 1>::from_data(TensorData::new(values(width, 12), [width]), &device).require_grad();
        // Rows 4 and 5 alike: a pair whose two steps tie at every channel, positive ones among them.
        let mut x_values = values(rows * width, 13);
        x_values.copy_within(4 * width..5 * width, 5 * width);
        let x_data = TensorData::new(x_values, [rows, width]);
        let g_data = TensorData::new(values(rows / 2 * width, 14), [rows / 2, width]);
        let run = |fused: bool| {
            let x = Tensor::<B, 2>::from_data(x_data.clone(), &device).require_grad();
            let out = if fused {
                norm_relu_on_cpu(x.clone(), gamma.clone(), beta.clone(), true)
                    .unwrap_or_else(|_| panic!("CPU training"))
            } else {
                let mut norm = LayerNormConfig::new(width).with_epsilon(LAYER_NORM_EPSILON).init::<B>(&device);
                norm.gamma = burn::module::Param::from_tensor(gamma.clone());
                norm.beta = Some(burn::module::Param::from_tensor(beta.clone()));
                // max_dim over each pair: the even step takes a tie's gradient.
                relu(norm.forward(x.clone())).reshape([rows / 2, 2, width]).max_dim(1).reshape([rows / 2, width])
            };
            let loss = (out.clone() * Tensor::<B, 2>::from_data(g_data.clone(), &device)).sum();
            let grads = loss.backward();
            (out.inner(), x.grad(&grads).expect("x's gradient"), gamma.grad(&grads).expect("the scale's gradient"))
        };
        let (out, dx, dgamma) = run(true);
        let (out_ref, dx_ref, dgamma_ref) = run(false);
        assert_eq!(out.dims(), [rows / 2, width]);
        assert!(largest_difference(out, out_ref) < 1e-5);
        assert!(largest_difference(dx, dx_ref) < 1e-4);
        assert!(largest_difference(dgamma, dgamma_ref) < 1e-5);
    }

    #[test]
    fn inference_keeps_burn_s_own_path() {
        let device = Default::default();
        let x = Tensor::<super::super::CpuBackend, 2>::zeros([2, 4], &device);
        let p = Tensor::<super::super::CpuBackend, 1>::zeros([4], &device);
        assert!(norm_relu_on_cpu(x, p.clone(), p, false).is_err());
    }
}
