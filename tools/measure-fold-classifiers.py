#!/usr/bin/env python3
"""Other classifiers on the folds `songspace evaluate --train` trained (README, "Measuring
similarity honestly"): is the fine-tuned model's genre accuracy on unseen albums held back by its
classifier head, or by the corpus?

    songspace evaluate LIBRARY --train --device cpu --seeds 1,2,3 --fold-vectors DIR
    tools/measure-fold-classifiers.py DIR

For every fold file (seed<S>-fold<F>.csv: each song's split, genre, album, the fold model's
embedding e1… and its head's class probabilities p:<genre>…) and the classic descriptor
(classic.csv), each classifier is fitted on the fold's training and validation albums, as
`evaluate` fits logistic regression, and scored on its held-out albums. Printed: accuracy as mean
± standard deviation over folds, and each classifier minus logistic regression on the classic
descriptor on the same fold (paired). Needs numpy and scikit-learn.
"""
import collections
import csv
import glob
import os
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    ids = [int(r[0]) for r in rows]
    split = np.array([r[1] for r in rows])
    genre = np.array([r[2] for r in rows])
    values = np.array([[float(v) for v in r[4:]] for r in rows])
    return header[4:], ids, split, genre, values


def probabilities(model, scaler, x, classes):
    p = np.zeros((len(x), len(classes)))
    p[:, [classes.index(c) for c in model.classes_]] = model.predict_proba(scaler.transform(x))
    return p


def logistic(x_fit, y_fit, x_test, classes, c=1.0):
    scaler = StandardScaler().fit(x_fit)
    model = LogisticRegression(C=c, max_iter=5000).fit(scaler.transform(x_fit), y_fit)
    return probabilities(model, scaler, x_test, classes)


def nearest(x_fit, y_fit, x_test, classes, k):
    scaler = StandardScaler().fit(x_fit)
    model = KNeighborsClassifier(k).fit(scaler.transform(x_fit), y_fit)
    return probabilities(model, scaler, x_test, classes)


def main(folder):
    _, classic_ids, _, classic_genre, classic = read(os.path.join(folder, "classic.csv"))
    classes = sorted(set(classic_genre))
    accuracy = collections.defaultdict(list)
    files = sorted(glob.glob(os.path.join(folder, "seed*-fold*.csv")))
    if not files:
        sys.exit(f"{folder}: no seed*-fold*.csv (run evaluate --train with --fold-vectors)")
    for path in files:
        columns, ids, split, genre, values = read(path)
        if ids != classic_ids:
            sys.exit(f"{path}: not the songs of classic.csv, in its order")
        embedding = values[:, [i for i, c in enumerate(columns) if c.startswith("e")]]
        head_labels = [c[2:] for c in columns if c.startswith("p:")]
        head = np.zeros((len(ids), len(classes)))
        for i, c in enumerate(columns):
            if c.startswith("p:"):
                head[:, classes.index(c[2:])] = values[:, i]
        fit = split != "test"
        test = split == "test"
        y_fit, y_test = genre[fit], genre[test]
        both = np.hstack([embedding, classic])

        def score(name, p):
            accuracy[name].append(float(np.mean(np.array(classes)[p.argmax(1)] == y_test)))

        classic_p = logistic(classic[fit], y_fit, classic[test], classes)
        embedding_p = logistic(embedding[fit], y_fit, embedding[test], classes)
        score("logistic regression, classic descriptor", classic_p)
        if head_labels:
            score("the model's classifier head", head[test])
            # The head learnt from classes drawn in proportion to the square root of their
            # size: reweighted to the training albums' own class shares.
            training = genre[split == "training"]
            counts = np.array([np.sum(training == c) for c in classes], dtype=float)
            sampled = np.sqrt(counts) / np.sqrt(counts).sum()
            shares = counts / counts.sum()
            undo = np.divide(shares, sampled, out=np.zeros_like(shares), where=sampled > 0)
            score("the head, its class balance undone", head[test] * undo)
            score("the head + logistic regression on the classic descriptor", head[test] + classic_p)
        score("logistic regression, embedding", embedding_p)
        score("logistic regression, embedding (training albums only)",
              logistic(embedding[split == "training"], genre[split == "training"], embedding[test], classes))
        score("logistic regression, embedding and classic side by side",
              logistic(both[fit], y_fit, both[test], classes))
        for c in (0.01, 0.1):
            score(f"logistic regression C={c}, classic descriptor", logistic(classic[fit], y_fit, classic[test], classes, c))
            score(f"logistic regression C={c}, embedding", logistic(embedding[fit], y_fit, embedding[test], classes, c))
        score("logistic regression on each, probabilities added", embedding_p + classic_p)
        for k in (5, 10):
            score(f"{k} nearest songs, embedding", nearest(embedding[fit], y_fit, embedding[test], classes, k))
            score(f"{k} nearest songs, classic descriptor", nearest(classic[fit], y_fit, classic[test], classes, k))
    reference = np.array(accuracy["logistic regression, classic descriptor"])
    print(f"{len(files)} folds; accuracy on held-out albums, mean ± std over folds")
    print()
    print("| classifier | accuracy | minus logistic regression on the classic descriptor, paired |")
    print("|---|---:|---:|")
    for name, values in accuracy.items():
        values = np.array(values)
        gain = values - reference
        print(f"| {name} | {values.mean():.3f} ± {values.std():.3f} | {gain.mean():+.3f} ± {gain.std():.3f} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
