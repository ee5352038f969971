//! The song model: a CNN over log-mel patches (burn), trained to recognise genre; its last
//! hidden layer gives every track a 32-dimensional embedding. Plain Rust, no UI dependency.

mod allocator;
mod average;
pub mod crossval;
pub mod data;
mod denormals;
pub mod device;
mod embed;
pub mod evaluate;
mod fused;
mod inference;
pub mod kmeans;
mod net;
mod sharded;
mod store;
mod teacher;
mod training;
pub mod yardstick;

pub use allocator::reuse_freed_memory;
pub use denormals::FlushDenormals;
pub use device::{Adapter, Compute, DeviceChoice, choose as choose_device, gpu_adapters};
pub use embed::{
    EmbedReport, ModelForNewTracks, default_model_dir, embed_library, fine_tuning_base, model_for_new_tracks,
    recorded_model_dir,
};
pub use inference::{BackendEmbedder, Embedder};
pub use net::{EmbeddingNet, NetConfig};
pub use sharded::{BatchGradients, CPU_TRAINING_SHARDS, batch_gradients};
pub use store::{
    EMBEDDING_DIM, MODEL_FORMAT_VERSION, ModelInfo, check_compatible, load_model, load_model_info, model_id, save_model,
};
pub use teacher::{MAX_TEACHER_DIM, Teacher};
pub use training::{
    ClassCounts, EpochMetrics, LabelKind, MIN_TRACKS_PER_LABEL, TrainEvent, TrainOptions, TrainingMetrics, train,
    train_on,
};

/// The CPU backend: training without a GPU, and every embedding (burn's Flex, multi-threaded).
pub type CpuBackend = burn::backend::Flex;
/// The GPU backend (wgpu: Vulkan, Metal, DirectX 12 or OpenGL).
pub type GpuBackend = burn::backend::Wgpu;
