//! The network: four temporal convolution blocks over a log-mel patch (the mel bands are the
//! input channels), pooling over time, a 32-unit embedding layer and a classifier head.
//!
//! Why temporal (1-D) convolutions built from a matrix product: on the CPU backend (burn-ndarray)
//! a 2-D convolution's backward pass ran at 0.13 GMAC/s here, while a matrix product runs at
//! about 39 GFLOP/s. A 5-block 2-D CNN on 128x128 patches took 482 s per epoch on the
//! development corpus; unfolding each time step's neighbourhood and multiplying by one weight
//! matrix (`Linear`) runs the same kind of model two orders of magnitude faster, on both
//! backends, with the same code.

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::fused;

/// The shape of the network. Saved beside the weights; loading rebuilds the network from it.
#[derive(Config, Debug, PartialEq)]
pub struct NetConfig {
    /// Mel bands of the input: the input channels.
    pub n_mels: usize,
    /// Frames of one patch: 128 frames are 2.97 s at 22,050 Hz, hop 512. A multiple of 8.
    pub patch_frames: usize,
    /// Output channels of the four convolution blocks (each halves the time resolution, but
    /// the last).
    #[config(default = "[128, 128, 256, 256]")]
    pub channels: [usize; 4],
    /// Time steps each convolution sees.
    #[config(default = 3)]
    pub kernel: usize,
    /// Size of the embedding (the last hidden layer).
    #[config(default = 32)]
    pub embedding_dim: usize,
    pub n_classes: usize,
    #[config(default = 0.3)]
    pub dropout: f64,
    /// Pool over time with mean and standard deviation (statistics pooling: how much each
    /// channel varies, not only its peak) instead of mean and max. An Option so that the
    /// model.json of older models, which lacks it, still loads (as mean and max).
    pub std_pooling: Option<bool>,
    /// A second path into the embedding layer: each mel band's mean and spread over the patch
    /// and the spread of its frame-to-frame change (the statistics classic descriptors are
    /// made of), added to what the convolutions found. An Option so that older model.json
    /// files, which lack it, still load (without it).
    pub input_statistics: Option<bool>,
}

/// A 1-D convolution over time as unfold + matrix product, with layer normalisation over
/// channels and a ReLU; optionally followed by max-pooling two time steps into one.
#[derive(Module, Debug)]
struct TemporalBlock<B: Backend> {
    weights: Linear<B>,
    norm: LayerNorm<B>,
    kernel: usize,
    pool: bool,
}

impl<B: Backend> TemporalBlock<B> {
    fn new(input: usize, output: usize, kernel: usize, pool: bool, device: &B::Device) -> Self {
        Self {
            weights: LinearConfig::new(input * kernel, output).init(device),
            norm: LayerNormConfig::new(output).with_epsilon(fused::LAYER_NORM_EPSILON).init(device),
            kernel,
            pool,
        }
    }

    /// [batch, time, in] -> [batch, time (or time/2), out]
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, time, _] = x.dims();
        let out = match fused::convolve_on_cpu(x, self.weights.weight.val(), self.kernel) {
            Ok(convolved) => {
                let out_channels = convolved.dims()[2];
                let convolved = convolved.reshape([batch * time, out_channels]);
                match &self.weights.bias {
                    Some(bias) => convolved + bias.val().unsqueeze(),
                    None => convolved,
                }
            }
            Err(x) => self.weights.forward(unfolded(x, self.kernel)),
        };
        let out_channels = out.dims()[1];
        let fused = match &self.norm.beta {
            Some(beta) => fused::norm_relu_on_cpu(out, self.norm.gamma.val(), beta.val(), self.pool),
            None => Err(out),
        };
        match fused {
            Ok(pooled) => pooled.reshape([batch, if self.pool { time / 2 } else { time }, out_channels]),
            Err(out) => {
                let out = relu(self.norm.forward(out)).reshape([batch, time, out_channels]);
                if self.pool { max_pool_pairs(out) } else { out }
            }
        }
    }
}

