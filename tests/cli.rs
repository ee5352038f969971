//! The command line's surface: help, and clear errors for bad arguments and bad files.

use crate::util::{songspace, stderr, stdout};

#[test]
fn help_lists_the_commands() {
    let home = tempfile::tempdir().expect("tempdir");
    let run = songspace(home.path(), &["--help"]);
    assert!(run.status.success());
    for command in ["import", "info", "mel"] {
        assert!(stdout(&run).contains(command), "{}", stdout(&run));
    }
}

#[test]
fn mel_on_a_missing_or_non_audio_file_names_it() {
    let home = tempfile::tempdir().expect("tempdir");
    let out = home.path().join("x.npy");
    let run = songspace(home.path(), &["mel", "/nonexistent/song.mp3", "--out", out.to_str().expect("utf8")]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("/nonexistent/song.mp3: cannot open"), "{}", stderr(&run));

    let text = home.path().join("notes.mp3");
    std::fs::write(&text, "plain text, not audio ".repeat(100)).expect("write");
    let run = songspace(home.path(), &["mel", text.to_str().expect("utf8"), "--out", out.to_str().expect("utf8")]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("notes.mp3: not a recognised audio file"), "{}", stderr(&run));
    assert!(!out.exists(), "no output for a failed analysis");
}

#[test]
fn info_on_something_that_is_not_a_library_says_what_it_is() {
    let home = tempfile::tempdir().expect("tempdir");
    let fake = home.path().join("library.ron");
    std::fs::write(&fake, "(hello: 1)").expect("write");
    let run = songspace(home.path(), &["info", fake.to_str().expect("utf8")]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("library.ron: not a songspace library"), "{}", stderr(&run));

    let run = songspace(home.path(), &["info", home.path().join("nowhere").to_str().expect("utf8")]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("no library here"), "{}", stderr(&run));
}
