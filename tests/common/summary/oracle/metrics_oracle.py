"""Oracle for aims' metric engines: generates seeded data sets, computes the
metrics with scikit-learn, SciPy and NumPy, and writes both (raw rows and
expected values) as JSON for tests/common/summary/metrics_oracle_test.cc.

Run with Debian's interpreter, which has python3-numpy/scipy/sklearn:
    /usr/bin/python3 tests/common/summary/oracle/metrics_oracle.py OUT.json
"""

import json
import math
import sys

import numpy as np
from scipy import optimize, stats
from scipy.spatial.distance import jensenshannon
from sklearn import metrics

PSI_EPSILON = 1e-4
rng = np.random.default_rng(20261123)


def psi(p, q):
    p = np.maximum(p, PSI_EPSILON)
    q = np.maximum(q, PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def exponential_offset(p, h, w):
    """Mean offset from its inner edge of an exponential density on a bin of
    width w starting at density h and holding mass p < h w (aims' tail bins,
    common/summary/wasserstein.h), by the same bisection."""
    r = p / (h * w)
    lo, hi = 0.0, 1 / r
    for _ in range(100):
        u = (lo + hi) / 2
        if -math.expm1(-u) / u > r:
            lo = u
        else:
            hi = u
    u = (lo + hi) / 2
    return w * (1 / u - 1 / math.expm1(u))


def bin_positions(edges, ref_counts):
    """Each bin's representative value: inner midpoints, the edge for under-
    and overflow, the outermost inner bins' exponential-tail means."""
    pos = [edges[0]] + [(a + b) / 2 for a, b in zip(edges, edges[1:])] + [edges[-1]]
    k = len(edges)
    total = float(sum(ref_counts))
    if k >= 4 and total > 0:
        for b, nb, edge, sign in [(k - 1, k - 2, edges[k - 2], 1), (1, 2, edges[1], -1)]:
            p, w = ref_counts[b] / total, edges[b] - edges[b - 1]
            h = ref_counts[nb] / total / (edges[nb] - edges[nb - 1])
            if p > 0 and h * w > p:
                pos[b] = edge + sign * exponential_offset(p, h, w)
    return pos


def noncentrality_interval(x, dof):
    """95 % interval of lambda for one draw x of ncx2(dof, lambda), with
    SciPy's noncentral chi-squared."""
    def cdf(lam):
        return stats.chi2.cdf(x, dof) if lam == 0 else stats.ncx2.cdf(x, dof, lam)
    top = x + 20 * math.sqrt(x + dof) + 50
    low = 0.0 if cdf(0) <= 0.975 else optimize.brentq(lambda l: cdf(l) - 0.975, 0, top,
                                                       xtol=1e-12, rtol=1e-12)
    high = 0.0 if cdf(0) <= 0.025 else optimize.brentq(lambda l: cdf(l) - 0.025, 0, top,
                                                       xtol=1e-12, rtol=1e-12)
    return low, high


def binned_drift(ref_counts, cur_counts, positions, ref_std, means=None):
    ref_counts = np.asarray(ref_counts, float)
    cur_counts = np.asarray(cur_counts, float)
    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    chi2, chi2_p, _, _ = stats.chi2_contingency(table)
    d = float(np.max(np.abs(np.cumsum(p) - np.cumsum(q))))
    n, m = ref_counts.sum(), cur_counts.sum()
    out = {
        "psi": psi(p, q),
        "js_distance": float(jensenshannon(p, q, base=2)),
        "hellinger": float(np.sqrt(max(0.0, 1 - np.sum(np.sqrt(p * q))))),
        "chi_squared": float(chi2),
        "chi_squared_p": float(chi2_p),
        "ks_statistic": d,
        "ks_p": float(stats.kstwobign.sf(np.sqrt(n * m / (n + m)) * d)),
    }
    # Intervals of the distances: the noncentral chi-squared model of
    # common/summary/sampling_error.h inverted with SciPy's ncx2.
    c = 1 / n + 1 / m
    dof = table.shape[1] - 1
    for name, k in [("psi", None), ("js_distance", 8 * math.log(2)), ("hellinger", 8.0)]:
        x = out[name] / c if k is None else k * out[name] ** 2 / c
        lo, hi = noncentrality_interval(x, dof)
        out[name + "_ci"] = [c * lo, c * hi] if k is None else [
            math.sqrt(c * lo / k), math.sqrt(c * hi / k)]
    if positions is not None:
        w = stats.wasserstein_distance(positions, positions, ref_counts, cur_counts)
        if means is not None:
            w = max(w, abs(means[1] - means[0]))  # the exact means bound it
        out["wasserstein_norm"] = float(w / ref_std)
    return out


def binary():
    n = 6000
    gender = rng.choice(["f", "m"], size=n)
    gender[:12] = "x"  # a tiny group: below the minimum group size
    y = rng.binomial(1, 0.4, size=n)
    score = np.clip(1 / (1 + np.exp(-(2.2 * (y - 0.5) + rng.normal(0, 1, n)
                                      - 0.6 * (gender == "f")))), 0, 1)
    score = np.round(score, 6)
    pred = (score >= 0.5).astype(int)
    edges = [i / 100 for i in range(1, 100)]
    binned = np.searchsorted(edges, score, side="right")
    exp = {
        "accuracy": metrics.accuracy_score(y, pred),
        "precision": metrics.precision_score(y, pred, zero_division=0),
        "recall": metrics.recall_score(y, pred, zero_division=0),
        "f1": metrics.f1_score(y, pred, zero_division=0),
        "precision_macro": metrics.precision_score(y, pred, average="macro", zero_division=0),
        "recall_macro": metrics.recall_score(y, pred, average="macro", zero_division=0),
        "f1_macro": metrics.f1_score(y, pred, average="macro", zero_division=0),
        "f1_micro": metrics.f1_score(y, pred, average="micro", zero_division=0),
        "precision_weighted": metrics.precision_score(y, pred, average="weighted",
                                                      zero_division=0),
        "recall_weighted": metrics.recall_score(y, pred, average="weighted", zero_division=0),
        "f1_weighted": metrics.f1_score(y, pred, average="weighted", zero_division=0),
        "log_loss": metrics.log_loss(y, np.column_stack([1 - score, score]), labels=[0, 1]),
        "brier": metrics.brier_score_loss(y, score),
        "roc_auc_binned": metrics.roc_auc_score(y, binned),
        "roc_auc_raw": metrics.roc_auc_score(y, score),
    }
    groups = {}
    for g in ["f", "m", "x"]:
        sel = gender == g
        tp = int(np.sum(sel & (pred == 1) & (y == 1)))
        fp = int(np.sum(sel & (pred == 1) & (y == 0)))
        tn = int(np.sum(sel & (pred == 0) & (y == 0)))
        fn = int(np.sum(sel & (pred == 0) & (y == 1)))
        groups[g] = {"n": int(sel.sum()), "selection_rate": float(pred[sel].mean()),
                     "tpr": tp / (tp + fn), "fpr": fp / (fp + tn), "ppv": tp / (tp + fp)}
        lo, hi = stats.binomtest(int(pred[sel].sum()), int(sel.sum())).proportion_ci(
            0.95, method="wilson")
        groups[g]["selection_ci"] = [lo, hi]
    big = [groups["f"], groups["m"]]  # "x" is below the minimum size
    rates = [g["selection_rate"] for g in big]
    exp["demographic_parity_difference"] = max(rates) - min(rates)
    exp["demographic_parity_ratio"] = min(rates) / max(rates)
    tprs, fprs, ppvs = [g["tpr"] for g in big], [g["fpr"] for g in big], [g["ppv"] for g in big]
    exp["equal_opportunity_difference"] = max(tprs) - min(tprs)
    exp["equalized_odds_difference"] = max(max(tprs) - min(tprs), max(fprs) - min(fprs))
    exp["predictive_parity_difference"] = max(ppvs) - min(ppvs)
    # Slices by gender: each value's performance from its rows alone.
    slices = {}
    for g in ["f", "m"]:
        sel = gender == g
        slices[g] = {
            "n": int(sel.sum()),
            "accuracy": metrics.accuracy_score(y[sel], pred[sel]),
            "f1": metrics.f1_score(y[sel], pred[sel], zero_division=0),
            "recall": metrics.recall_score(y[sel], pred[sel], zero_division=0),
            "log_loss": metrics.log_loss(
                y[sel], np.column_stack([1 - score[sel], score[sel]]), labels=[0, 1]),
            "brier": metrics.brier_score_loss(y[sel], score[sel]),
            "roc_auc": metrics.roc_auc_score(y[sel], binned[sel]),
        }
    rows = [[float(s), int(l), str(g)] for s, l, g in zip(score, y, gender)]
    return {"rows": rows, "score_edges": edges, "expected": exp, "groups": groups,
            "slices": slices}


def multiclass():
    n, k = 4000, 4
    classes = ["a", "b", "c", "d"]
    y = rng.integers(0, k, size=n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 1.3
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    proba = np.round(proba, 8)
    proba = proba / proba.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    onehot = np.eye(k)[y]
    yl, pl = [classes[i] for i in y], [classes[i] for i in pred]
    exp = {
        "accuracy": metrics.accuracy_score(yl, pl),
        "precision_macro": metrics.precision_score(yl, pl, average="macro", zero_division=0),
        "recall_macro": metrics.recall_score(yl, pl, average="macro", zero_division=0),
        "f1_macro": metrics.f1_score(yl, pl, average="macro", zero_division=0),
        "f1_micro": metrics.f1_score(yl, pl, average="micro", zero_division=0),
        "precision_weighted": metrics.precision_score(yl, pl, average="weighted",
                                                      zero_division=0),
        "recall_weighted": metrics.recall_score(yl, pl, average="weighted", zero_division=0),
        "f1_weighted": metrics.f1_score(yl, pl, average="weighted", zero_division=0),
        "log_loss": metrics.log_loss(yl, proba, labels=classes),
        # Multi-class Brier: sum over classes, mean over events (NumPy).
        "brier": float(np.mean(np.sum((proba - onehot) ** 2, axis=1))),
    }
    rows = [[pl[i], yl[i]] + [float(v) for v in proba[i]] for i in range(n)]
    return {"classes": classes, "rows": rows, "expected": exp}


def regression():
    n = 3000
    y = np.round(rng.normal(50, 15, n), 4)
    y[:5] = 0.0  # zero labels are left out of MAPE
    pred = np.round(y + rng.normal(0, 5, n), 4)
    nz = y != 0
    exp = {
        "mae": metrics.mean_absolute_error(y, pred),
        "rmse": float(np.sqrt(metrics.mean_squared_error(y, pred))),
        "r2": metrics.r2_score(y, pred),
        "mape": metrics.mean_absolute_percentage_error(y[nz], pred[nz]),
    }
    return {"rows": [[float(p), float(t)] for p, t in zip(pred, y)], "expected": exp}


def drift_numeric():
    reference = rng.normal(0, 1, 5000)
    current = rng.normal(0.3, 1.2, 3000)
    edges = list(np.quantile(reference, np.linspace(0, 0.9, 10)))
    edges.append(float(np.nextafter(reference.max(), np.inf)))
    edges = sorted(set(float(e) for e in edges))
    ref_counts = np.bincount(np.searchsorted(edges, reference, side="right"),
                             minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, current, side="right"),
                             minlength=len(edges) + 1)
    positions = bin_positions(edges, ref_counts.tolist())
    std = float(np.std(reference, ddof=1))
    mean = float(np.mean(reference))
    exp = binned_drift(ref_counts, cur_counts, positions, std, (mean, float(np.mean(current))))
    raw = {"ks_statistic_raw": float(stats.ks_2samp(reference, current, method="asymp").statistic),
           "wasserstein_norm_raw": float(stats.wasserstein_distance(reference, current) / std)}
    return {"edges": edges, "reference_counts": ref_counts.tolist(), "stddev": std,
            "mean": mean, "min": float(reference.min()), "max": float(reference.max()),
            "current": [float(v) for v in current], "expected": exp, "raw": raw}


def drift_shift():
    """A plain 0.5 sigma mean shift of a normal feature, 20,000 reference rows
    binned as aims' profile builder does (edges at the rank floor(q (n - 1))
    values for q = 0, 0.1, .., 0.9, plus one just above the maximum): the
    binned Wasserstein distance against SciPy's on the raw values. Its own
    generator, so the other data sets stay as they were."""
    gen = np.random.default_rng(20260523)
    reference = gen.normal(0, 1, 20000)
    current = gen.normal(0.5, 1, 5000)
    ordered = np.sort(reference)
    edges = []
    for i in range(10):
        v = float(ordered[int(i / 10 * (len(ordered) - 1))])
        if not edges or v > edges[-1]:
            edges.append(v)
    edges.append(float(np.nextafter(ordered[-1], np.inf)))
    ref_counts = np.bincount(np.searchsorted(edges, reference, side="right"),
                             minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, current, side="right"),
                             minlength=len(edges) + 1)
    std = float(np.std(reference, ddof=1))
    means = (float(np.mean(reference)), float(np.mean(current)))
    exp = binned_drift(ref_counts, cur_counts, bin_positions(edges, ref_counts.tolist()), std,
                       means)
    midpoints = [edges[0]] + [(a + b) / 2 for a, b in zip(edges, edges[1:])] + [edges[-1]]
    raw = {"wasserstein_norm_raw": float(stats.wasserstein_distance(reference, current) / std),
           # aims' estimate before issue 23: bins at their midpoints and edges.
           "wasserstein_norm_midpoints": float(stats.wasserstein_distance(
               midpoints, midpoints, ref_counts, cur_counts) / std)}
    return {"reference": [float(v) for v in reference], "current": [float(v) for v in current],
            "expected": exp, "raw": raw}


