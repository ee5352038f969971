//! Cross-validating the training recipe on albums it never saw: for each seed and each fold of
//! whole albums, a model is trained on the other folds (one of them as the validation set that
//! chooses the best epoch), every song is embedded with it, and the held-out albums' songs are
//! judged: genre precision of their 3 nearest songs from other albums, the classifier head's
//! accuracy, and logistic regression on the embedding; beside them, the classic descriptor on
//! exactly the same folds. This is what a user sees when music from a new source is added to a
//! library the model was trained on.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use super::evaluate::measure_songs;
use super::inference::Embedder;
use super::training::{TrainEvent, TrainOptions, train_on};
use super::yardstick::{
    Neighbours, Protocol, Spread, album_folds, chance_p_at_3, label_precision, label_precision_among,
    logistic_fold_accuracy,
};
use crate::error::TrainError;
use crate::library::{FeatureCache, Library, Split};

/// One trained fold.
#[derive(Debug, Clone, Serialize)]
pub struct FoldResult {
    pub seed: u64,
    pub fold: usize,
    pub test_songs: usize,
    pub epochs: usize,
    pub best_epoch: usize,
    /// Genre precision of the 3 nearest songs from other albums, for the held-out songs.
    pub model_p_at_3: f32,
    pub classic_p_at_3: f32,
    /// The same with neighbours from any album, the song's own included: what the map shows.
    pub model_p_at_3_any_album: f32,
    pub classic_p_at_3_any_album: f32,
    /// The model training started from (when fine-tuning), judged on the same held-out songs:
    /// what the fold's training changed.
    pub start_p_at_3: Option<f32>,
    pub start_p_at_3_any_album: Option<f32>,
    /// The trained classifier head on the held-out songs.
    pub head_accuracy: f32,
    /// Logistic regression fitted on the training folds' embeddings (or classic descriptors).
    pub model_logistic: f32,
    pub classic_logistic: f32,
    pub seconds: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CrossValidationReport {
    pub songs: usize,
    pub albums: usize,
    pub labels: Vec<String>,
    pub protocol: Protocol,
    pub chance_p_at_3: f32,
    pub folds: Vec<FoldResult>,
    pub model_p_at_3: Spread,
    pub classic_p_at_3: Spread,
    pub model_p_at_3_any_album: Spread,
    pub classic_p_at_3_any_album: Spread,
    /// The starting model's figures on the same folds, when training fine-tuned one.
    pub start_p_at_3: Option<Spread>,
    pub start_p_at_3_any_album: Option<Spread>,
    pub head_accuracy: Spread,
    pub model_logistic: Spread,
    pub classic_logistic: Spread,
    /// Paired over the same folds (see [`super::yardstick::paired_gain`]): the trained model's
    /// P@3 minus the classic descriptor's, logistic regression on its embedding minus on the
    /// classic descriptor, and its own classifier head minus logistic regression on the classic
    /// descriptor.
    pub p_at_3_gain: Spread,
    /// The trained model's P@3 minus its starting model's, both kinds of neighbours.
    pub fine_tuning_p_at_3_gain: Option<Spread>,
    pub fine_tuning_p_at_3_any_album_gain: Option<Spread>,
    pub logistic_gain: Spread,
    pub head_gain: Spread,
    pub cancelled: bool,
}

#[derive(Debug, Clone)]
pub enum CrossValidationEvent {
    FoldStarted { seed: u64, fold: usize, folds: usize, test_songs: usize },
    Training(TrainEvent),
    FoldDone(FoldResult),
}

/// Runs the recipe in `base` (its label must be genre; its out_dir is a scratch folder that is
/// created per fold and removed) over every seed and fold of `protocol`. With `fold_vectors`,
/// each fold model's embedding and class probabilities of every song are written there
/// ([`write_fold_vectors`]), with the classic descriptor beside them, so that other classifiers
/// can be tried on exactly these folds without training again.
#[allow(clippy::too_many_arguments)]
pub fn cross_validate_training(
    compute: &super::Compute,
    library: &Library,
    library_path: &Path,
    base: &TrainOptions,
    protocol: &Protocol,
    fold_vectors: Option<&Path>,
    cancel: &AtomicBool,
    on_event: &mut dyn FnMut(&CrossValidationEvent),
) -> Result<CrossValidationReport, TrainError> {
    if protocol.folds < 3 {
        return Err(TrainError::Data(
            "cross-validating training needs at least 3 folds (training, validation and test albums)".into(),
        ));
    }
    let measured = measure_songs(library, library_path, None)?;
    let songs = &measured.songs;
    let cache = FeatureCache::for_library(library_path);
    let albums: HashMap<u64, &str> = library.tracks.iter().map(|t| (t.id, t.album.as_str())).collect();
    let song_rows: Vec<SongRow> = measured
        .track_ids
        .iter()
        .enumerate()
        .map(|(i, &id)| SongRow {
            id,
            genre: &measured.labels[songs.label[i]],
            album: albums.get(&id).copied().unwrap_or_default(),
        })
        .collect();
    if let Some(dir) = fold_vectors {
        let columns: Vec<String> =
            (1..=measured.classic.first().map_or(0, Vec::len)).map(|c| format!("c{c}")).collect();
        let rows = song_rows.iter().zip(&measured.classic).map(|(song, values)| (song, None, values.clone()));
        write_vectors_csv(&dir.join("classic.csv"), &columns, rows)?;
    }
    let embed_all = |embedder: &Embedder| -> Result<Vec<Vec<f32>>, TrainError> {
        let mut vectors = Vec::with_capacity(songs.len());
        for &id in &measured.track_ids {
            vectors.push(embedder.embed(&cache.load(id, &library.mel)?));
        }
        Ok(vectors)
    };
    // The starting model is the same for every fold: embed with it once.
    let start_vectors = match &base.base {
        Some(dir) => Some(embed_all(&Embedder::load(dir)?)?),
        None => None,
    };
    let mut folds_done: Vec<FoldResult> = Vec::new();
    let mut cancelled = false;
    'seeds: for &seed in &protocol.seeds {
        let fold_of = album_folds(&songs.album, protocol.folds, seed);
        let folds = fold_of.iter().max().map_or(0, |m| m + 1);
        for fold in 0..folds {
            if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                cancelled = true;
                break 'seeds;
            }
            let started = Instant::now();
            let validation_fold = (fold + 1) % folds;
            let split_of = |i: usize| match fold_of[i] {
                f if f == fold => Split::Test,
                f if f == validation_fold => Split::Validation,
                _ => Split::Training,
            };
            let splits: HashMap<u64, Split> =
                measured.track_ids.iter().enumerate().map(|(i, &id)| (id, split_of(i))).collect();
            let mut fold_library = library.clone();
            fold_library.tracks.retain(|t| splits.contains_key(&t.id));
            for track in &mut fold_library.tracks {
                track.split = splits.get(&track.id).copied();
            }
            let test: Vec<usize> = (0..songs.len()).filter(|&i| fold_of[i] == fold).collect();
            let seen: Vec<usize> = (0..songs.len()).filter(|&i| fold_of[i] != fold).collect();
            on_event(&CrossValidationEvent::FoldStarted { seed, fold, folds, test_songs: test.len() });

            let mut options = base.clone();
            options.seed = seed;
            options.resume = false;
            // The fold's own figures below are that comparison.
            options.compare_with_classic = false;
            options.out_dir = base.out_dir.join(format!("seed{seed}-fold{fold}"));
            let metrics = train_on(compute, &fold_library, library_path, &options, cancel, &mut |event| {
                on_event(&CrossValidationEvent::Training(event.clone()))
            });
            let result = metrics.and_then(|metrics| {
                let embedder = Embedder::load(&options.out_dir)?;
                let vectors = match fold_vectors {
                    // One pass gives the embeddings the figures below need and the file's rows.
                    Some(dir) if !metrics.cancelled => {
                        let path = dir.join(format!("seed{seed}-fold{}.csv", fold + 1));
                        let splits: Vec<Split> = (0..songs.len()).map(split_of).collect();
                        write_fold_vectors(&path, &embedder, &cache, library, &song_rows, &splits)?
                    }
                    _ => embed_all(&embedder)?,
                };
                Ok((metrics, vectors))
            });
            // The fold's model is only a means to its figures.
            let _ = std::fs::remove_dir_all(&options.out_dir);
            let (metrics, vectors) = result?;
            if metrics.cancelled {
                cancelled = true;
                break 'seeds;
            }
            let done = FoldResult {
                seed,
                fold,
                test_songs: test.len(),
                epochs: metrics.epochs,
                best_epoch: metrics.best_epoch,
                model_p_at_3: label_precision(&vectors, songs, &test, 3),
                classic_p_at_3: label_precision(&measured.classic, songs, &test, 3),
                model_p_at_3_any_album: label_precision_among(&vectors, songs, &test, 3, Neighbours::AnyAlbum),
                classic_p_at_3_any_album: label_precision_among(
                    &measured.classic,
                    songs,
                    &test,
                    3,
                    Neighbours::AnyAlbum,
                ),
                start_p_at_3: start_vectors.as_ref().map(|start| label_precision(start, songs, &test, 3)),
                start_p_at_3_any_album: start_vectors
                    .as_ref()
                    .map(|start| label_precision_among(start, songs, &test, 3, Neighbours::AnyAlbum)),
                head_accuracy: metrics.test_accuracy.unwrap_or(0.0),
                model_logistic: logistic_fold_accuracy(&vectors, songs, &seen, &test),
                classic_logistic: logistic_fold_accuracy(&measured.classic, songs, &seen, &test),
                seconds: started.elapsed().as_secs_f32(),
            };
            on_event(&CrossValidationEvent::FoldDone(done.clone()));
            folds_done.push(done);
        }
    }
    let spread = |f: fn(&FoldResult) -> f32| Spread::of(&folds_done.iter().map(f).collect::<Vec<_>>());
    let spread_if_started = |f: fn(&FoldResult) -> Option<f32>| {
        folds_done.iter().map(f).collect::<Option<Vec<f32>>>().map(|values| Spread::of(&values))
    };
    Ok(CrossValidationReport {
        songs: songs.len(),
        albums: songs.albums(),
        labels: measured.labels.clone(),
        protocol: protocol.clone(),
        chance_p_at_3: chance_p_at_3(songs),
        model_p_at_3: spread(|f| f.model_p_at_3),
        classic_p_at_3: spread(|f| f.classic_p_at_3),
        model_p_at_3_any_album: spread(|f| f.model_p_at_3_any_album),
        classic_p_at_3_any_album: spread(|f| f.classic_p_at_3_any_album),
        start_p_at_3: spread_if_started(|f| f.start_p_at_3),
        start_p_at_3_any_album: spread_if_started(|f| f.start_p_at_3_any_album),
        head_accuracy: spread(|f| f.head_accuracy),
        model_logistic: spread(|f| f.model_logistic),
        classic_logistic: spread(|f| f.classic_logistic),
        p_at_3_gain: spread(|f| f.model_p_at_3 - f.classic_p_at_3),
        fine_tuning_p_at_3_gain: spread_if_started(|f| f.start_p_at_3.map(|start| f.model_p_at_3 - start)),
        fine_tuning_p_at_3_any_album_gain: spread_if_started(|f| {
            f.start_p_at_3_any_album.map(|start| f.model_p_at_3_any_album - start)
        }),
        logistic_gain: spread(|f| f.model_logistic - f.classic_logistic),
        head_gain: spread(|f| f.head_accuracy - f.classic_logistic),
        folds: folds_done,
        cancelled,
    })
}