/// [batch, time, in] -> [batch * time, in * kernel]: each time step's neighbourhood side by side
/// (zeros beyond the patch), for the block's weights to multiply. Training on the CPU fuses this
/// with the product instead (`fused/conv.rs`).
pub(super) fn unfolded<B: Backend>(x: Tensor<B, 3>, kernel: usize) -> Tensor<B, 2> {
    let [batch, time, channels] = x.dims();
    let half = kernel / 2;
    let device = x.device();
    let pad = Tensor::<B, 3>::zeros([batch, half, channels], &device);
    let padded = Tensor::cat(vec![pad.clone(), x, pad], 1);
    let shifted: Vec<Tensor<B, 3>> =
        (0..kernel).map(|k| padded.clone().slice([0..batch, k..k + time, 0..channels])).collect();
    Tensor::cat(shifted, 2).reshape([batch * time, channels * kernel])
}

/// [batch, time, channels] -> [batch, time / 2, channels]: each two time steps into one as the
/// larger of the even and the odd step. The values max_dim over each pair gives, and the same
/// gradient (a tie goes to the even step in both), routed by a comparison instead of max_dim's
/// index scatter, which was a tenth of a CPU training step (perf).
fn max_pool_pairs<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [batch, time, channels] = x.dims();
    let pairs = x.reshape([batch, time / 2, 2 * channels]);
    let even = pairs.clone().slice([0..batch, 0..time / 2, 0..channels]);
    let odd = pairs.slice([0..batch, 0..time / 2, channels..2 * channels]);
    // The even and odd steps are strided views; flattened, each becomes one contiguous copy (a
    // 2-D strided copy the CPU backend makes in tiles), so the comparison and the selection run
    // on plain slices with SIMD instead of walking both views element by element (12 % of a
    // training step). Only where the values lie changes, not the values.
    let flat = [batch, time / 2 * channels];
    even.reshape(flat).max_pair(odd.reshape(flat)).reshape([batch, time / 2, channels])
}

/// [batch, mels, frames] -> [batch, frames, mels], laid out in that order. One patch at a
/// time: a single patch's swapped view is a plain 2-D transpose, which the CPU backend copies in
/// cache-sized tiles, where the whole batch's view is a 3-D stride pattern it copies element by
/// element (2 % of a training step). The same values either way.
fn time_major<B: Backend>(patches: Tensor<B, 3>) -> Tensor<B, 3> {
    let batch = patches.dims()[0];
    if batch <= 1 {
        return patches.swap_dims(1, 2);
    }
    Tensor::cat(patches.chunk(batch, 0).into_iter().map(|patch| patch.swap_dims(1, 2)).collect(), 0)
}

#[derive(Module, Debug)]
pub struct EmbeddingNet<B: Backend> {
    blocks: Vec<TemporalBlock<B>>,
    embedding: Linear<B>,
    dropout: Dropout,
    classifier: Linear<B>,
    std_pooling: bool,
    /// Input statistics -> embedding, added to the pooled convolution features' projection.
    statistics: Option<Linear<B>>,
}

/// Statistics per mel band that the statistics path reads: mean, spread, spread of the change.
const STATISTICS_PER_BAND: usize = 3;

impl NetConfig {
    pub fn init<B: Backend>(&self, device: &B::Device) -> EmbeddingNet<B> {
        let mut blocks = Vec::with_capacity(self.channels.len());
        let mut input = self.n_mels;
        for (i, &output) in self.channels.iter().enumerate() {
            blocks.push(TemporalBlock::new(input, output, self.kernel, i + 1 < self.channels.len(), device));
            input = output;
        }
        EmbeddingNet {
            blocks,
            // Mean and max over time, side by side.
            embedding: LinearConfig::new(2 * input, self.embedding_dim).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            classifier: LinearConfig::new(self.embedding_dim, self.n_classes).init(device),
            std_pooling: self.std_pooling.unwrap_or(false),
            statistics: self
                .input_statistics
                .unwrap_or(false)
                .then(|| LinearConfig::new(STATISTICS_PER_BAND * self.n_mels, self.embedding_dim).init(device)),
        }
    }
}

/// [batch, time, channels] -> ([batch, channels] mean, [batch, channels] standard deviation)
fn mean_and_spread<B: Backend>(x: Tensor<B, 3>) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let [batch, _, channels] = x.dims();
    let mean = x.clone().mean_dim(1);
    let centred = x - mean.clone();
    let spread = (centred.clone() * centred).mean_dim(1).add_scalar(1e-5).sqrt();
    (mean.reshape([batch, channels]), spread.reshape([batch, channels]))
}

