//! One training step's gradients with the batch's network work split over threads.
//!
//! Why: on the CPU backend most of a step outside the matrix products (copies for the unfold,
//! the max-pool's scatter, layer norm, element-wise ops) runs on one thread, so a second core
//! added almost nothing (516 patches/s on one core, 509 on two, where PyTorch gains half again).
//! Each shard of the batch runs the network on its own thread with its own autodiff graph, so
//! that serial work runs side by side.
//!
//! The loss stays one computation over the whole batch: contrastive losses compare every song of
//! the batch with every other, and the classifier head's dropout is the network's only random
//! step. So the shards compute the embeddings, the calling thread joins them into one tensor
//! that asks for its gradient, applies the head and the loss and runs their backward pass, and
//! each shard then back-propagates its rows of that gradient through its own graph (the chain
//! rule, split at the embedding). The gradients are summed in shard order: the same batch and
//! shard count give the same gradients on any number of cores, and the same as one thread up to
//! rounding (the sums over the batch are split in two).

use std::sync::mpsc;

use burn::module::AutodiffModule;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;

use super::denormals::FlushDenormals;
use super::net::EmbeddingNet;

/// Shards of a batch when training on the CPU. Fixed, not the number of cores, so that a model
/// trains to the same weights on any machine. Four, measured on 2 cores (batch 32, alternating
/// runs): 1.40-1.49x the batch in one piece, where two shards gave 1.27-1.38x and eight
/// 1.24-1.44x; while one shard waits for a matrix product the others' serial work runs. With
/// one thread in rayon's pool they run in turn on the caller (0.96x one piece, where threads
/// taking turns on one core gave 0.75x). On more cores each shard's matrix products use them all.
pub const CPU_TRAINING_SHARDS: usize = 4;

/// What one batch gave: the loss's value, what `loss_of` returned beside the loss, and the
/// gradients of every parameter (`None` when the loss is not finite: no backward pass is run).
pub struct BatchGradients<T> {
    pub loss: f32,
    pub extra: T,
    pub grads: Option<GradientsParams>,
}

