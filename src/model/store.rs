//! A trained model on disk: `model.json` (the network's burn config, the analysis settings, the
//! labels and the input normalisation) beside `model.mpk` (the weights, burn's named MessagePack
//! record). Both are written atomically; loading checks that they belong together.

use std::io::Write;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use serde::{Deserialize, Serialize};

use super::data::Normaliser;
use super::net::{EmbeddingNet, NetConfig};
use crate::audio::MelSettings;
use crate::error::{FileError, FileProblem, ModelError};
use crate::fsutil::write_atomically;

const FORMAT_NAME: &str = "songspace-model";
pub const MODEL_FORMAT_VERSION: u32 = 1;
/// The embedding size the rest of songspace (map, neighbours) is built around.
pub const EMBEDDING_DIM: usize = 32;

/// Everything about a model except its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub format: String,
    pub version: u32,
    pub net: NetConfig,
    pub mel: MelSettings,
    /// What the classifier head predicts: "genre", "artist" or "album".
    pub label_kind: String,
    /// Class names, in the order of the classifier's outputs.
    pub labels: Vec<String>,
    pub normaliser: Normaliser,
    /// The file beside model.json that holds the weights, named by their content so that a
    /// save writes new weights under a new name and then switches model.json (a kill leaves the
    /// old model or the new one). `None` in older models and the shipped ones: `model.mpk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<String>,
}

impl ModelInfo {
    pub fn new(
        net: NetConfig,
        mel: MelSettings,
        label_kind: &str,
        labels: Vec<String>,
        normaliser: Normaliser,
    ) -> Self {
        Self {
            format: FORMAT_NAME.into(),
            version: MODEL_FORMAT_VERSION,
            net,
            mel,
            label_kind: label_kind.into(),
            labels,
            normaliser,
            weights: None,
        }
    }
}

pub fn info_path(dir: &Path) -> PathBuf {
    dir.join("model.json")
}

/// The weights of the model whose description is `info`, in `dir`.
pub fn weights_path(dir: &Path, info: &ModelInfo) -> PathBuf {
    dir.join(info.weights.as_deref().unwrap_or(PLAIN_WEIGHTS))
}

/// The weights' file name in models that do not name it.
const PLAIN_WEIGHTS: &str = "model.mpk";

/// A weights file name that model.json may give: `model.<16 hex digits>.mpk` or `model.mpk`.
fn is_weights_name(name: &str) -> bool {
    name == PLAIN_WEIGHTS
        || name
            .strip_prefix("model.")
            .and_then(|rest| rest.strip_suffix(".mpk"))
            .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a of `bytes`, continuing from `hash` (start from [`FNV_OFFSET`]): stable across runs and
/// platforms, unlike std's hasher.
fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::new()
}

