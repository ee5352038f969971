//! What songspace remembers between runs: the last library, the window size and the choices made
//! in the window. RON in `$XDG_CONFIG_HOME/songspace/settings.ron`, written atomically.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{FileError, FileProblem};
use crate::fsutil::{write_atomically, xdg_base_dir};

/// Every field has a default, so a file from an older or newer songspace still loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The library opened last; `None` means the demo.
    pub last_library: Option<PathBuf>,
    /// Window size in logical pixels.
    pub window_size: Option<(u32, u32)>,
    /// The first-start hint was closed.
    pub hint_dismissed: bool,
    /// Playback volume, 0 to 1.
    pub volume: f32,
    /// The distance filter measures in the 3D map instead of the 32-d embedding.
    pub filter_in_map_space: bool,
    /// The Listen panel's choices.
    pub listen: ListenSettings,
}

/// The Listen panel as it was left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListenSettings {
    /// The right panel showed Listen rather than the selected song.
    pub tab_listen: bool,
    pub radio: bool,
    pub audition_on_hover: bool,
    pub camera_follows_queue: bool,
    /// Plays drawn as a trail, 0 to 50.
    pub trail: usize,
}

impl Default for ListenSettings {
    fn default() -> Self {
        Self { tab_listen: false, radio: false, audition_on_hover: false, camera_follows_queue: true, trail: 12 }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            last_library: None,
            window_size: None,
            hint_dismissed: false,
            volume: 0.8,
            filter_in_map_space: false,
            listen: ListenSettings::default(),
        }
    }
}

/// `$XDG_CONFIG_HOME/songspace/settings.ron`, else `~/.config/songspace/settings.ron`.
pub fn settings_path() -> PathBuf {
    xdg_base_dir("XDG_CONFIG_HOME", ".config").join("songspace/settings.ron")
}

/// `$XDG_STATE_HOME/songspace`, else `~/.local/state/songspace`: where the log goes when
/// songspace runs without a terminal.
pub fn state_dir() -> PathBuf {
    xdg_base_dir("XDG_STATE_HOME", ".local/state").join("songspace")
}

/// The settings in `path`; defaults when there is no file yet.
pub fn load_settings(path: &Path) -> Result<Settings, FileError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
        Err(e) => return Err(FileError::new(path, FileProblem::Io(e))),
    };
    let mut settings: Settings = ron::from_str(&text)
        .map_err(|e| FileError::new(path, FileProblem::Format(format!("damaged settings ({e})"))))?;
    settings.volume = if settings.volume.is_finite() { settings.volume.clamp(0.0, 1.0) } else { 0.8 };
    settings.listen.trail = settings.listen.trail.min(50);
    // A remembered size no screen has is forgotten rather than asked of the window system.
    settings.window_size =
        settings.window_size.filter(|&(w, h)| (200..=16_384).contains(&w) && (200..=16_384).contains(&h));
    Ok(settings)
}

pub fn save_settings(path: &Path, settings: &Settings) -> Result<(), FileError> {
    let text = ron::ser::to_string_pretty(settings, ron::ser::PrettyConfig::new())
        .map_err(|e| FileError::new(path, FileProblem::Format(format!("cannot serialise: {e}"))))?;
    write_atomically(path, |out| out.write_all(text.as_bytes()))
}

/// Loads the settings, or, when the file is damaged, moves it aside (so the next save does not
/// destroy what the user may want to repair) and starts from defaults. The message says which.
pub fn load_settings_or_defaults(path: &Path) -> (Settings, Option<String>) {
    match load_settings(path) {
        Ok(settings) => (settings, None),
        Err(error) => {
            let aside = path.with_extension("ron.damaged");
            let moved = std::fs::rename(path, &aside).is_ok();
            let what = if moved { format!("kept as {}", aside.display()) } else { "left in place".into() };
            (Settings::default(), Some(format!("{error}; using default settings (the file is {what})")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_a_missing_file_gives_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config/settings.ron");
        assert_eq!(load_settings(&path).expect("missing is fine"), Settings::default());
        let settings = Settings {
            last_library: Some(dir.path().join("lib.ron")),
            window_size: Some((1024, 700)),
            hint_dismissed: true,
            volume: 0.35,
            filter_in_map_space: true,
            listen: ListenSettings { tab_listen: true, radio: true, trail: 30, ..ListenSettings::default() },
        };
        save_settings(&path, &settings).expect("save");
        assert_eq!(load_settings(&path).expect("load"), settings);
    }

    #[test]
    fn a_window_size_no_screen_has_is_forgotten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("settings.ron");
        for size in ["(0, 0)", "(4000000000, 600)", "(800, 100000)"] {
            std::fs::write(&path, format!("(window_size: Some({size}), volume: 0.5)")).expect("write");
            let settings = load_settings(&path).expect("load");
            assert_eq!((settings.window_size, settings.volume), (None, 0.5), "{size}");
        }
    }

    #[test]
    fn unknown_and_missing_fields_load_and_volume_is_clamped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("settings.ron");
        // A newer songspace may have written fields this one does not know.
        std::fs::write(&path, "(volume: 7.0, colour_of_the_year: \"teal\")").expect("write");
        let settings = load_settings(&path).expect("load");
        assert_eq!(settings.volume, 1.0);
        assert!(!settings.hint_dismissed && settings.last_library.is_none());
    }

    #[test]
    fn a_damaged_file_is_moved_aside_and_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("settings.ron");
        std::fs::write(&path, "(last_library: Some(\"/x\"), window_si").expect("write");
        let (settings, message) = load_settings_or_defaults(&path);
        assert_eq!(settings, Settings::default());
        let message = message.expect("a message");
        assert!(message.contains("settings.ron") && message.contains("damaged"), "{message}");
        assert!(!path.exists() && dir.path().join("settings.ron.damaged").is_file());
    }
}