/// The loss of `patches` ([batch, mels, frames]) through `model`'s embedding, the head and loss
/// that `loss_of` builds from the batch's embeddings, and its gradients. With `shards` of 1 the
/// whole step runs on the calling thread, as it always did (and must on the GPU backend).
pub fn batch_gradients<B: AutodiffBackend, T>(
    model: &EmbeddingNet<B>,
    patches: TensorData,
    shards: usize,
    device: &B::Device,
    loss_of: impl FnOnce(Tensor<B, 2>) -> (Tensor<B, 1>, T),
) -> BatchGradients<T> {
    let batch = patches.shape[0];
    let shards = shards.clamp(1, batch.max(1));
    if shards == 1 {
        let (loss, extra) = loss_of(model.embed(Tensor::from_data(patches, device)));
        let loss_value = scalar(&loss);
        let grads = loss_value.is_finite().then(|| GradientsParams::from_grads(loss.backward(), model));
        return BatchGradients { loss: loss_value, extra, grads };
    }

    let parts = split_rows(patches, shards);
    if rayon::current_num_threads() == 1 {
        // One core: the shards one after another on this thread, which is the same arithmetic
        // (so the same gradients to the bit) without threads taking turns on the core.
        let shards: Vec<_> = parts.into_iter().map(|part| shard_embedding(model, part, device)).collect();
        let embeddings = shards.iter().map(|(_, embedding)| embedding.clone().inner()).collect();
        let (loss, extra, rest) = loss_over_shards(model, embeddings, loss_of);
        let grads = rest.map(|(mut accumulator, gradients)| {
            for ((replica, embedding), gradient) in shards.into_iter().zip(gradients) {
                accumulator.accumulate(model, shard_gradients(&replica, embedding, gradient));
            }
            accumulator.grads()
        });
        return BatchGradients { loss, extra, grads };
    }

    std::thread::scope(|scope| {
        let mut workers = Vec::with_capacity(parts.len());
        for part in parts {
            let (embedding_out, embedding_in) = mpsc::channel::<Tensor<B::InnerBackend, 2>>();
            let (gradient_out, gradient_in) = mpsc::channel::<Tensor<B::InnerBackend, 2>>();
            let handle = scope.spawn(move || {
                let _flush = FlushDenormals::on_this_thread();
                let (replica, embedding) = shard_embedding(model, part, device);
                embedding_out.send(embedding.clone().inner()).ok()?;
                let gradient = gradient_in.recv().ok()?;
                Some(shard_gradients(&replica, embedding, gradient))
            });
            workers.push((embedding_in, gradient_out, handle));
        }

        let mut embeddings = Vec::with_capacity(workers.len());
        for (embedding_in, _, _) in &workers {
            match embedding_in.recv() {
                Ok(embedding) => embeddings.push(embedding),
                Err(_) => break,
            }
        }
        if embeddings.len() < workers.len() {
            // A shard ended without its embedding: it panicked. Its panic is this step's.
            let panics = workers.into_iter().filter_map(|(_, gradient_out, handle)| {
                drop(gradient_out);
                handle.join().err()
            });
            let panic = panics.last().unwrap_or_else(|| Box::new("a training shard ended early"));
            std::panic::resume_unwind(panic);
        }
        let (loss, extra, rest) = loss_over_shards(model, embeddings, loss_of);
        let Some((mut accumulator, gradients)) = rest else {
            // Dropping the senders ends each shard without its backward pass.
            for (_, gradient_out, handle) in workers {
                drop(gradient_out);
                let _ = handle.join();
            }
            return BatchGradients { loss, extra, grads: None };
        };
        for ((_, gradient_out, _), gradient) in workers.iter().zip(gradients) {
            // A shard that has died has dropped its receiver; its join below reports it.
            let _ = gradient_out.send(gradient);
        }
        for (_, _, handle) in workers {
            match handle.join() {
                Ok(Some(grads)) => accumulator.accumulate(model, grads),
                Ok(None) => panic!("a training shard ended without its gradients"),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        BatchGradients { loss, extra, grads: Some(accumulator.grads()) }
    })
}

/// A shard's embeddings, through a replica of `model`: the same parameters (same ids, shared
/// storage) in an autodiff graph of the shard's own.
fn shard_embedding<B: AutodiffBackend>(
    model: &EmbeddingNet<B>,
    part: TensorData,
    device: &B::Device,
) -> (EmbeddingNet<B>, Tensor<B, 2>) {
    let replica = EmbeddingNet::<B>::from_inner(model.valid());
    let embedding = replica.embed(Tensor::from_inner(Tensor::<B::InnerBackend, 3>::from_data(part, device)));
    (replica, embedding)
}

/// A shard's share of the parameters' gradients, given the loss's gradient for its embeddings:
/// d/dθ of Σ embedding · gradient.
fn shard_gradients<B: AutodiffBackend>(
    replica: &EmbeddingNet<B>,
    embedding: Tensor<B, 2>,
    gradient: Tensor<B::InnerBackend, 2>,
) -> GradientsParams {
    let surrogate = (embedding * Tensor::<B, 2>::from_inner(gradient)).sum();
    GradientsParams::from_grads(surrogate.backward(), replica)
}

/// The shards' embeddings joined in order into one tensor that asks for its gradient, the head
/// and loss on it, and their backward pass: the loss's value, `extra`, and (when the loss is
/// finite) an accumulator holding the head's gradients with each shard's rows of the
/// embeddings' gradient.
#[allow(clippy::type_complexity)]
fn loss_over_shards<B: AutodiffBackend, T>(
    model: &EmbeddingNet<B>,
    embeddings: Vec<Tensor<B::InnerBackend, 2>>,
    loss_of: impl FnOnce(Tensor<B, 2>) -> (Tensor<B, 1>, T),
) -> (f32, T, Option<(GradientsAccumulator<EmbeddingNet<B>>, Vec<Tensor<B::InnerBackend, 2>>)>) {
    let rows: Vec<usize> = embeddings.iter().map(|e| e.dims()[0]).collect();
    let joined = Tensor::<B, 2>::from_inner(Tensor::cat(embeddings, 0)).require_grad();
    let (loss, extra) = loss_of(joined.clone());
    let loss_value = scalar(&loss);
    if !loss_value.is_finite() {
        return (loss_value, extra, None);
    }
    let mut head_grads = loss.backward();
    let gradient = joined.grad_remove(&mut head_grads).expect("the loss depends on the embeddings");
    let mut accumulator = GradientsAccumulator::<EmbeddingNet<B>>::new();
    accumulator.accumulate(model, GradientsParams::from_grads(head_grads, model));
    let [_, width] = gradient.dims();
    let mut start = 0;
    let parts = rows
        .into_iter()
        .map(|n| {
            let part = gradient.clone().slice([start..start + n, 0..width]);
            start += n;
            part
        })
        .collect();
    (loss_value, extra, Some((accumulator, parts)))
}

fn scalar<B: Backend>(loss: &Tensor<B, 1>) -> f32 {
    loss.clone().into_data().to_vec::<f32>().ok().and_then(|v| v.first().copied()).unwrap_or(f32::NAN)
}

/// Splits a [batch, ...] tensor's data into `shards` runs of whole rows, the first ones larger
/// by one row when the batch does not divide.
fn split_rows(data: TensorData, shards: usize) -> Vec<TensorData> {
    let shape = data.shape.clone();
    let batch = shape[0];
    let row: usize = shape[1..].iter().product();
    let values = data.to_vec::<f32>().expect("patches are f32");
    let (base, extra) = (batch / shards, batch % shards);
    let mut parts = Vec::with_capacity(shards);
    let mut start = 0;
    for shard in 0..shards {
        let rows = base + usize::from(shard < extra);
        let mut part_shape = shape.to_vec();
        part_shape[0] = rows;
        parts.push(TensorData::new(values[start * row..(start + rows) * row].to_vec(), part_shape));
        start += rows;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CpuBackend as Cpu;
    use crate::model::NetConfig;
    use burn::backend::Autodiff;
    use burn::module::{ModuleVisitor, Param, ParamId};

    type B = Autodiff<Cpu>;

    /// Every parameter's gradient, flattened, by parameter id.
    struct Collect<'a> {
        grads: &'a GradientsParams,
        out: Vec<(ParamId, Vec<f32>)>,
    }

    impl ModuleVisitor<B> for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let values = self
                .grads
                .get::<Cpu, D>(param.id)
                .map(|g| g.into_data().to_vec::<f32>().expect("f32"))
                .unwrap_or_default();
            self.out.push((param.id, values));
        }
    }

    fn gradients(net: &EmbeddingNet<B>, grads: &GradientsParams) -> Vec<(ParamId, Vec<f32>)> {
        let mut collect = Collect { grads, out: Vec::new() };
        net.visit(&mut collect);
        collect.out
    }

    /// A loss that couples the batch's rows (as the contrastive ones do) and goes through the
    /// head: sharding must give the whole batch's gradients, not each shard's alone.
    fn coupled_loss(net: &EmbeddingNet<B>) -> impl FnOnce(Tensor<B, 2>) -> (Tensor<B, 1>, usize) + '_ {
        |embedding: Tensor<B, 2>| {
            let similarity = embedding.clone().matmul(embedding.clone().transpose());
            let logits = net.head(embedding);
            ((similarity.powf_scalar(2.0).mean() + logits.mean()).reshape([1]), 7)
        }
    }

    #[test]
    fn sharded_gradients_are_the_whole_batchs_up_to_rounding() {
        let device = Default::default();
        let net = NetConfig::new(16, 16, 3).with_dropout(0.0).with_channels([8, 8, 16, 16]).init::<B>(&device);
        let values: Vec<f32> = (0..5 * 16 * 16).map(|i| ((i * 37 % 101) as f32) / 50.0 - 1.0).collect();
        let patches = TensorData::new(values, [5, 16, 16]);

        let whole = batch_gradients(&net, patches.clone(), 1, &device, coupled_loss(&net));
        let whole_grads = gradients(&net, whole.grads.as_ref().expect("finite"));
        assert!(whole_grads.iter().all(|(_, g)| !g.is_empty()), "every parameter has a gradient");
        for shards in [2, 3, 5] {
            let split = batch_gradients(&net, patches.clone(), shards, &device, coupled_loss(&net));
            assert_eq!(split.extra, 7);
            assert!((split.loss - whole.loss).abs() <= 1e-6 * whole.loss.abs().max(1.0));
            let split_grads = gradients(&net, split.grads.as_ref().expect("finite"));
            for ((id, a), (_, b)) in whole_grads.iter().zip(&split_grads) {
                assert_eq!(a.len(), b.len(), "parameter {id}: a gradient from each path");
                let scale = a.iter().map(|v| v.abs()).fold(0.0f32, f32::max).max(1e-6);
                let largest = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
                assert!(largest <= 1e-4 * scale, "{shards} shards, parameter {id}: off by {largest} of {scale}");
            }
        }
    }

    #[test]
    fn the_same_shards_give_the_same_gradients_bit_for_bit() {
        let device = Default::default();
        let net = NetConfig::new(16, 16, 3).with_dropout(0.0).with_channels([8, 8, 16, 16]).init::<B>(&device);
        let values: Vec<f32> = (0..4 * 16 * 16).map(|i| ((i * 53 % 97) as f32) / 40.0 - 1.2).collect();
        let run = || {
            let result =
                batch_gradients(&net, TensorData::new(values.clone(), [4, 16, 16]), 2, &device, coupled_loss(&net));
            gradients(&net, result.grads.as_ref().expect("finite"))
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn shards_on_one_thread_give_the_gradients_that_shards_on_threads_give() {
        let device = Default::default();
        let net = NetConfig::new(16, 16, 3).with_dropout(0.0).with_channels([8, 8, 16, 16]).init::<B>(&device);
        let values: Vec<f32> = (0..6 * 16 * 16).map(|i| ((i * 29 % 89) as f32) / 30.0 - 1.4).collect();
        let run = || {
            let patches = TensorData::new(values.clone(), [6, 16, 16]);
            let result = batch_gradients(&net, patches, 3, &device, coupled_loss(&net));
            (result.loss, gradients(&net, result.grads.as_ref().expect("finite")))
        };
        let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a pool");
        let inline = one_thread.install(|| {
            assert_eq!(rayon::current_num_threads(), 1);
            run()
        });
        let two_threads = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a pool");
        assert_eq!(inline, two_threads.install(run));
    }

    #[test]
    fn a_loss_that_is_not_finite_gives_no_gradients_and_ends_every_shard() {
        let device = Default::default();
        let net = NetConfig::new(16, 16, 3).with_channels([8, 8, 16, 16]).init::<B>(&device);
        let patches = TensorData::new(vec![0.5f32; 4 * 16 * 16], [4, 16, 16]);
        let result = batch_gradients(&net, patches, 2, &device, |embedding: Tensor<B, 2>| {
            (embedding.sum().div_scalar(0.0).reshape([1]), ())
        });
        assert!(!result.loss.is_finite());
        assert!(result.grads.is_none());
    }

    #[test]
    fn rows_split_into_runs_that_cover_the_batch_in_order() {
        let data = TensorData::new((0..5 * 2).map(|v| v as f32).collect::<Vec<_>>(), [5, 2]);
        let parts = split_rows(data, 2);
        assert_eq!(parts[0].shape.to_vec(), vec![3, 2]);
        assert_eq!(parts[1].shape.to_vec(), vec![2, 2]);
        let joined: Vec<f32> = parts.into_iter().flat_map(|p| p.to_vec::<f32>().expect("f32")).collect();
        assert_eq!(joined, (0..10).map(|v| v as f32).collect::<Vec<_>>());
    }
}