/// Saves a model in one step: the weights go to a new file named by their content, then
/// model.json, which names it, replaces the old description atomically, and only then are the
/// weights it no longer names removed. A kill at any instant leaves the folder's old model or
/// the new one, never new weights under an old description.
pub fn save_model<B: Backend>(dir: &Path, info: &ModelInfo, net: &EmbeddingNet<B>) -> Result<(), ModelError> {
    // burn initialises parameters lazily, and a clone of a never-used module would draw its own
    // random weights: run it once so the clone below records the weights `net` really has.
    let _ = probe(info, net);
    let weights = Recorder::<B>::record(&recorder(), net.clone().into_record(), ()).map_err(|e| {
        ModelError::Corrupt { path: dir.join(PLAIN_WEIGHTS), problem: format!("cannot encode weights: {e}") }
    })?;
    let info = ModelInfo { weights: Some(format!("model.{:016x}.mpk", fnv1a(FNV_OFFSET, &weights))), ..info.clone() };
    let weights_file = weights_path(dir, &info);
    write_atomically(&weights_file, |out| out.write_all(&weights))?;
    let json = serde_json::to_vec_pretty(&info)
        .map_err(|e| FileError::new(&info_path(dir), FileProblem::Format(e.to_string())))?;
    write_atomically(&info_path(dir), |out| out.write_all(&json))?;
    // Weights no description names any more (the replaced model's, or a killed save's).
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if is_weights_name(&name) && entry.path() != weights_file {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

/// Reads and checks `model.json`.
pub fn load_model_info(dir: &Path) -> Result<ModelInfo, ModelError> {
    let path = info_path(dir);
    if !path.is_file() {
        return Err(ModelError::Missing(dir.to_path_buf()));
    }
    let bytes = std::fs::read(&path).map_err(|e| FileError::new(&path, FileProblem::Io(e)))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| ModelError::Corrupt { path: path.clone(), problem: format!("not valid JSON ({e})") })?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT_NAME) {
        return Err(ModelError::Corrupt { path, problem: "not a songspace model description".into() });
    }
    let version = value.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version > u64::from(MODEL_FORMAT_VERSION) {
        return Err(ModelError::Mismatch {
            path,
            what: format!(
                "written by a newer songspace (model format {version}; this build reads up to {MODEL_FORMAT_VERSION})"
            ),
        });
    }
    let info: ModelInfo = serde_json::from_value(value).map_err(|e| ModelError::Corrupt {
        path: path.clone(),
        problem: format!("incomplete model description ({e})"),
    })?;
    let mismatch = |what: String| Err(ModelError::Mismatch { path: path.clone(), what });
    let corrupt = |problem: String| ModelError::Corrupt { path: path.clone(), problem };
    if let Some(name) = &info.weights
        && !is_weights_name(name)
    {
        return Err(corrupt(format!("weights {name:?} is not a weights file name beside it (model.<16 hex>.mpk)")));
    }
    if !weights_path(dir, &info).is_file() {
        return Err(ModelError::Missing(dir.to_path_buf()));
    }
    info.mel.check().map_err(corrupt)?;
    check_network(&info).map_err(corrupt)?;
    if info.net.embedding_dim != EMBEDDING_DIM {
        return mismatch(format!(
            "makes {}-dimensional embeddings; songspace uses {EMBEDDING_DIM}",
            info.net.embedding_dim
        ));
    }
    if info.labels.len() != info.net.n_classes {
        return mismatch(format!("lists {} labels for {} classifier outputs", info.labels.len(), info.net.n_classes));
    }
    if info.normaliser.mean.len() != info.net.n_mels || info.normaliser.std.len() != info.net.n_mels {
        return mismatch("its normalisation does not match its number of mel bands".into());
    }
    if info.mel.n_mels != info.net.n_mels {
        return mismatch(format!("network takes {} mel bands, analysis makes {}", info.net.n_mels, info.mel.n_mels));
    }
    if !info.net.patch_frames.is_multiple_of(8) || info.net.patch_frames == 0 {
        return mismatch(format!("patch length {} is not a multiple of 8 (three poolings)", info.net.patch_frames));
    }
    Ok(info)
}

/// Checks the network and normalisation a model.json describes before a network is built from
/// them (a huge channel count would abort on allocation, a dropout of 2 panics in burn).
fn check_network(info: &ModelInfo) -> Result<(), String> {
    let net = &info.net;
    let within = |field: &str, value: usize, low: usize, high: usize| {
        if (low..=high).contains(&value) {
            Ok(())
        } else {
            Err(format!("net.{field} is {value}, outside the allowed {low} to {high}"))
        }
    };
    within("n_mels", net.n_mels, 1, 512)?;
    within("patch_frames", net.patch_frames, 8, 4096)?;
    within("kernel", net.kernel, 1, 15)?;
    for &channels in &net.channels {
        within("channels", channels, 1, 2048)?;
    }
    within("n_classes", net.n_classes, 1, 100_000)?;
    if !(0.0..1.0).contains(&net.dropout) {
        return Err(format!("net.dropout is {}, outside the allowed [0, 1)", net.dropout));
    }
    let normaliser = &info.normaliser;
    if normaliser.mean.iter().chain(&normaliser.std).any(|v| !v.is_finite()) {
        return Err("normaliser holds a value that is not a number".into());
    }
    if normaliser.std.iter().any(|&s| s <= 0.0) {
        return Err("normaliser.std holds a value that is not above 0".into());
    }
    Ok(())
}

