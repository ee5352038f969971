//! Reading and writing 2-D `float32` arrays in NumPy's `.npy` format (version 1.0, C order), so
//! features open directly with `np.load`.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{FileError, FileProblem};
use crate::fsutil::write_atomically;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Writes `values` (row-major, `rows × cols`) as a little-endian float32 `.npy`, atomically.
pub fn write_f32_2d(path: &Path, rows: usize, cols: usize, values: &[f32]) -> Result<(), FileError> {
    assert_eq!(rows * cols, values.len(), "shape does not match the data");
    write_atomically(path, |out| {
        let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
        // Magic (6) + version (2) + header length (2) + dict + padding + '\n' is a multiple of 64.
        let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
        let padding = (64 - unpadded % 64) % 64;
        let header_len = dict.len() + padding + 1;
        out.write_all(MAGIC)?;
        out.write_all(&[1, 0])?;
        out.write_all(&(header_len as u16).to_le_bytes())?;
        out.write_all(dict.as_bytes())?;
        out.write_all(&vec![b' '; padding])?;
        out.write_all(b"\n")?;
        let mut bytes = Vec::with_capacity(values.len() * 4);
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        out.write_all(&bytes)
    })
}

/// A 2-D float32 array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct Array2 {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

/// Reads a C-order 2-D `<f4` or `<f2` `.npy` file (float16 is widened to float32).
pub fn read_2d(path: &Path) -> Result<Array2, FileError> {
    let bad = |problem: &str| FileError::new(path, FileProblem::Format(problem.to_string()));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| FileError::new(path, FileProblem::Io(e)))?;
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("not a .npy file (missing the \\x93NUMPY magic)"));
    }
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(bad(&format!("unsupported .npy version {v}"))),
    };
    let data_start = header_start + header_len;
    let header = bytes
        .get(header_start..data_start)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated header"))?;
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran-order arrays are not supported"));
    }
    let width = if header.contains("'<f4'") {
        4
    } else if header.contains("'<f2'") {
        2
    } else {
        return Err(bad("only little-endian float32 or float16 arrays are supported"));
    };
    let shape = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .map(|s| s.trim().trim_start_matches('('))
        .ok_or_else(|| bad("no shape in header"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("unreadable shape"))?;
    let (rows, cols) = match dims.as_slice() {
        [r, c] => (*r, *c),
        [n] => (1, *n),
        _ => return Err(bad(&format!("expected a 2-D array, found shape {dims:?}"))),
    };
    let data = &bytes[data_start..];
    if data.len() != rows * cols * width {
        return Err(bad(&format!(
            "data holds {} bytes, shape ({rows}, {cols}) needs {}",
            data.len(),
            rows * cols * width
        )));
    }
    let values = if width == 4 {
        data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    } else {
        data.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect()
    };
    Ok(Array2 { rows, cols, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_shape_and_values_and_aligns_header() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.npy");
        let values: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 3.0).collect();
        write_f32_2d(&path, 3, 4, &values).expect("write");
        let bytes = std::fs::read(&path).expect("read");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + 48);
        let back = read_2d(&path).expect("read back");
        assert_eq!((back.rows, back.cols), (3, 4));
        assert_eq!(back.values, values);
    }

    #[test]
    fn a_file_that_is_not_npy_is_refused_with_its_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("not.npy");
        std::fs::write(&path, b"hello world, not numpy").expect("write");
        let err = read_2d(&path).expect_err("must fail").to_string();
        assert!(err.contains("not.npy") && err.contains("magic"), "{err}");
    }
}
