//! Embedding tracks with a trained model, on the CPU.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::softmax;
use rayon::prelude::*;

use super::data::track_patches;
use super::net::EmbeddingNet;
use super::store::{ModelInfo, load_model};
use crate::audio::LogMel;
use crate::error::ModelError;

/// A track's patches are cut into this many shards, embedded side by side, when threads are free
/// (one file dropped or located; an import's workers each embed tracks of their own).
const EMBEDDING_SHARDS: usize = 2;

/// A model ready to embed tracks, on the CPU backend.
pub type Embedder = BackendEmbedder<super::CpuBackend>;

/// A model ready to embed tracks on backend `B` (the model bench compares CPU backends with it).
pub struct BackendEmbedder<B: Backend> {
    pub info: ModelInfo,
    net: EmbeddingNet<B>,
    device: B::Device,
}

impl<B: Backend> BackendEmbedder<B> {
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let device = Default::default();
        let (info, net) = load_model::<B>(dir, &device)?;
        Ok(Self { info, net, device })
    }

    pub fn from_parts(info: ModelInfo, net: EmbeddingNet<B>) -> Self {
        Self { info, net, device: Default::default() }
    }

    fn patches(&self, mel: &LogMel) -> Tensor<B, 3> {
        let frames = self.info.net.patch_frames;
        let (count, data) = track_patches(mel, frames, &self.info.normaliser);
        Tensor::from_data(TensorData::new(data, [count, mel.n_mels, frames]), &self.device)
    }

    /// The track's embedding: the mean of its patches' embeddings.
    pub fn embed(&self, mel: &LogMel) -> Vec<f32> {
        self.embed_in(mel, if crate::audio::threads_are_free() { EMBEDDING_SHARDS } else { 1 })
    }

    /// [`Self::embed`] with the patches cut into `shards` embedded side by side on rayon's
    /// threads. Each patch goes through the network on its own (nothing in it mixes patches),
    /// so its embedding, and the mean of them all, is the same to the bit however the patches are
    /// cut (a test checks it).
    fn embed_in(&self, mel: &LogMel, shards: usize) -> Vec<f32> {
        let patches = self.patches(mel);
        let count = patches.dims()[0];
        let shards = shards.clamp(1, count.max(1));
        let per_shard = count.div_ceil(shards);
        let embeddings = if shards == 1 {
            self.net.embed(patches)
        } else {
            let parts: Vec<Tensor<B, 3>> = (0..count)
                .step_by(per_shard)
                .map(|start| patches.clone().narrow(0, start, per_shard.min(count - start)))
                .collect();
            let embedded: Vec<Tensor<B, 2>> = parts.into_par_iter().map(|part| self.net.embed(part)).collect();
            Tensor::cat(embedded, 0)
        };
        embeddings.mean_dim(0).into_data().to_vec::<f32>().unwrap_or_default()
    }

    /// Class probabilities for the track: the patches' softmax outputs, averaged.
    pub fn predict(&self, mel: &LogMel) -> Vec<f32> {
        let (_, logits) = self.net.forward(self.patches(mel));
        softmax(logits, 1).mean_dim(0).into_data().to_vec::<f32>().unwrap_or_default()
    }

    /// Embedding and class probabilities in one pass.
    pub fn embed_and_predict(&self, mel: &LogMel) -> (Vec<f32>, Vec<f32>) {
        let (embedding, logits) = self.net.forward(self.patches(mel));
        let embedding = embedding.mean_dim(0).into_data().to_vec::<f32>().unwrap_or_default();
        let probs = softmax(logits, 1).mean_dim(0).into_data().to_vec::<f32>().unwrap_or_default();
        (embedding, probs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::MelSettings;
    use crate::model::data::Normaliser;
    use crate::model::net::NetConfig;

    #[test]
    fn a_track_embedded_in_shards_side_by_side_is_the_same_to_the_bit() {
        let net_config = NetConfig::new(128, 128, 3);
        let normaliser = Normaliser { mean: vec![-40.0; 128], std: vec![12.0; 128] };
        let labels = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let info = ModelInfo::new(net_config.clone(), MelSettings::default(), "genre", labels, normaliser);
        <super::super::CpuBackend as Backend>::seed(&Default::default(), 7);
        let embedder = Embedder::from_parts(info, net_config.init(&Default::default()));
        // 30 s of varied log-mel: 1,292 frames, 16 patches.
        let n_frames = 1_292;
        let values = (0..128 * n_frames).map(|i| -60.0 + ((i * 7_919) % 1_013) as f32 / 20.0).collect();
        let mel = LogMel { n_mels: 128, n_frames, values };
        let whole = embedder.embed_in(&mel, 1);
        assert_eq!(whole.len(), 32);
        for shards in [2, 3, 5, 16] {
            let sharded = embedder.embed_in(&mel, shards);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&sharded), bits(&whole), "{shards} shards");
        }
        // Embedding with the class probabilities (as `evaluate --fold-vectors` does) gives the
        // same vector, so the figures judged beside the file are the file's.
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&embedder.embed_and_predict(&mel).0), bits(&whole));
    }
}
