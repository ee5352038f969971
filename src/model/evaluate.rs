//! `songspace evaluate`: how well a library's embeddings (or a model's) group songs by genre,
//! against hand-made features computed from the same audio, under the album-disjoint protocol
//! of [`super::yardstick`].
//!
//! Representations compared:
//! - the embeddings under test: a model's (it embeds the cached log-mel), or the vectors saved
//!   with the library (whatever made them);
//! - the classic descriptor ([`crate::audio::ClassicAnalyser`]: MFCC with deltas, spectral
//!   contrast, chroma, zero-crossing rate, coarse log-mel bands; 152 values), decoded again from
//!   each song's file over the span its features cover: the strong baseline;
//! - MFCC-20 mean and standard deviation (part of the classic descriptor) and log-mel (128
//!   bands) mean and standard deviation from the cached features: the weak baselines.
//!
//! Hand-made features are standardised per dimension over the songs before neighbours are
//! searched; embeddings are used as they are, as the map uses them.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::inference::Embedder;
use super::store::check_compatible;
use super::yardstick::{self, Protocol, RepresentationScores, SongGroups, standardise};
use crate::audio::{CLASSIC_DIMS, ClassicAnalyser, LogMel, MAX_ANALYSIS_SECONDS, Span, decode_file, mfcc_statistics};
use crate::error::TrainError;
use crate::library::{EmbeddingSource, FeatureCache, Library, Track, load_embeddings};

