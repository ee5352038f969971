"""openTSNE's Barnes-Hut t-SNE to 3D, for benches/space.rs.

    python3 opentsne_3d.py IN.npy OUT.npy PERPLEXITY EXAGGERATION_ITERATIONS ITERATIONS THREADS

Prints the wall time of the fit in seconds (loading and saving excluded).
"""
import sys
import time

import numpy as np
from openTSNE import TSNE


def main():
    source, target, perplexity, exaggeration_iter, n_iter, threads = sys.argv[1:7]
    data = np.load(source).astype(np.float32)
    tsne = TSNE(
        n_components=3,
        perplexity=float(perplexity),
        early_exaggeration_iter=int(exaggeration_iter),
        early_exaggeration=12,
        n_iter=int(n_iter),
        negative_gradient_method="bh",
        theta=0.5,
        initialization="pca",
        learning_rate="auto",
        n_jobs=int(threads),
        random_state=42,
    )
    start = time.perf_counter()
    embedding = np.asarray(tsne.fit(data), dtype=np.float32)
    seconds = time.perf_counter() - start
    np.save(target, embedding)
    print(f"{seconds:.3f}")


if __name__ == "__main__":
    main()
