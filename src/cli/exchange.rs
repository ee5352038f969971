use std::path::Path;
use std::process::ExitCode;

use crate::library::{
    ExchangeFormat, adopt_embeddings_file, export_embeddings, load_embeddings, load_library, resolve_library_path,
};

pub fn export(library: &Path, format: ExchangeFormat, out: &Path) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(library)?;
    let lib = load_library(&library_path)?;
    if lib.embeddings.is_none() {
        anyhow::bail!("{}: no embeddings yet; run `songspace embed` first", library_path.display());
    }
    let embeddings = load_embeddings(&lib.embeddings_file(&library_path))?;
    let written = export_embeddings(out, format, &lib, &embeddings)?;
    for file in written {
        println!("wrote {}", file.display());
    }
    println!("{} embeddings of dimension {}", embeddings.len(), embeddings.dim);
    Ok(ExitCode::SUCCESS)
}

pub fn import(library: &Path, file: &Path) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(library)?;
    let mut lib = load_library(&library_path)?;
    let imported = adopt_embeddings_file(&mut lib, &library_path, file)?;
    println!(
        "{} embeddings of dimension {} loaded from {}",
        imported.embeddings.len(),
        imported.embeddings.dim,
        file.display()
    );
    for remark in imported.remarks() {
        println!("{remark}");
    }
    Ok(ExitCode::SUCCESS)
}