def drift_categorical():
    categories = ["north", "south", "east", "west"]
    reference = rng.choice(categories + ["rare1", "rare2"], size=4000,
                           p=[0.3, 0.25, 0.25, 0.15, 0.03, 0.02])
    current = rng.choice(categories + ["rare1", "new"], size=2500,
                         p=[0.15, 0.45, 0.25, 0.1, 0.03, 0.02])
    ref_counts = [int(np.sum(reference == c)) for c in categories]
    ref_counts.append(int(len(reference) - sum(ref_counts)))
    cur_counts = [int(np.sum(current == c)) for c in categories]
    cur_counts.append(int(len(current) - sum(cur_counts)))
    exp = binned_drift(ref_counts, cur_counts, None, 1.0)
    del exp["ks_statistic"], exp["ks_p"]
    return {"categories": categories, "reference_counts": ref_counts,
            "current": [str(c) for c in current], "expected": exp}


def multiple_testing():
    p = [0.001, 0.04, 0.03, 0.2, 0.011, 0.9, 0.049]
    m = len(p)
    order = np.argsort(p)
    ranked = np.asarray(p)[order] * m / np.arange(1, m + 1)
    bh = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(bh, 1)
    return {"p": p, "bh": out.tolist(),
            "bonferroni": [min(1.0, v * m) for v in p]}


def main():
    data = {"binary": binary(), "multiclass": multiclass(), "regression": regression(),
            "drift_numeric": drift_numeric(), "drift_categorical": drift_categorical(),
            "multiple_testing": multiple_testing(), "drift_shift": drift_shift()}
    with open(sys.argv[1], "w") as out:
        json.dump(data, out)
    print("wrote", sys.argv[1])


if __name__ == "__main__":
    main()