/// Loads a model for `device`, checking its description and that the weights fit it.
pub fn load_model<B: Backend>(dir: &Path, device: &B::Device) -> Result<(ModelInfo, EmbeddingNet<B>), ModelError> {
    let info = load_model_info(dir)?;
    let path = weights_path(dir, &info);
    let bytes = std::fs::read(&path).map_err(|e| FileError::new(&path, FileProblem::Io(e)))?;
    let net = load_weights(&info, bytes, device).map_err(|problem| ModelError::Corrupt { path, problem })?;
    Ok((info, net))
}

fn load_weights<B: Backend>(info: &ModelInfo, bytes: Vec<u8>, device: &B::Device) -> Result<EmbeddingNet<B>, String> {
    let record = Recorder::<B>::load(&recorder(), bytes, device).map_err(|e| format!("damaged weights ({e})"))?;
    let net = info.net.init::<B>(device).load_record(record);
    // burn takes the tensors as they are; weights of other shapes would only fail (panic) in
    // the first forward pass, so run one now and turn a misfit into an error.
    match probe(info, &net) {
        Some(([1, e], [1, c])) if e == info.net.embedding_dim && c == info.net.n_classes => Ok(net),
        _ => Err("the weights do not fit the network described in model.json".to_string()),
    }
}

/// One forward pass on a silent patch: the output shapes, or None if the network panicked.
fn probe<B: Backend>(info: &ModelInfo, net: &EmbeddingNet<B>) -> Option<([usize; 2], [usize; 2])> {
    let device = net.devices().into_iter().next().unwrap_or_default();
    let input = Tensor::<B, 3>::zeros([1, info.net.n_mels, info.net.patch_frames], &device);
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let shapes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (embedding, logits) = net.forward(input);
        (embedding.dims(), logits.dims())
    }));
    std::panic::set_hook(quiet);
    shapes.ok()
}

/// Checks that a model can embed a library's features.
pub fn check_compatible(info: &ModelInfo, model_dir: &Path, library_mel: &MelSettings) -> Result<(), ModelError> {
    if info.mel != *library_mel {
        let m = &info.mel;
        let l = library_mel;
        return Err(ModelError::Mismatch {
            path: model_dir.to_path_buf(),
            what: format!(
                "trained on other features ({} Hz, n_fft {}, hop {}, {} mels) than this library has ({} Hz, n_fft {}, hop {}, {} mels)",
                m.sample_rate, m.n_fft, m.hop_length, m.n_mels, l.sample_rate, l.n_fft, l.hop_length, l.n_mels
            ),
        });
    }
    Ok(())
}