/// A song as the fold-vector files name it.
struct SongRow<'a> {
    id: u64,
    genre: &'a str,
    album: &'a str,
}

/// One fold model's view of every song, as CSV: `track_id, split, genre, album`, the embedding
/// (`e1`…), and, with a classifier head, the track's class probabilities (`p:<label>`, the
/// patches' softmax averaged, as the head's accuracy is counted). `split` is training,
/// validation or test (the held-out albums). Returns the songs' embeddings, in `songs`' order
/// (the same values [`Embedder::embed`] gives).
fn write_fold_vectors(
    path: &Path,
    embedder: &Embedder,
    cache: &FeatureCache,
    library: &Library,
    songs: &[SongRow],
    splits: &[Split],
) -> Result<Vec<Vec<f32>>, TrainError> {
    let labels = &embedder.info.labels;
    let mut embeddings = Vec::with_capacity(songs.len());
    let mut rows = Vec::with_capacity(songs.len());
    for (song, &split) in songs.iter().zip(splits) {
        let (embedding, probabilities) = embedder.embed_and_predict(&cache.load(song.id, &library.mel)?);
        let mut values = embedding.clone();
        values.extend(probabilities.iter().take(labels.len()));
        embeddings.push(embedding);
        rows.push((song, Some(split), values));
    }
    let dims = embedder.info.net.embedding_dim;
    let columns: Vec<String> =
        (1..=dims).map(|d| format!("e{d}")).chain(labels.iter().map(|l| format!("p:{l}"))).collect();
    write_vectors_csv(path, &columns, rows.into_iter())?;
    Ok(embeddings)
}

fn write_vectors_csv<'a>(
    path: &Path,
    columns: &[String],
    rows: impl Iterator<Item = (&'a SongRow<'a>, Option<Split>, Vec<f32>)>,
) -> Result<(), TrainError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = ["track_id", "split", "genre", "album"].into_iter().map(String::from).chain(columns.iter().cloned());
    let csv_error = |e: csv::Error| TrainError::Data(format!("{}: {e}", path.display()));
    out.write_record(header.collect::<Vec<_>>()).map_err(csv_error)?;
    for (song, split, values) in rows {
        let split = match split {
            Some(Split::Training) => "training",
            Some(Split::Validation) => "validation",
            Some(Split::Test) => "test",
            None => "",
        };
        let fixed = [song.id.to_string(), split.to_string(), song.genre.to_string(), song.album.to_string()];
        out.write_record(fixed.into_iter().chain(values.iter().map(f32::to_string))).map_err(csv_error)?;
    }
    let bytes = out.into_inner().map_err(|e| TrainError::Data(format!("{}: {e}", path.display())))?;
    crate::fsutil::write_atomically(path, |w| std::io::Write::write_all(w, &bytes))?;
    Ok(())
}
