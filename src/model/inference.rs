//! Embedding tracks with a trained model, on the CPU.

use std::path::Path;

use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::data::track_patches;
use super::net::EmbeddingNet;
use super::store::{ModelInfo, load_model};
use crate::audio::LogMel;
use crate::error::ModelError;

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
        let embeddings = self.net.embed(self.patches(mel));
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
