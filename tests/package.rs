//! The Debian package (tools/package.sh): what it holds, that its menu entry, metainfo, man pages
//! and completions are valid and work, and that the program inside finds its model and demo in
//! the package's own folders with no environment variable. In CI it checks the release package
//! tools/test.sh built; elsewhere it packages the test build of the program (`--binary`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::app::xvfb;
use crate::util::{as_new_user, data, stderr, stdout};

fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed:\n{}{}", stdout(&output), stderr(&output));
    output
}

/// The packaged program, as a new user starts it (every XDG folder in `home`).
fn packaged(root: &Path, home: &Path) -> Command {
    as_new_user(&root.join("usr/bin/songspace"), home)
}

/// The package to check: the one tools/test.sh built with a release build (`$SONGSPACE_PACKAGE`,
/// in CI), else one made here from this test build of the program.
fn package_to_check(out: &Path) -> PathBuf {
    if let Some(built) = std::env::var_os("SONGSPACE_PACKAGE") {
        return PathBuf::from(built);
    }
    assert!(std::env::var_os("CI").is_none(), "in CI, tools/test.sh builds the release package first");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/package.sh");
    let built =
        run(Command::new(script).args(["--quick", "--binary", env!("CARGO_BIN_EXE_songspace"), "--out"]).arg(out));
    let deb = PathBuf::from(stdout(&built).lines().last().unwrap_or_default().trim());
    assert!(deb.is_file(), "the script names the package it built: {}", stdout(&built));
    deb
}