/// Which embeddings to judge.
#[derive(Debug, Clone)]
pub enum EmbeddingsUnderTest {
    /// Embed every song with the model in this folder.
    Model(PathBuf),
    /// The vectors saved beside the library.
    Library,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvaluationReport {
    pub songs: usize,
    pub albums: usize,
    pub labels: Vec<String>,
    pub protocol: Protocol,
    /// Label precision at 3 if neighbours from other albums were drawn at random.
    pub chance_p_at_3: f32,
    /// What the embeddings under test are.
    pub embeddings: String,
    /// Songs left out, with the reason (no genre, no features, undecodable file).
    pub skipped: Vec<(PathBuf, String)>,
    /// The embeddings first, then the classic descriptor, then the weak baselines.
    pub rows: Vec<RepresentationScores>,
}

/// A function giving a song's embedding from its track and cached log-mel.
pub type EmbedFn<'a> = dyn Fn(&Track, &LogMel) -> Option<Vec<f32>> + Sync + 'a;

/// Every song of a library that has a genre and features, with its representations.
pub struct MeasuredSongs {
    pub track_ids: Vec<u64>,
    pub songs: SongGroups,
    pub labels: Vec<String>,
    /// Empty vectors when no embedding was asked for.
    pub embedded: Vec<Vec<f32>>,
    /// Standardised over the songs.
    pub classic: Vec<Vec<f32>>,
    pub mfcc: Vec<Vec<f32>>,
    pub logmel: Vec<Vec<f32>>,
    pub skipped: Vec<(PathBuf, String)>,
}

/// Decodes and analyses every song with a genre and features (each on its own: one that fails,
/// or panics in a decoder, is left out with its reason), and embeds it with `embed` if given.
pub fn measure_songs(
    library: &Library,
    library_path: &Path,
    embed: Option<&EmbedFn<'_>>,
) -> Result<MeasuredSongs, TrainError> {
    let mut skipped: Vec<(PathBuf, String)> = Vec::new();
    let candidates: Vec<&Track> = library
        .tracks
        .iter()
        .filter(|t| {
            let reason = match (&t.genre, &t.features) {
                (None, _) => "no genre",
                (_, None) => "not analysed",
                _ => return true,
            };
            skipped.push((t.path.clone(), reason.into()));
            false
        })
        .collect();
    let cache = FeatureCache::for_library(library_path);
    let analyser = ClassicAnalyser::new(library.mel);
    let measured: Vec<Result<SongRepresentations, String>> = candidates
        .par_iter()
        .map(|track| {
            std::panic::catch_unwind(AssertUnwindSafe(|| represent(library, &cache, &analyser, embed, track)))
                .unwrap_or_else(|_| Err("the analysis panicked on this file".into()))
        })
        .collect();

    let mut genre_names: Vec<String> = Vec::new();
    let mut album_names: Vec<String> = Vec::new();
    let index_of = |names: &mut Vec<String>, name: String| match names.iter().position(|n| *n == name) {
        Some(i) => i,
        None => {
            names.push(name);
            names.len() - 1
        }
    };
    let (mut label, mut album, mut track_ids) = (Vec::new(), Vec::new(), Vec::new());
    let (mut embedded, mut classic, mut mfcc, mut logmel) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (track, result) in candidates.iter().zip(measured) {
        match result {
            Ok(r) => {
                label.push(index_of(&mut genre_names, track.genre.clone().unwrap_or_default()));
                album.push(index_of(&mut album_names, track.album_key()));
                track_ids.push(track.id);
                embedded.push(r.embedding);
                classic.push(r.classic);
                mfcc.push(r.mfcc);
                logmel.push(r.logmel);
            }
            Err(reason) => skipped.push((track.path.clone(), reason)),
        }
    }
    let songs = SongGroups { label, album };
    if songs.albums() < 2 || songs.labels() < 2 {
        return Err(TrainError::Data(format!(
            "{}: evaluation needs songs of at least 2 genres from at least 2 albums (found {} songs, {} genres, {} albums)",
            library_path.display(),
            songs.len(),
            songs.labels(),
            songs.albums()
        )));
    }
    standardise(&mut classic);
    standardise(&mut mfcc);
    standardise(&mut logmel);
    Ok(MeasuredSongs { track_ids, songs, labels: genre_names, embedded, classic, mfcc, logmel, skipped })
}

/// Scores the chosen embeddings and the baselines on every song of `library` with a genre.
pub fn evaluate_library(
    library: &Library,
    library_path: &Path,
    source: &EmbeddingsUnderTest,
    protocol: &Protocol,
) -> Result<EvaluationReport, TrainError> {
    let (embeddings_name, embed): (String, Box<EmbedFn<'static>>) = match source {
        EmbeddingsUnderTest::Model(dir) => {
            let embedder = Embedder::load(dir)?;
            check_compatible(&embedder.info, dir, &library.mel)?;
            (format!("model {}", dir.display()), Box::new(move |_, mel| Some(embedder.embed(mel))))
        }
        EmbeddingsUnderTest::Library => {
            let Some(info) = &library.embeddings else {
                return Err(TrainError::Data(format!(
                    "{}: the library has no embeddings (embed it first, or give --model)",
                    library_path.display()
                )));
            };
            let vectors = load_embeddings(&library.embeddings_file(library_path))?;
            let made_by = match &info.source {
                EmbeddingSource::Model { id, .. } => format!("model {id}"),
                EmbeddingSource::File { path } => format!("file {}", path.display()),
            };
            (format!("library embeddings ({made_by})"), Box::new(move |t, _| vectors.get(t.id).map(<[f32]>::to_vec)))
        }
    };
    let m = measure_songs(library, library_path, Some(&*embed))?;
    let rows = vec![
        yardstick::score("embeddings", &m.embedded, &m.songs, protocol),
        yardstick::score("classic: MFCC+Δ, contrast, chroma, ZCR, bands", &m.classic, &m.songs, protocol),
        yardstick::score("MFCC-20 mean+std", &m.mfcc, &m.songs, protocol),
        yardstick::score("log-mel mean+std", &m.logmel, &m.songs, protocol),
    ];
    Ok(EvaluationReport {
        songs: m.songs.len(),
        albums: m.songs.albums(),
        labels: m.labels,
        protocol: protocol.clone(),
        chance_p_at_3: yardstick::chance_p_at_3(&m.songs),
        embeddings: embeddings_name,
        skipped: m.skipped,
        rows,
    })
}

/// A trained model's embeddings against the classic descriptor on a library's held-out songs.
#[derive(Debug, Clone, Serialize)]
pub struct HeldOutComparison {
    /// Which songs were held out: "test" or "validation".
    pub split: String,
    pub songs: usize,
    /// Genre precision of each held-out song's 3 nearest songs from other albums.
    pub model_p_at_3: f32,
    pub classic_p_at_3: f32,
    pub chance_p_at_3: f32,
    /// Logistic regression fitted on every other song, tested on the held-out ones.
    pub model_logistic: f32,
    pub classic_logistic: f32,
}

/// Compares the model in `model_dir` with the classic descriptor on the songs in `held_out`.
/// `None` when fewer than 2 of them can be judged or the library lacks 2 genres or albums.
pub fn compare_on_held_out(
    library: &Library,
    library_path: &Path,
    model_dir: &Path,
    held_out: &std::collections::HashSet<u64>,
    split: &str,
) -> Result<Option<HeldOutComparison>, TrainError> {
    if held_out.len() < 2 {
        return Ok(None);
    }
    let embedder = Embedder::load(model_dir)?;
    let embed = move |_: &Track, mel: &LogMel| Some(embedder.embed(mel));
    let m = measure_songs(library, library_path, Some(&embed))?;
    let (queries, others): (Vec<usize>, Vec<usize>) =
        (0..m.songs.len()).partition(|&i| held_out.contains(&m.track_ids[i]));
    if queries.len() < 2 || others.is_empty() {
        return Ok(None);
    }
    Ok(Some(HeldOutComparison {
        split: split.into(),
        songs: queries.len(),
        model_p_at_3: yardstick::label_precision(&m.embedded, &m.songs, &queries, 3),
        classic_p_at_3: yardstick::label_precision(&m.classic, &m.songs, &queries, 3),
        chance_p_at_3: yardstick::chance_p_at_3_for(&m.songs, &queries),
        model_logistic: yardstick::logistic_fold_accuracy(&m.embedded, &m.songs, &others, &queries),
        classic_logistic: yardstick::logistic_fold_accuracy(&m.classic, &m.songs, &others, &queries),
    }))
}

struct SongRepresentations {
    embedding: Vec<f32>,
    classic: Vec<f32>,
    mfcc: Vec<f32>,
    logmel: Vec<f32>,
}

fn represent(
    library: &Library,
    cache: &FeatureCache,
    analyser: &ClassicAnalyser,
    embed: Option<&EmbedFn<'_>>,
    track: &Track,
) -> Result<SongRepresentations, String> {
    let mel = cache.load(track.id, &library.mel).map_err(|e| e.to_string())?;
    let embedding = match embed {
        Some(embed) => embed(track, &mel).ok_or("no embedding saved for this song")?,
        None => Vec::new(),
    };
    // The same span the features were computed from (the middle of the file).
    let audio = decode_file(&library.absolute_path(track), Span::Middle { max_seconds: MAX_ANALYSIS_SECONDS })
        .map_err(|e| e.to_string())?;
    let classic = analyser.describe(&audio.samples);
    debug_assert_eq!(classic.len(), CLASSIC_DIMS);
    if !classic.iter().chain(&embedding).all(|v| v.is_finite()) {
        return Err("a feature is not finite".into());
    }
    Ok(SongRepresentations { embedding, mfcc: mfcc_statistics(&classic), classic, logmel: logmel_statistics(&mel) })
}

/// Mean and standard deviation of every mel band over the frames.
pub fn logmel_statistics(mel: &LogMel) -> Vec<f32> {
    let mut stats = vec![0.0f32; 2 * mel.n_mels];
    for m in 0..mel.n_mels {
        let band = mel.band(m);
        let n = band.len().max(1) as f64;
        let mean = band.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = band.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        stats[m] = mean as f32;
        stats[mel.n_mels + m] = var.sqrt() as f32;
    }
    stats
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_mel_statistics_are_each_bands_mean_and_spread() {
        let mel = LogMel { n_mels: 2, n_frames: 2, values: vec![-10.0, -30.0, -5.0, -5.0] };
        assert_eq!(logmel_statistics(&mel), vec![-20.0, -5.0, 10.0, 0.0]);
    }
}
