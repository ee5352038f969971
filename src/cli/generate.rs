//! `songspace generate`: what a package installs beside the program, made from the program's own
//! command-line definitions so they never drift from it: the man pages, shell completions and
//! the menu entry.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use super::Cli;

/// The man pages: `songspace.1` and one per command (`songspace-import.1`, …), into `out`. The
/// main page also says which files songspace keeps and which variables it reads.
pub fn man_pages(out: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let command = Cli::command();
    clap_mangen::generate_to(command.clone(), out)
        .with_context(|| format!("writing the man pages into {}", out.display()))?;
    let man = clap_mangen::Man::new(command.disable_help_subcommand(true));
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    man.render_subcommands_section(&mut page)?;
    page.extend_from_slice(FILES_AND_ENVIRONMENT.as_bytes());
    man.render_version_section(&mut page)?;
    let main_page = out.join(man.get_filename());
    std::fs::write(&main_page, page).with_context(|| format!("writing {}", main_page.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// A shell's completion script, to standard output.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "songspace", &mut script);
    std::io::stdout().write_all(&script).context("writing the completion script")?;
    Ok(ExitCode::SUCCESS)
}

/// The menu entry for a songspace installed on the PATH (as the package installs it).
pub fn desktop_entry() -> anyhow::Result<ExitCode> {
    let entry = super::desktop::desktop_entry("songspace");
    std::io::stdout().write_all(entry.as_bytes()).context("writing the menu entry")?;
    Ok(ExitCode::SUCCESS)
}

/// The main man page's closing sections, in roff.
const FILES_AND_ENVIRONMENT: &str = r#".SH "WITHOUT A COMMAND"
songspace opens its window on the library given, else on the library opened last, else on the
bundled demo. An audio file given instead is dropped onto that library.
.SH FILES
.TP
\fI$XDG_DATA_HOME/songspace\fR (\fI~/.local/share/songspace\fR)
Libraries imported with the default location, the user's copy of the demo library, models
trained in the window.
.TP
\fI$XDG_CONFIG_HOME/songspace/settings.ron\fR
The window's remembered settings.
.TP
\fI$XDG_STATE_HOME/songspace/songspace.log\fR
The log of a window started from the desktop menu (\fB\-\-desktop\fR).
.TP
\fI/usr/share/songspace\fR
The shipped model (\fImodels/genre\-cnn\fR) and the demo, as the package installs them. The
program looks for them beside its own prefix (\fI<prefix>/share/songspace\fR).
.SH ENVIRONMENT
.TP
\fBSONGSPACE_MODEL\fR
A model folder to use instead of the shipped model.
.TP
\fBSONGSPACE_DEMO\fR
A demo folder to use instead of the bundled demo.
"#;
