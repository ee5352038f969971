//! Log-mel parity with librosa, on reference values generated once with librosa 0.10.2
//! (tools/make_parity_fixtures.py) and committed in tests/data.

use songspace::audio::{MelExtractor, MelSettings, Span, decode_file, npy};

use crate::util::{data, songspace, stdout};

fn ours(name: &str) -> npy::Array2 {
    let audio = decode_file(&data(name), Span::Whole).expect("decode fixture");
    let mel = MelExtractor::new(MelSettings::default()).compute(&audio.samples);
    npy::Array2 { rows: mel.n_mels, cols: mel.n_frames, values: mel.values }
}

#[test]
fn wav_at_22050_hz_matches_librosa_within_0_05_db() {
    let reference = npy::read_2d(&data("parity_22k_mono.librosa.npy")).expect("reference");
    let ours = ours("parity_22k_mono.wav");
    assert_eq!((ours.rows, ours.cols), (reference.rows, reference.cols), "shape (mels, frames)");
    let mut worst = 0.0f32;
    let mut compared = 0;
    for (a, b) in ours.values.iter().zip(&reference.values) {
        if *b > -100.0 {
            worst = worst.max((a - b).abs());
            compared += 1;
        }
    }
    assert!(compared > reference.values.len() / 2, "too few bins above -100 dB to compare");
    assert!(worst <= 0.05, "largest difference {worst} dB");
}

#[test]
fn stereo_mp3_at_44100_hz_matches_librosa_within_0_5_db_on_average() {
    let reference = npy::read_2d(&data("parity_44k_stereo.librosa.npy")).expect("reference");
    let ours = ours("parity_44k_stereo.mp3");
    assert_eq!((ours.rows, ours.cols), (reference.rows, reference.cols), "shape (mels, frames)");
    let mae = ours.values.iter().zip(&reference.values).map(|(a, b)| f64::from((a - b).abs())).sum::<f64>()
        / ours.values.len() as f64;
    assert!(mae <= 0.5, "mean absolute difference {mae} dB");
}

#[test]
fn mel_command_writes_npy_in_librosa_orientation() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = home.path().join("out.npy");
    let wav = data("parity_22k_mono.wav");
    let run = songspace(home.path(), &["mel", wav.to_str().expect("utf8"), "--out", out.to_str().expect("utf8")]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout(&run).contains("128 mels x 130 frames"), "{}", stdout(&run));
    let written = npy::read_2d(&out).expect("npy");
    let reference = npy::read_2d(&data("parity_22k_mono.librosa.npy")).expect("reference");
    assert_eq!((written.rows, written.cols), (128, reference.cols));
    let worst = written
        .values
        .iter()
        .zip(&reference.values)
        .filter(|(_, b)| **b > -100.0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 0.05, "largest difference {worst} dB");
}

/// Tempo and brightness of every demo song against librosa's (tools/make_descriptor_fixtures.py):
/// the demo's songs are rendered from scores at a fixed tempo, so each has a steady beat.
#[test]
fn demo_descriptors_agree_with_librosa_tempo_within_4_percent_and_centroid_within_2() {
    use songspace::audio::analyse_file;
    let music = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/music");
    let reference = std::fs::read_to_string(data("demo_descriptors.librosa.csv")).expect("reference");
    let extractor = MelExtractor::new(MelSettings::default());
    let (mut songs, mut tempo_off, mut centroid_off, mut tempo_same) = (0, Vec::new(), Vec::new(), 0);
    let mut worst_centroid = 0.0f32;
    for line in reference.lines().skip(1) {
        let fields: Vec<&str> = line.rsplitn(3, ',').collect();
        let (centroid, tempo, path) = (fields[0], fields[1], fields[2].trim_matches('"'));
        let (tempo, centroid): (f32, f32) = (tempo.parse().expect("tempo"), centroid.parse().expect("centroid"));
        let ours = analyse_file(&music.join(path), &extractor).expect("a demo song").descriptors;
        songs += 1;
        tempo_same += usize::from((ours.tempo_bpm / tempo - 1.0).abs() < 1e-3);
        if (ours.tempo_bpm / tempo - 1.0).abs() > 0.04 {
            tempo_off.push(format!("{path}: {} against {tempo}", ours.tempo_bpm));
        }
        let relative = (ours.brightness_hz / centroid - 1.0).abs();
        worst_centroid = worst_centroid.max(relative);
        if relative > 0.02 {
            centroid_off.push(format!("{path}: {} against {centroid}", ours.brightness_hz));
        }
    }
    assert!(songs >= 200, "the whole demo: {songs} songs");
    assert!(
        tempo_off.is_empty(),
        "tempo more than 4 % from librosa's on {} of {songs}: {tempo_off:?}",
        tempo_off.len()
    );
    assert!(
        centroid_off.is_empty(),
        "centroid more than 2 % off on {} of {songs}: {centroid_off:?}",
        centroid_off.len()
    );
    println!(
        "{songs} songs: every tempo within 4 % ({tempo_same} the same BPM), largest centroid difference {:.4} %",
        100.0 * worst_centroid
    );
}