/// A short fingerprint of a model's two files: embeddings remember which model made them.
pub fn model_id(dir: &Path) -> Result<String, ModelError> {
    let info = load_model_info(dir)?;
    let mut hash = FNV_OFFSET;
    for path in [info_path(dir), weights_path(dir, &info)] {
        let bytes = std::fs::read(&path).map_err(|e| FileError::new(&path, FileProblem::Io(e)))?;
        hash = fnv1a(hash, &bytes);
    }
    Ok(format!("{hash:016x}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CpuBackend as Cpu;
    use crate::model::data::Normaliser;

    fn tiny() -> (ModelInfo, EmbeddingNet<Cpu>) {
        let net_config = NetConfig::new(128, 64, 3);
        let normaliser = Normaliser { mean: vec![-40.0; 128], std: vec![12.0; 128] };
        let labels = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let info = ModelInfo::new(net_config.clone(), MelSettings::default(), "genre", labels, normaliser);
        <Cpu as Backend>::seed(&Default::default(), 1);
        (info, net_config.init(&Default::default()))
    }

    fn input() -> Tensor<Cpu, 3> {
        let data: Vec<f32> = (0..2 * 128 * 64).map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0).collect();
        Tensor::from_data(TensorData::new(data, [2, 128, 64]), &Default::default())
    }

    #[test]
    fn save_then_load_gives_identical_outputs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, net) = tiny();
        save_model(dir.path(), &info, &net).expect("save");
        let (loaded_info, loaded) = load_model::<Cpu>(dir.path(), &Default::default()).expect("load");
        assert!(loaded_info.weights.is_some(), "model.json names its weights");
        assert_eq!(ModelInfo { weights: None, ..loaded_info }, info);
        let before = net.embed(input()).into_data().to_vec::<f32>().expect("data");
        let after = loaded.embed(input()).into_data().to_vec::<f32>().expect("data");
        assert_eq!(before, after);
    }

    #[test]
    fn a_base_saved_without_input_statistics_gains_them_and_both_load_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, net) = tiny();
        let base_dir = dir.path().join("base");
        save_model(&base_dir, &info, &net).expect("save the base");
        // Fine-tuning adds the path with zero weights: the base's embedding is unchanged.
        let (mut grown_info, base) = load_model::<Cpu>(&base_dir, &Default::default()).expect("load the base");
        let grown = base.with_input_statistics(&Default::default());
        assert!(grown.has_input_statistics());
        let before = net.embed(input()).into_data().to_vec::<f32>().expect("data");
        assert_eq!(grown.embed(input()).into_data().to_vec::<f32>().expect("data"), before);
        // Saved and loaded with it, from the description alone.
        grown_info.net.input_statistics = Some(true);
        grown_info.weights = None;
        let grown_dir = dir.path().join("grown");
        save_model(&grown_dir, &grown_info, &grown).expect("save the grown model");
        let (loaded_info, loaded) = load_model::<Cpu>(&grown_dir, &Default::default()).expect("load it back");
        assert_eq!(loaded_info.net.input_statistics, Some(true));
        assert!(loaded.has_input_statistics());
        assert_eq!(loaded.embed(input()).into_data().to_vec::<f32>().expect("data"), before);
    }

    #[test]
    fn damaged_or_mismatched_models_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, net) = tiny();
        let err = load_model::<Cpu>(dir.path(), &Default::default()).expect_err("empty folder").to_string();
        assert!(err.contains("no model here"), "{err}");

        save_model(dir.path(), &info, &net).expect("save");
        let saved = load_model_info(dir.path()).expect("info");
        std::fs::write(weights_path(dir.path(), &saved), b"not messagepack at all").expect("garble");
        let err = load_model::<Cpu>(dir.path(), &Default::default()).expect_err("garbled").to_string();
        assert!(err.contains(".mpk") && err.contains("damaged weights"), "{err}");

        // Weights of another shape than the description says.
        let other = NetConfig::new(128, 64, 5).init::<Cpu>(&Default::default());
        save_model(dir.path(), &info, &other).expect("save");
        let err = load_model::<Cpu>(dir.path(), &Default::default()).expect_err("other shape").to_string();
        assert!(err.contains("do not fit"), "{err}");

        let mut wide = info.clone();
        wide.net.embedding_dim = 64;
        save_model(dir.path(), &wide, &net).expect("save");
        let err = load_model_info(dir.path()).expect_err("64-dim").to_string();
        assert!(err.contains("64-dimensional") && err.contains("model.json"), "{err}");

        std::fs::write(info_path(dir.path()), b"{ \"format\": \"songspace-model\", ").expect("cut");
        let err = load_model_info(dir.path()).expect_err("cut json").to_string();
        assert!(err.contains("not valid JSON"), "{err}");

        let other_mel = MelSettings { hop_length: 256, ..MelSettings::default() };
        let err = check_compatible(&info, dir.path(), &other_mel).expect_err("hop").to_string();
        assert!(err.contains("hop 512") && err.contains("hop 256"), "{err}");
    }

    #[test]
    fn values_a_model_json_states_are_checked_before_a_network_is_built() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, net) = tiny();
        type Case = (fn(&mut ModelInfo), &'static str);
        let cases: [Case; 5] = [
            (|i| i.net.dropout = 2.0, "net.dropout is 2, outside the allowed [0, 1)"),
            (|i| i.net.channels[1] = 1 << 40, "net.channels is 1099511627776, outside the allowed 1 to 2048"),
            (|i| i.mel.hop_length = 0, "hop_length is 0"),
            (|i| i.normaliser.std[3] = 0.0, "normaliser.std"),
            // Written as 1e39 below: a number JSON allows that no f32 holds (it reads as infinity).
            (|i| i.normaliser.mean[0] = 12345.5, "not a number"),
        ];
        for (change, expected) in cases {
            save_model(dir.path(), &info, &net).expect("save");
            let mut bad = load_model_info(dir.path()).expect("saved");
            change(&mut bad);
            let json = serde_json::to_string(&bad).expect("json").replace("12345.5", "1e39");
            std::fs::write(info_path(dir.path()), json).expect("write");
            let err = load_model::<Cpu>(dir.path(), &Default::default()).expect_err(expected).to_string();
            assert!(err.contains(expected) && err.contains("model.json"), "{err}");
        }
    }

    /// The weights files in a model folder, by name.
    fn weights_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("folder")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".mpk"))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_model_is_replaced_in_one_step_and_older_folders_still_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (info, net) = tiny();
        let outputs = |dir: &Path| {
            let (_, loaded) = load_model::<Cpu>(dir, &Default::default()).expect("load");
            loaded.embed(input()).into_data().to_vec::<f32>().expect("values")
        };
        save_model(dir.path(), &info, &net).expect("save");
        let first = load_model_info(dir.path()).expect("info");
        let first_name = first.weights.clone().expect("the weights are named");
        assert_eq!(weights_files(dir.path()), vec![first_name.clone()]);
        let first_outputs = outputs(dir.path());
        let first_id = model_id(dir.path()).expect("id");
        let old = tempfile::tempdir().expect("tempdir");
        std::fs::copy(dir.path().join(&first_name), old.path().join("model.mpk")).expect("copy");

        // A second model's save killed after its weights were written, before model.json: the
        // folder still holds the first model, whole.
        <Cpu as Backend>::seed(&Default::default(), 2);
        let second: EmbeddingNet<Cpu> = info.net.init(&Default::default());
        let elsewhere = tempfile::tempdir().expect("tempdir");
        save_model(elsewhere.path(), &info, &second).expect("save");
        let second_name = load_model_info(elsewhere.path()).expect("info").weights.expect("named");
        assert_ne!(second_name, first_name, "named by content");
        std::fs::copy(elsewhere.path().join(&second_name), dir.path().join(&second_name)).expect("copy");
        assert_eq!(outputs(dir.path()), first_outputs);
        assert_eq!(model_id(dir.path()).expect("id"), first_id);

        // The save completed: the second model, and only its weights remain.
        save_model(dir.path(), &info, &second).expect("save");
        assert_eq!(weights_files(dir.path()), vec![second_name]);
        assert_ne!(outputs(dir.path()), first_outputs);

        // A folder of the older layout (model.mpk, model.json without a name) loads as before.
        let json = serde_json::to_vec(&ModelInfo { weights: None, ..first.clone() }).expect("json");
        std::fs::write(info_path(old.path()), json).expect("write");
        assert_eq!(outputs(old.path()), first_outputs);

        // A name that is not a weights file beside model.json is refused, naming the field.
        let json = serde_json::to_vec(&ModelInfo { weights: Some("../../etc/passwd".into()), ..first }).expect("json");
        std::fs::write(info_path(old.path()), json).expect("write");
        let err = load_model_info(old.path()).expect_err("outside").to_string();
        assert!(err.contains("model.json") && err.contains("weights") && err.contains("passwd"), "{err}");
    }
}
