use std::path::Path;
use std::process::ExitCode;

use crate::library::{
    EmbeddingSource, EmbeddingsInfo, ExchangeFormat, embeddings_path, export_embeddings, load_embeddings, load_library,
    read_embeddings_file, resolve_library_path, save_embeddings, save_library,
};

pub fn export(library: &Path, format: ExchangeFormat, out: &Path) -> anyhow::Result<ExitCode> {
    let library_path = resolve_library_path(library)?;
    let lib = load_library(&library_path)?;
    if lib.embeddings.is_none() {
        anyhow::bail!("{}: no embeddings yet; run `songspace embed` first", library_path.display());
    }
    let embeddings = load_embeddings(&embeddings_path(&library_path))?;
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
    let imported = read_embeddings_file(file, &lib)?;
    if imported.embeddings.is_empty() {
        anyhow::bail!(
            "{}: none of its {} track ids is in the library {}",
            file.display(),
            imported.unknown_ids.len(),
            library_path.display()
        );
    }
    save_embeddings(&embeddings_path(&library_path), &imported.embeddings)?;
    lib.embeddings = Some(EmbeddingsInfo {
        source: EmbeddingSource::File { path: file.to_path_buf() },
        dim: imported.embeddings.dim,
        count: imported.embeddings.len(),
    });
    save_library(&lib, &library_path)?;
    println!(
        "{} embeddings of dimension {} loaded from {}",
        imported.embeddings.len(),
        imported.embeddings.dim,
        file.display()
    );
    if !imported.unknown_ids.is_empty() {
        let shown: Vec<String> = imported.unknown_ids.iter().take(10).map(u64::to_string).collect();
        println!(
            "{} id(s) in the file are not in the library and were ignored: {}{}",
            imported.unknown_ids.len(),
            shown.join(", "),
            if imported.unknown_ids.len() > 10 { ", …" } else { "" }
        );
    }
    if imported.missing_tracks > 0 {
        println!("{} track(s) of the library have no embedding in the file", imported.missing_tracks);
    }
    Ok(ExitCode::SUCCESS)
}