#[test]
fn the_debian_package_installs_the_program_with_its_data_menu_entry_man_pages_and_completions() {
    let work = tempfile::tempdir().expect("tempdir");
    let deb = package_to_check(&work.path().join("debian"));
    let version = env!("CARGO_PKG_VERSION");
    assert!(deb.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("songspace_{version}_"))));

    // The control fields: the version is the crate's, and Depends names the libraries the
    // program links (from dpkg-shlibdeps, with versions) and the ones it opens at run time.
    let fields = stdout(&run(Command::new("dpkg-deb").arg("-f").arg(&deb)));
    assert!(fields.lines().any(|l| l == "Package: songspace"), "{fields}");
    assert!(fields.lines().any(|l| l == format!("Version: {version}")), "{fields}");
    let depends = fields.lines().find_map(|l| l.strip_prefix("Depends: ")).expect("Depends");
    for library in ["libc6 (>=", "libasound2 (>=", "libvulkan1", "libx11-6", "libxkbcommon-x11-0"] {
        assert!(depends.contains(library), "{library} in Depends: {depends}");
    }

    let listing = stdout(&run(Command::new("dpkg-deb").arg("--contents").arg(&deb)));
    for path in [
        "./usr/bin/songspace",
        "./usr/share/songspace/models/genre-cnn/model.json",
        "./usr/share/songspace/demo/library.ron",
        "./usr/share/applications/songspace.desktop",
        "./usr/share/icons/hicolor/16x16/apps/songspace.png",
        "./usr/share/icons/hicolor/256x256/apps/songspace.png",
        "./usr/share/icons/hicolor/scalable/apps/songspace.svg",
        "./usr/share/metainfo/org.songspace.songspace.metainfo.xml",
        "./usr/share/man/man1/songspace.1.gz",
        "./usr/share/man/man1/songspace-import.1.gz",
        "./usr/share/bash-completion/completions/songspace",
        "./usr/share/zsh/vendor-completions/_songspace",
        "./usr/share/fish/vendor_completions.d/songspace.fish",
        "./usr/share/doc/songspace/copyright",
        "./usr/share/doc/songspace/changelog.gz",
        "./usr/share/doc/songspace/crate-licences.txt",
    ] {
        assert!(listing.lines().any(|l| l.ends_with(path)), "{path} in the package:\n{listing}");
    }
    assert!(listing.lines().all(|l| l.contains(" root/root ")), "files belong to root:\n{listing}");
    assert!(!listing.contains("checkpoint"), "no training checkpoints in the package");

    let root = work.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    let share = root.join("usr/share");

    // The changelog is in Debian's format, its newest entry this version.
    let changelog = share.join("doc/songspace/changelog.gz");
    let newest = stdout(&run(Command::new("dpkg-parsechangelog").arg("-l").arg(&changelog).args(["-S", "Version"])));
    assert_eq!(newest.trim(), version);

    // The menu entry and the metainfo pass their validators; the entry starts the program
    // from the PATH, as the desktop does.
    let entry_path = share.join("applications/songspace.desktop");
    run(Command::new("desktop-file-validate").arg(&entry_path));
    let entry = std::fs::read_to_string(&entry_path).expect("desktop entry");
    assert!(entry.lines().any(|l| l == "Exec=songspace --desktop"), "{entry}");
    run(Command::new("appstreamcli")
        .args(["validate", "--no-net"])
        .arg(share.join("metainfo/org.songspace.songspace.metainfo.xml")));

    // The man page is the command line's own: every command, the files and the environment.
    let man = stdout(&run(Command::new("man")
        .arg("-l")
        .arg(share.join("man/man1/songspace.1.gz"))
        .env("MANWIDTH", "100")
        .env_remove("MAN_KEEP_FORMATTING")));
    let man = man.replace(['\u{2010}', '\u{2011}'], "-");
    for text in ["NAME", "SYNOPSIS", "songspace", "import", "playlist", "install-desktop", "FILES", "SONGSPACE_MODEL"] {
        assert!(man.contains(text), "{text} in the man page:\n{man}");
    }
    let import_page = stdout(&run(Command::new("man").arg("-l").arg(share.join("man/man1/songspace-import.1.gz"))));
    assert!(import_page.contains("--library") || import_page.contains("\u{2010}\u{2010}library"), "{import_page}");

    // Tab completion in bash: "songspace pl" completes to "playlist", "songspace playlist
    // LIB e" offers "export"; zsh and fish get scripts for the same command.
    let bash = share.join("bash-completion/completions/songspace");
    let complete = |words: &str| {
        let script = format!(
            "source '{}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
             _songspace songspace \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            bash.display()
        );
        stdout(&run(Command::new("bash").arg("-c").arg(script)))
    };
    assert_eq!(complete("songspace pl").trim(), "playlist");
    assert!(complete("songspace playlist lib.ron ex").lines().any(|l| l == "export"));
    let zsh = std::fs::read_to_string(share.join("zsh/vendor-completions/_songspace")).expect("zsh");
    assert!(zsh.starts_with("#compdef songspace"), "{}", &zsh[..zsh.len().min(200)]);
    let fish = std::fs::read_to_string(share.join("fish/vendor_completions.d/songspace.fish")).expect("fish");
    assert!(fish.contains("complete -c songspace"));

    // The packaged program reports its version, and finds the packaged demo and model with no
    // environment variable: the demo's music is the package's, and a song it embeds is embedded
    // by the package's model.
    let home = work.path().join("home");
    let shown = stdout(&run(packaged(&root, &home).arg("--version")));
    assert_eq!(shown.trim(), format!("songspace {version}"));
    let demo = stdout(&run(packaged(&root, &home).args(["info", "--demo", "--json"])));
    let demo: serde_json::Value = serde_json::from_str(&demo).expect("info JSON");
    let music = demo["root"].as_str().expect("root");
    assert!(Path::new(music).starts_with(share.join("songspace/demo")), "the demo's music is the package's: {music}");

    let songs = work.path().join("songs");
    std::fs::create_dir_all(&songs).expect("songs folder");
    for name in ["parity_22k_mono.wav", "parity_44k_stereo.mp3"] {
        std::fs::copy(data(name), songs.join(name)).expect("copy a song");
    }
    let library = work.path().join("songs.ron");
    run(packaged(&root, &home).arg("import").arg(&songs).arg("--library").arg(&library));
    run(packaged(&root, &home).arg("embed").arg(&library));
    let saved = std::fs::read_to_string(&library).expect("library");
    let model = share.join("songspace/models/genre-cnn");
    assert!(
        saved.contains(model.to_str().expect("utf8")),
        "embedded by the packaged model ({}):\n{saved}",
        model.display()
    );

    // Started the way the menu starts it, under a display: the demo opens and the log says so.
    if xvfb().is_some() {
        let shot = work.path().join("menu.png");
        let started = crate::demo::run_in(
            &home,
            &root.join("usr/bin/songspace"),
            &["--desktop", "--show", "about", "--screenshot", shot.to_str().expect("utf8")],
            true,
        );
        assert!(started.status.success(), "{}", stderr(&started));
        assert!(shot.is_file(), "{}", stderr(&started));
        let log = std::fs::read_to_string(home.join("state/songspace/songspace.log")).expect("log");
        assert!(log.contains("(the demo)"), "{log}");
        assert!(!log.contains('\u{1b}'), "a log file holds no terminal colour codes:\n{log}");
    }
}

/// The README's install commands name the package this version builds: they named 0.1.5's for
/// three versions after it, and `apt install` of a file that is not there fails.
#[test]
fn the_readme_installs_the_package_of_this_version() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README");
    let named: Vec<&str> = readme
        .split("songspace_")
        .skip(1)
        .filter_map(|rest| rest.split_once("_amd64.deb").map(|(version, _)| version))
        .filter(|version| version.chars().all(|c| c.is_ascii_digit() || c == '.'))
        .collect();
    assert!(!named.is_empty(), "the README names the package it installs");
    for version in named {
        assert_eq!(version, env!("CARGO_PKG_VERSION"), "README names songspace_{version}_amd64.deb");
    }
}
