//! Principal component analysis to 3D: the instant projection, and t-SNE's initialisation.

/// The top three principal components of `values` (`n × dim`, row-major), each row projected on
/// them. Components are signed so that their largest coefficient is positive, which makes the
/// result independent of the eigen-solver's sign choices.
pub fn pca_3d(values: &[f32], dim: usize) -> Vec<[f32; 3]> {
    assert!(dim > 0 && values.len().is_multiple_of(dim), "values must be n × dim");
    let n = values.len() / dim;
    if n == 0 {
        return Vec::new();
    }
    let mut mean = vec![0f64; dim];
    for row in values.chunks_exact(dim) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);

    let mut covariance = vec![0f64; dim * dim];
    let mut centred = vec![0f64; dim];
    for row in values.chunks_exact(dim) {
        for ((c, &v), m) in centred.iter_mut().zip(row).zip(&mean) {
            *c = f64::from(v) - m;
        }
        for i in 0..dim {
            let ci = centred[i];
            for j in i..dim {
                covariance[i * dim + j] += ci * centred[j];
            }
        }
    }
    for i in 0..dim {
        for j in 0..i {
            covariance[i * dim + j] = covariance[j * dim + i];
        }
    }

    let (eigenvalues, eigenvectors) = symmetric_eigen(covariance, dim);
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| eigenvalues[b].total_cmp(&eigenvalues[a]));
    let mut components = [vec![0f64; dim], vec![0f64; dim], vec![0f64; dim]];
    for (axis, component) in components.iter_mut().enumerate() {
        // Fewer than three dimensions: the missing axes stay zero.
        let Some(&column) = order.get(axis) else { break };
        for (row, c) in component.iter_mut().enumerate() {
            *c = eigenvectors[row * dim + column];
        }
        let largest = component.iter().copied().fold(0f64, |a, b| if b.abs() > a.abs() { b } else { a });
        if largest < 0.0 {
            component.iter_mut().for_each(|c| *c = -*c);
        }
    }

    values
        .chunks_exact(dim)
        .map(|row| {
            let mut point = [0f32; 3];
            for (p, component) in point.iter_mut().zip(&components) {
                *p =
                    row.iter().zip(&mean).zip(component).map(|((&v, m), c)| (f64::from(v) - m) * c).sum::<f64>() as f32;
            }
            point
        })
        .collect()
}

/// Eigenvalues and eigenvectors (as columns of a row-major `dim × dim` matrix) of a symmetric
/// matrix, by cyclic Jacobi rotations: exact to rounding, and quick for the 32 × 32 covariance.
fn symmetric_eigen(mut a: Vec<f64>, dim: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; dim * dim];
    for i in 0..dim {
        v[i * dim + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off_diagonal: f64 = (0..dim)
            .flat_map(|i| (0..dim).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * dim + j].powi(2))
            .sum();
        let scale: f64 = (0..dim).map(|i| a[i * dim + i].powi(2)).sum::<f64>().max(f64::MIN_POSITIVE);
        if off_diagonal <= 1e-24 * scale {
            break;
        }
        for p in 0..dim {
            for q in p + 1..dim {
                let apq = a[p * dim + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * dim + q] - a[p * dim + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..dim {
                    let akp = a[k * dim + p];
                    let akq = a[k * dim + q];
                    a[k * dim + p] = c * akp - s * akq;
                    a[k * dim + q] = s * akp + c * akq;
                }
                for k in 0..dim {
                    let apk = a[p * dim + k];
                    let aqk = a[q * dim + k];
                    a[p * dim + k] = c * apk - s * aqk;
                    a[q * dim + k] = s * apk + c * aqk;
                }
                for k in 0..dim {
                    let vkp = v[k * dim + p];
                    let vkq = v[k * dim + q];
                    v[k * dim + p] = c * vkp - s * vkq;
                    v[k * dim + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..dim).map(|i| a[i * dim + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_axes_of_largest_variance_in_order() {
        // Points spread 10× along (1,1,0,0)/√2, 3× along z, 1× along w: a skewed cloud.
        let mut values = Vec::new();
        let mut state = 7u64;
        let mut uniform = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        for _ in 0..2000 {
            let (a, b, c) = (uniform() * 10.0, uniform() * 3.0, uniform());
            values.extend_from_slice(&[a / 2f32.sqrt() + 5.0, a / 2f32.sqrt() - 2.0, b, c]);
        }
        let projected = pca_3d(&values, 4);
        assert_eq!(projected.len(), 2000);
        let variance = |axis: usize| projected.iter().map(|p| p[axis] * p[axis]).sum::<f32>() / 2000.0;
        let (v0, v1, v2) = (variance(0), variance(1), variance(2));
        // Uniform on [-s/2, s/2] has variance s²/12.
        assert!((v0 - 100.0 / 12.0).abs() < 0.8, "first axis variance {v0}");
        assert!((v1 - 9.0 / 12.0).abs() < 0.1, "second axis variance {v1}");
        assert!((v2 - 1.0 / 12.0).abs() < 0.02, "third axis variance {v2}");
        // Centred.
        let mean0 = projected.iter().map(|p| p[0]).sum::<f32>() / 2000.0;
        assert!(mean0.abs() < 1e-3);
    }

    #[test]
    fn fewer_than_three_dimensions_leave_the_missing_axes_at_zero() {
        let projected = pca_3d(&[0.0, 1.0, 2.0, 3.0], 2);
        assert_eq!(projected.len(), 2);
        assert!(projected.iter().all(|p| p[2] == 0.0));
    }
}