/// [batch, time, mels] -> [batch, 3 * mels]: each band's mean and spread over time and the
/// spread of its change from one frame to the next.
fn input_statistics<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 2> {
    let [batch, time, mels] = x.dims();
    let change = x.clone().slice([0..batch, 1..time, 0..mels]) - x.clone().slice([0..batch, 0..time - 1, 0..mels]);
    let (mean, spread) = mean_and_spread(x);
    let (_, change_spread) = mean_and_spread(change);
    Tensor::cat(vec![mean, spread, change_spread], 1)
}

impl<B: Backend> EmbeddingNet<B> {
    /// [batch, mels, frames] (normalised log-mel) -> [batch, embedding_dim]
    pub fn embed(&self, patches: Tensor<B, 3>) -> Tensor<B, 2> {
        let mut x = time_major(patches);
        let statistics = self.statistics.as_ref().map(|layer| layer.forward(input_statistics(x.clone())));
        for block in &self.blocks {
            x = block.forward(x);
        }
        // Pool over time: which timbres occur (mean) and their strongest moment (max) or how
        // much they vary (standard deviation), not when.
        let pooled = if self.std_pooling {
            let (mean, spread) = mean_and_spread(x);
            Tensor::cat(vec![mean, spread], 1)
        } else {
            let [batch, _, channels] = x.dims();
            let mean = x.clone().mean_dim(1).reshape([batch, channels]);
            Tensor::cat(vec![mean, x.max_dim(1).reshape([batch, channels])], 1)
        };
        let pooled = self.embedding.forward(pooled);
        match statistics {
            Some(statistics) => pooled + statistics,
            None => pooled,
        }
    }

    /// Adds the input-statistics path to a network that lacks it, with zero weights, so that the
    /// network's embedding is unchanged until training teaches the path something: fine-tuning a
    /// model trained without it keeps what that model learnt.
    pub fn with_input_statistics(mut self, device: &B::Device) -> Self {
        if self.statistics.is_none() {
            let [_, embedding_dim] = self.embedding.weight.shape().dims();
            let [n_mels_times_kernel, _] = self.blocks[0].weights.weight.shape().dims();
            let n_mels = n_mels_times_kernel / self.blocks[0].kernel;
            self.statistics = Some(
                LinearConfig::new(STATISTICS_PER_BAND * n_mels, embedding_dim)
                    .with_initializer(Initializer::Zeros)
                    .init(device),
            );
        }
        self
    }

    pub fn has_input_statistics(&self) -> bool {
        self.statistics.is_some()
    }

    /// The same network with a fresh classifier head for `n_classes` labels: fine-tuning keeps
    /// what the convolutions and the embedding layer learnt and learns the new labels on top.
    pub fn with_new_classifier(mut self, n_classes: usize, device: &B::Device) -> Self {
        let [_, embedding_dim] = self.embedding.weight.shape().dims();
        self.classifier = LinearConfig::new(embedding_dim, n_classes).init(device);
        self
    }

