//! `songspace install-desktop`: puts songspace into the desktop's application menu.
//!
//! Everything the menu entry needs is copied into the user's XDG folders, so it keeps working
//! when the source tree or the build folder goes: the program to `~/.local/bin`, the shipped
//! model and the demo beside the libraries (`$XDG_DATA_HOME/songspace`), the icon to the
//! hicolor theme and the entry to `$XDG_DATA_HOME/applications`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::fsutil::write_atomically;
use crate::library::{bundled_demo_dir, data_dir};
use crate::model::default_model_dir;

const ICON_PNG: &[u8] = include_bytes!("../../assets/icon/songspace.png");
const ICON_SVG: &[u8] = include_bytes!("../../assets/icon/songspace.svg");

/// The places install-desktop writes to.
struct Places {
    program: PathBuf,
    model: PathBuf,
    demo: PathBuf,
    entry: PathBuf,
    icon_png: PathBuf,
    icon_svg: PathBuf,
}

fn places() -> anyhow::Result<Places> {
    let songspace_data = data_dir();
    let data_home = crate::fsutil::xdg_base_dir("XDG_DATA_HOME", ".local/share");
    let home = std::env::var_os("HOME").map(PathBuf::from).context("HOME is not set")?;
    let icons = data_home.join("icons/hicolor");
    Ok(Places {
        program: home.join(".local/bin/songspace"),
        model: songspace_data.join("models/genre-cnn"),
        demo: songspace_data.join("demo-bundle"),
        entry: data_home.join("applications/songspace.desktop"),
        icon_png: icons.join("256x256/apps/songspace.png"),
        icon_svg: icons.join("scalable/apps/songspace.svg"),
    })
}

pub fn install() -> anyhow::Result<ExitCode> {
    let places = places()?;
    let exe = std::env::current_exe().context("finding the songspace executable")?;
    copy_file(&exe, &places.program)?;
    set_executable(&places.program)?;
    println!("program   {}", places.program.display());

    let model = default_model_dir().context("the shipped model (models/genre-cnn) is not found")?;
    copy_tree(&model, &places.model)?;
    println!("model     {}", places.model.display());
    let demo = bundled_demo_dir().context("the bundled demo (assets/demo) is not found")?;
    copy_tree(&demo, &places.demo)?;
    println!("demo      {}", places.demo.display());

    for (bytes, path) in [(ICON_PNG, &places.icon_png), (ICON_SVG, &places.icon_svg)] {
        write_atomically(path, |out| std::io::Write::write_all(out, bytes))?;
    }
    println!("icon      {}", places.icon_png.display());
    // Quoted: the home folder's path may hold spaces.
    let entry = desktop_entry(&format!("\"{}\"", places.program.display()));
    write_atomically(&places.entry, |out| std::io::Write::write_all(out, entry.as_bytes()))?;
    println!("menu      {}", places.entry.display());
    // Menus that cache entries pick the new one up at once; without the tool they rescan later.
    let _ = std::process::Command::new("update-desktop-database")
        .arg(places.entry.parent().expect("entry has a folder"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    println!("songspace is in the applications menu; it logs to {}", crate::settings::state_dir().display());
    Ok(ExitCode::SUCCESS)
}

pub fn uninstall() -> anyhow::Result<ExitCode> {
    let places = places()?;
    for file in [&places.entry, &places.icon_png, &places.icon_svg, &places.program] {
        match std::fs::remove_file(file) {
            Ok(()) => println!("removed   {}", file.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => bail!("{}: cannot remove ({e})", file.display()),
        }
    }
    for dir in [&places.model, &places.demo] {
        if dir.is_dir() {
            std::fs::remove_dir_all(dir).with_context(|| format!("{}: cannot remove", dir.display()))?;
            println!("removed   {}", dir.display());
        }
    }
    println!("libraries and settings are kept");
    Ok(ExitCode::SUCCESS)
}

/// The menu entry that starts `program` (as the Exec line names it: a name on the PATH or a
/// quoted path). `--desktop`: no terminal, so the log goes to the XDG state folder.
pub fn desktop_entry(program: &str) -> String {
    format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=songspace\n\
         GenericName=Music map\n\
         Comment=See your music: every song a point in 3D, placed by what it sounds like\n\
         Exec={program} --desktop\n\
         Icon=songspace\n\
         Terminal=false\n\
         Categories=AudioVideo;Audio;Player;\n\
         Keywords=music;songs;genre;map;similar;\n\
         StartupWMClass=songspace\n"
    )
}

/// Copies a file through a temporary name, so a running copy of the program is replaced, not
/// overwritten in place. Copying a file onto itself does nothing.
fn copy_file(from: &Path, to: &Path) -> anyhow::Result<()> {
    if same_file(from, to) {
        return Ok(());
    }
    let mut source = std::fs::File::open(from).with_context(|| format!("reading {}", from.display()))?;
    write_atomically(to, |out| std::io::copy(&mut source, out).map(|_| ()))?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    if same_file(from, to) {
        return Ok(());
    }
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            copy_file(&entry.path(), &target)?;
        }
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

fn set_executable(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", path.display()))?;
    }
    Ok(())
}
