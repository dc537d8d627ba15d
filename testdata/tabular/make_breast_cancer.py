#!/usr/bin/python3
"""Writes the breast-cancer example of docs/anomaly.md: scikit-learn's
bundled Wisconsin diagnostic table (569 rows, 30 features; BSD-licensed,
shipped with Debian's python3-sklearn, no download) split for anomaly
detection with the benign class as normal.

Benign rows: 60% train, 20% validation, 20% test, chosen by a seeded
shuffle. Malignant rows: all in test. Each CSV has a header row, an `id`
column (the row's index in scikit-learn's table) first, the 30 features
as the table holds them (raw units), and a `label` column last (0 benign,
1 malignant). Rows keep the table's order inside each file.

Run from anywhere: python3 testdata/tabular/make_breast_cancer.py
The output is deterministic; the committed CSVs are its output.
"""

import csv
import os

import numpy as np
from sklearn.datasets import load_breast_cancer

SEED = 20260113
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    data = load_breast_cancer()
    x, target = data.data, data.target
    # scikit-learn codes malignant as 0 and benign as 1; the files use
    # label 1 for the anomaly (malignant).
    label = (target == 0).astype(int)
    names = [n.replace(" ", "_") for n in data.feature_names]

    benign = np.flatnonzero(label == 0)
    malignant = np.flatnonzero(label == 1)
    rng = np.random.default_rng(SEED)
    perm = rng.permutation(benign)
    n_train = int(round(0.6 * len(benign)))
    n_val = int(round(0.2 * len(benign)))
    parts = {
        "train": perm[:n_train],
        "validation": perm[n_train:n_train + n_val],
        "test": np.concatenate([perm[n_train + n_val:], malignant]),
    }
    for part, rows in parts.items():
        rows = np.sort(rows)
        path = os.path.join(HERE, "breast-cancer-%s.csv" % part)
        with open(path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["id"] + names + ["label"])
            for i in rows:
                # repr of a Python float reads back as the same float64.
                w.writerow([int(i)] + [repr(float(v)) for v in x[i]] + [int(label[i])])
        print("%s: %d rows (%d malignant)" % (os.path.relpath(path), len(rows), int(label[rows].sum())))


if __name__ == "__main__":
    main()