    /// The same network with its classifier head set to `weights` (one row of `embedding_dim`
    /// values per class) and `bias` (one per class): logits = `weights`·relu(embedding) + `bias`.
    pub fn with_classifier(mut self, weights: &[Vec<f32>], bias: &[f32], device: &B::Device) -> Self {
        let [_, embedding_dim] = self.embedding.weight.shape().dims();
        let classes = bias.len();
        assert!(
            weights.len() == classes && weights.iter().all(|row| row.len() == embedding_dim),
            "a head of {classes} classes over {embedding_dim} embedding values"
        );
        // Linear keeps its weight as [inputs, outputs].
        let mut transposed = vec![0.0f32; embedding_dim * classes];
        for (k, row) in weights.iter().enumerate() {
            for (j, &w) in row.iter().enumerate() {
                transposed[j * classes + k] = w;
            }
        }
        self.classifier = Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(transposed, [embedding_dim, classes]),
                device,
            )),
            bias: Some(Param::from_tensor(Tensor::from_data(TensorData::new(bias.to_vec(), [classes]), device))),
        };
        self
    }

    /// The head without its dropout, as a projection for a contrastive loss: [batch,
    /// embedding_dim] -> [batch, classes].
    pub fn project(&self, embedding: Tensor<B, 2>) -> Tensor<B, 2> {
        self.classifier.forward(relu(embedding))
    }

    /// [batch, mels, frames] -> (embeddings [batch, embedding_dim], logits [batch, classes])
    pub fn forward(&self, patches: Tensor<B, 3>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let embedding = self.embed(patches);
        let logits = self.head(embedding.clone());
        (embedding, logits)
    }

    /// The classifier head on embeddings: [batch, embedding_dim] -> logits [batch, classes].
    /// Its dropout is the network's only random step, which is why training runs it apart from
    /// [`Self::embed`] (on one thread, in one order).
    pub fn head(&self, embedding: Tensor<B, 2>) -> Tensor<B, 2> {
        self.classifier.forward(self.dropout.forward(relu(embedding)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CpuBackend as Cpu;

    #[test]
    fn pooling_pairs_gives_max_dim_s_values_and_gradients_ties_included() {
        use burn::backend::Autodiff;
        type Ad = Autodiff<Cpu>;
        let device = Default::default();
        // Step t, channel c of pair p = t / 2: the odd step is one more than the even one where
        // p * c is odd, else equal: 24 of the 32 pairs tie (9 at zero, as after the ReLU).
        let values: Vec<f32> = (0..2 * 8 * 4)
            .map(|i| {
                let (step, channel) = (i / 4, i % 4);
                let pair = step / 2;
                ((pair + channel) % 3 + (step % 2) * (pair * channel % 2)) as f32
            })
            .collect();
        let weights: Vec<f32> = (0..2 * 4 * 4).map(|i| i as f32 - 11.0).collect();
        let weights = Tensor::<Ad, 3>::from_data(TensorData::new(weights, [2, 4, 4]), &device);
        let run = |pool: &dyn Fn(Tensor<Ad, 3>) -> Tensor<Ad, 3>| {
            let x = Tensor::<Ad, 3>::from_data(TensorData::new(values.clone(), [2, 8, 4]), &device).require_grad();
            let y = pool(x.clone());
            let grads = (y.clone() * weights.clone()).sum().backward();
            let gradient = x.grad(&grads).expect("x requires a gradient");
            (
                y.into_data().to_vec::<f32>().expect("f32 output"),
                gradient.into_data().to_vec::<f32>().expect("f32 gradient"),
            )
        };
        let (pooled, gradient) = run(&|x| max_pool_pairs(x));
        let (expected, expected_gradient) = run(&|x| x.reshape([2, 4, 2, 4]).max_dim(2).reshape([2, 4, 4]));
        assert_eq!(pooled, expected);
        assert_eq!(gradient, expected_gradient);
        let ties = values.chunks(8).flat_map(|pair| (0..4).filter(move |&c| pair[c] == pair[c + 4])).count();
        assert_eq!(ties, 24, "the input must have ties and pairs that differ");
    }

    #[test]
    fn forward_gives_a_32_dim_embedding_and_one_logit_per_class() {
        let device = Default::default();
        let config = NetConfig::new(128, 128, 5);
        let net = config.init::<Cpu>(&device);
        let input = Tensor::<Cpu, 3>::zeros([3, 128, 128], &device);
        let (embedding, logits) = net.forward(input);
        assert_eq!(embedding.dims(), [3, 32]);
        assert_eq!(logits.dims(), [3, 5]);
    }

    #[test]
    fn statistics_pooling_gives_the_same_shapes_and_older_configs_load_without_it() {
        let device = Default::default();
        let net = NetConfig::new(64, 32, 3).with_std_pooling(Some(true)).init::<Cpu>(&device);
        let (embedding, logits) = net.forward(Tensor::<Cpu, 3>::ones([2, 64, 32], &device));
        assert_eq!((embedding.dims(), logits.dims()), ([2, 32], [2, 3]));
        let values = embedding.into_data().to_vec::<f32>().expect("values");
        assert!(values.iter().all(|v| v.is_finite()), "a constant input has zero spread, not NaN");
        let json = r#"{"n_mels":128,"patch_frames":128,"channels":[128,128,256,256],"kernel":3,"embedding_dim":32,"n_classes":4,"dropout":0.3}"#;
        let old: NetConfig = serde_json::from_str(json).expect("an older model.json's net");
        assert_eq!(old.std_pooling, None);
        assert_eq!(old, NetConfig::new(128, 128, 4), "the same network as before");
    }

    #[test]
    fn the_input_statistics_path_sees_what_the_convolutions_do_not() {
        let device = Default::default();
        let net = NetConfig::new(16, 32, 3).with_input_statistics(Some(true)).init::<Cpu>(&device);
        assert!(net.has_input_statistics());
        // Two patches whose every band has the same values in another order over time: their
        // means and spreads are the same, the spread of their change is not.
        let steady: Vec<f32> = (0..16 * 32).map(|i| if (i % 32) < 16 { 1.0 } else { -1.0 }).collect();
        let flicker: Vec<f32> = (0..16 * 32).map(|i| if (i % 32) % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let statistics = |values: Vec<f32>| {
            let x = Tensor::<Cpu, 3>::from_data(TensorData::new(values, [1, 16, 32]), &device);
            input_statistics(x.swap_dims(1, 2)).into_data().to_vec::<f32>().expect("values")
        };
        let (a, b) = (statistics(steady), statistics(flicker));
        assert_eq!(a.len(), 3 * 16);
        for band in 0..16 {
            assert!((a[band] - b[band]).abs() < 1e-6 && a[band].abs() < 1e-6, "means");
            assert!((a[16 + band] - 1.0).abs() < 1e-3 && (b[16 + band] - 1.0).abs() < 1e-3, "spreads");
            // One jump against one every frame: a spread of 0.35 against 2.
            assert!(
                b[32 + band] > 4.0 * a[32 + band],
                "the flicker changes every frame: {} vs {}",
                b[32 + band],
                a[32 + band]
            );
        }
        let (embedding, _) = net.forward(Tensor::<Cpu, 3>::zeros([2, 16, 32], &device));
        assert_eq!(embedding.dims(), [2, 32]);
    }

    #[test]
    fn a_head_set_from_weights_scores_the_embedding_s_relu_with_them() {
        let device = Default::default();
        let net = NetConfig::new(16, 32, 5).with_dropout(0.0).with_embedding_dim(4).init::<Cpu>(&device);
        let weights = vec![vec![1.0, 0.0, 0.0, 0.0], vec![0.0, 2.0, 0.0, -1.0]];
        let net = net.with_classifier(&weights, &[0.5, -0.25], &device);
        let embedding = Tensor::<Cpu, 2>::from_data(TensorData::new(vec![3.0f32, -1.0, 7.0, 2.0], [1, 4]), &device);
        let logits = net.project(embedding.clone()).into_data().to_vec::<f32>().expect("logits");
        // relu: (3, 0, 7, 2); class 0: 3 + 0.5; class 1: 0 - 2 - 0.25.
        assert_eq!(logits, vec![3.5, -2.25]);
        assert_eq!(net.head(embedding).dims(), [1, 2]);
    }

    #[test]
    fn any_patch_length_divisible_by_8_works() {
        let device = Default::default();
        let net = NetConfig::new(128, 64, 2).init::<Cpu>(&device);
        let (embedding, _) = net.forward(Tensor::<Cpu, 3>::zeros([1, 128, 64], &device));
        assert_eq!(embedding.dims(), [1, 32]);
    }
}

#[cfg(test)]
mod training_step_tests {
    use super::*;
    use crate::model::CpuBackend as Cpu;
    use burn::backend::Autodiff;
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::optim::{AdamConfig, GradientsParams, Optimizer};

    type B = Autodiff<Cpu>;

    #[test]
    fn one_optimiser_step_lowers_the_loss_on_a_tiny_batch() {
        let device = Default::default();
        B::seed(&device, 3);
        let mut net = NetConfig::new(64, 32, 2).with_dropout(0.0).with_channels([32, 32, 64, 64]).init::<B>(&device);
        let data: Vec<f32> = (0..4 * 64 * 32)
            .map(|i| if i < 2 * 64 * 32 { ((i % 7) as f32) / 3.0 - 1.0 } else { -((i % 5) as f32) / 2.0 })
            .collect();
        let input = Tensor::<B, 3>::from_data(TensorData::new(data, [4, 64, 32]), &device);
        let target = Tensor::<B, 1, Int>::from_data(TensorData::new(vec![0i64, 0, 1, 1], [4]), &device);
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let mut optimizer = AdamConfig::new().init();
        let loss_of = |net: &EmbeddingNet<B>| {
            let (_, logits) = net.forward(input.clone());
            loss_fn.forward(logits, target.clone())
        };
        let before = loss_of(&net);
        let before_value = before.clone().into_data().to_vec::<f32>().expect("loss")[0];
        let grads = GradientsParams::from_grads(before.backward(), &net);
        net = optimizer.step(1e-3, net, grads);
        let after_value = loss_of(&net).into_data().to_vec::<f32>().expect("loss")[0];
        assert!(after_value < before_value, "loss {before_value} -> {after_value}");
    }
}
