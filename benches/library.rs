//! Library file speed at FMA-large scale: save and load a library of 106,574 synthetic tracks
//! (FMA-like metadata, features info, split), and print a table.
//!
//!     cargo bench --bench library

use std::path::PathBuf;
use std::time::Instant;

use songspace::library::{FeatureInfo, FileFingerprint, Library, SourceKind, Split, Track, load_library, save_library};

fn main() {
    let n: usize = std::env::var("SONGSPACE_BENCH_TRACKS").ok().and_then(|v| v.parse().ok()).unwrap_or(106_574);
    let genres = ["Rock", "Electronic", "Experimental", "Hip-Hop", "Folk", "Instrumental", "Pop", "International"];
    let mut library = Library::new(PathBuf::from("/data/fma_large"), SourceKind::Fma);
    for g in genres {
        library.ensure_genre(g);
    }
    library.tracks = (0..n)
        .map(|i| {
            let id = 2 + i as u64 * 3;
            Track {
                id,
                path: PathBuf::from(format!("{:03}/{id:06}.mp3", id / 1000)),
                title: format!("Track number {i} (live, \"remastered\")"),
                artist: format!("Artist {}", i % 16_341),
                album: format!("Album {} – vol. {}", i % 14_854, i % 7),
                genre: Some(genres[i % genres.len()].to_string()),
                genres: vec![genres[i % genres.len()].to_string(), genres[(i / 3) % genres.len()].to_string()],
                duration_seconds: 30.0 + (i % 400) as f32,
                split: Some([Split::Training, Split::Validation, Split::Test][i % 10 / 8 + i % 10 / 9]),
                fingerprint: FileFingerprint {
                    size: 960_000 + i as u64,
                    modified_ns: 1_700_000_000_000_000_000 + i as u64,
                },
                features: Some(FeatureInfo { offset_seconds: 0.0, seconds: 29.98, frames: 1292 }),
                descriptors: None,
            }
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("songspace-bench-library-{}", std::process::id()));
    let path = dir.join("library.ron");

    let t0 = Instant::now();
    save_library(&library, &path).expect("save");
    let save = t0.elapsed();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut loads = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let loaded = load_library(&path).expect("load");
        loads.push(t.elapsed().as_secs_f64());
        assert_eq!(loaded.tracks.len(), n);
    }
    let _ = std::fs::remove_dir_all(&dir);
    loads.sort_by(f64::total_cmp);
    println!("library file with {n} tracks ({:.1} MB of RON)", size as f64 / 1e6);
    println!("| operation | seconds |");
    println!("|---|---:|");
    println!("| save (atomic) | {:.2} |", save.as_secs_f64());
    println!("| load (median of 3) | {:.2} |", loads[1]);
}
