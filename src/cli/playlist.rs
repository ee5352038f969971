//! `songspace playlist`: the library's playlists from the command line (the window's Listen
//! panel holds the same ones): list, show, export as M3U8 or CSV, import, delete.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::map::describe;
use crate::library::{
    Library, Listening, listening_path, load_library, load_listening, lock_library, playlist_entries, read_playlist,
    resolve_library_path, save_listening, write_playlist,
};

#[derive(Debug, clap::Subcommand)]
pub enum PlaylistAction {
    /// Every playlist with its number of songs and length.
    List,
    /// A playlist's songs in order.
    Show { name: String },
    /// Write a playlist as extended M3U (.m3u8, paths relative to the file) or CSV (.csv).
    Export {
        name: String,
        #[arg(short, long)]
        out: std::path::PathBuf,
    },
    /// Read an M3U/M3U8 or CSV file into a new playlist: the songs of this library it names, in
    /// order; every other line is listed with why it was left out.
    Import {
        file: std::path::PathBuf,
        /// The playlist's name (default: the file's name; a number is added if it is taken).
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete a playlist (its songs stay in the library).
    Delete { name: String },
}

fn open(library: &Path) -> anyhow::Result<(Library, std::path::PathBuf, Listening)> {
    let library_path = resolve_library_path(library)?;
    let lib = load_library(&library_path)?;
    let listening = load_listening(&listening_path(&library_path))?;
    Ok((lib, library_path, listening))
}

fn playlist<'a>(
    listening: &'a Listening,
    name: &str,
    library_path: &Path,
) -> anyhow::Result<&'a crate::library::Playlist> {
    listening.playlist(name).with_context(|| {
        let names: Vec<&str> = listening.playlists.iter().map(|p| p.name.as_str()).collect();
        format!(
            "{}: no playlist called {name:?} (there are: {})",
            library_path.display(),
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        )
    })
}

pub fn run(library: &Path, action: PlaylistAction) -> anyhow::Result<ExitCode> {
    let (lib, library_path, mut listening) = open(library)?;
    match action {
        PlaylistAction::List => {
            if listening.playlists.is_empty() {
                println!(
                    "no playlists yet (make one in the window's Listen panel, or `songspace playlist LIBRARY import FILE`)"
                );
            }
            for p in &listening.playlists {
                let seconds: f32 = p.tracks.iter().filter_map(|&id| lib.track(id)).map(|t| t.duration_seconds).sum();
                println!("{}\t{} songs\t{}", p.name, p.tracks.len(), super::format_minutes(seconds));
            }
        }
        PlaylistAction::Show { name } => {
            let p = playlist(&listening, &name, &library_path)?;
            println!("{} ({} songs):", p.name, p.tracks.len());
            for (n, &id) in p.tracks.iter().enumerate() {
                println!("  {:>3}. {:>8}  {}", n + 1, id, describe(&lib, id));
            }
        }
        PlaylistAction::Export { name, out } => {
            let p = playlist(&listening, &name, &library_path)?;
            write_playlist(&out, &playlist_entries(&lib, &p.tracks))?;
            let missing = p.tracks.iter().filter(|&&id| lib.track(id).is_none()).count();
            println!(
                "wrote {} ({} songs{})",
                out.display(),
                p.tracks.len() - missing,
                if missing > 0 { format!("; {missing} no longer in the library left out") } else { String::new() }
            );
        }
        PlaylistAction::Import { file, name } => {
            let read = read_playlist(&file, &lib)?;
            let base = name.unwrap_or_else(|| {
                file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "Imported".into())
            });
            let _lock = lock_library(&library_path, "importing a playlist")?;
            // Read again under the lock: the window may have changed it since.
            listening = load_listening(&listening_path(&library_path))?;
            let name = listening.free_name(&base);
            listening.create_playlist(&name)?.add(read.tracks.iter().copied());
            save_listening(&listening_path(&library_path), &listening)?;
            println!("imported {} songs from {} as playlist {name:?}", read.tracks.len(), file.display());
            if !read.skipped.is_empty() {
                println!("left out {} lines:", read.skipped.len());
                for s in &read.skipped {
                    println!("  line {:>4}: {} ({})", s.line, s.entry, s.reason);
                }
            }
        }
        PlaylistAction::Delete { name } => {
            let _lock = lock_library(&library_path, "deleting a playlist")?;
            listening = load_listening(&listening_path(&library_path))?;
            playlist(&listening, &name, &library_path)?;
            let gone = listening.delete_playlist(&name)?;
            save_listening(&listening_path(&library_path), &listening)?;
            println!("deleted playlist {:?} ({} songs)", gone.name, gone.tracks.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}
