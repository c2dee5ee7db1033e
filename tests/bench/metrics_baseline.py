"""The metrics comparison of the performance harness (docs/performance.md).

Three subcommands, run with Debian's interpreter (/usr/bin/python3 has
python3-numpy, python3-scipy and python3-sklearn):

  generate DIR [--rows N] [--reference-rows M] [--seed S]
      Writes the data set both sides read: a binary classifier's current
      data (N rows, 1,000,000 by default) and its reference data (M rows),
      each with 20 numeric and 5 categorical features, 2 sensitive
      attributes (gender, age_band), a score and a label. Deterministic for a
      seed. Layout: DIR/dataset.json (names, category dictionaries, row
      counts) and one little-endian column file per column and part:
      DIR/<part>.<column>.f64 (float64) or .u8 (category / group codes, label).

  baseline DIR OUT.json [--repeat R]
      Computes every metric aims computes on this data, as a Python batch
      job does it (Evidently, NannyML and whylogs compute with these
      libraries): scikit-learn for performance, NumPy/SciPy for drift on the
      reference's quantile bins, NumPy boolean masks for fairness per group.
      Times reading apart from computing (best of R runs) and writes the
      values and timings to OUT.json; prints one JSON result line.

  compare AIMS.json BASELINE.json
      Checks that aims' values (tests/bench/metrics_bench.cc) equal the
      baseline's within each metric's tolerance; prints one JSON result line
      with the ratio of compute times and the largest error per metric
      family. Exit status 1 when a value disagrees.

The definitions follow docs/metrics.md and the test oracle
(tests/common/summary/oracle/metrics_oracle.py): numeric bins are the reference's
lower quantiles i/10 plus an edge just above its maximum (with under- and
overflow bins), categorical bins its 20 most frequent categories plus
"other"; ROC AUC in aims is computed on 100 uniform score bins.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn import metrics

# The definitions the oracle test pins (aims' Wasserstein bin positions, the
# PSI interval): one copy of each.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "common", "summary", "oracle"))
from metrics_oracle import bin_positions, noncentrality_interval  # noqa: E402

NUMERIC = ["num_%02d" % i for i in range(20)]
CATEGORICAL = {
    "cat_00": ["a", "b", "c"],
    "cat_01": ["red", "green", "blue", "cyan", "magenta", "yellow", "black", "white"],
    "cat_02": ["city_%02d" % i for i in range(30)],  # more than top_k = 20
    "cat_03": ["web", "mobile", "branch", "phone", "partner"],
    "cat_04": ["plan_%d" % i for i in range(12)],
}
ATTRIBUTES = {
    "gender": ["f", "m", "x"],
    "age_band": ["18-29", "30-44", "45-64", "65+"],
}
PREDICTION = "__prediction__"  # aims profiles the score like a feature
NUMERIC_BINS = 10
TOP_K = 20
SCORE_BINS = 100
PSI_EPSILON = 1e-4
MIN_GROUP_SIZE = 30
# drifted_feature_share counts the input features (not the predictions) whose
# PSI is shown (low end of its 95 % interval) above this minimum effect
# (MetricOptions).
MIN_DRIFT_EFFECT_PSI = 0.1


# ---------------------------------------------------------------- generate


def _part(rng, n, drift):
    """Columns of one part; `drift` shifts some distributions."""
    cols = {}
    z = rng.normal(0, 1, (n, 20))
    for i, name in enumerate(NUMERIC):
        kind = i % 5
        shift = (0.05 * (i % 4 + 1)) if drift and i < 8 else 0.0
        if kind == 0:
            v = z[:, i] + shift
        elif kind == 1:
            v = np.exp(0.5 * z[:, i] + shift)  # log-normal, skewed
        elif kind == 2:
            v = rng.uniform(-1 + shift, 1 + shift, n) * 100
        elif kind == 3:
            v = rng.exponential(1 + shift, n)
        else:
            v = np.round(rng.poisson(3 + 4 * shift, n).astype(float))  # ties
        cols[name] = v.astype(np.float64)
    for j, (name, cats) in enumerate(CATEGORICAL.items()):
        k = len(cats)
        w = 1.0 / np.arange(1, k + 1) ** (0.7 + 0.1 * j)  # Zipf-like
        if drift and j == 1:
            w = w[::-1].copy()
        cols[name] = rng.choice(k, size=n, p=w / w.sum()).astype(np.uint8)
    cols["gender"] = rng.choice(3, size=n, p=[0.49, 0.49, 0.02]).astype(np.uint8)
    cols["age_band"] = rng.choice(4, size=n, p=[0.2, 0.35, 0.3, 0.15]).astype(np.uint8)
    logit = (0.8 * z[:, 0] - 0.6 * z[:, 5] + 0.4 * z[:, 10] - 0.3
             + 0.3 * (cols["cat_00"] == 1) - 0.25 * (cols["gender"] == 0))
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    score = 1 / (1 + np.exp(-(logit + rng.normal(0, 0.8, n)
                              + (0.2 if drift else 0.0) * (cols["age_band"] == 3))))
    cols["score"] = score.astype(np.float64)
    cols["label"] = y.astype(np.uint8)
    return cols


def generate(args):
    os.makedirs(args.dir, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    parts = {"reference": _part(rng, args.reference_rows, False),
             "current": _part(rng, args.rows, True)}
    for part, cols in parts.items():
        for name, values in cols.items():
            ext = "f64" if values.dtype == np.float64 else "u8"
            values.tofile(os.path.join(args.dir, "%s.%s.%s" % (part, name, ext)))
    meta = {"rows": args.rows, "reference_rows": args.reference_rows, "seed": args.seed,
            "numeric": NUMERIC, "categorical": CATEGORICAL, "attributes": ATTRIBUTES}
    with open(os.path.join(args.dir, "dataset.json"), "w") as out:
        json.dump(meta, out, indent=1)
    print(json.dumps({"benchmark": "metrics_dataset", "rows": args.rows,
                      "reference_rows": args.reference_rows, "dir": args.dir}))


def load(directory):
    with open(os.path.join(directory, "dataset.json")) as f:
        meta = json.load(f)
    data = {}
    for part in ("reference", "current"):
        cols = {}
        for name in meta["numeric"] + ["score"]:
            cols[name] = np.fromfile(os.path.join(directory, "%s.%s.f64" % (part, name)))
        for name in list(meta["categorical"]) + list(meta["attributes"]) + ["label"]:
            cols[name] = np.fromfile(os.path.join(directory, "%s.%s.u8" % (part, name)),
                                     dtype=np.uint8)
        data[part] = cols
    return meta, data


# ---------------------------------------------------------------- baseline


def value(name, v, n=None, feature="", attribute="", group="", ci=None, p=None):
    out = {"metric": name, "value": float(v), "feature": feature, "attribute": attribute,
           "group": group}
    if n is not None:
        out["sample_size"] = int(n)
    if ci is not None:
        out["ci_low"], out["ci_high"] = float(ci[0]), float(ci[1])
    if p is not None:
        out["p_value"] = float(p)
    return out


def performance(y, score, pred):
    out = []
    n = len(y)
    out.append(value("accuracy", metrics.accuracy_score(y, pred), n))
    p, r, f, _ = metrics.precision_recall_fscore_support(y, pred, average="binary",
                                                         zero_division=0)
    out += [value("precision", p), value("recall", r), value("f1", f, n)]
    for avg in ("macro", "weighted"):
        p, r, f, _ = metrics.precision_recall_fscore_support(y, pred, average=avg,
                                                             zero_division=0)
        out += [value("precision_" + avg, p, n), value("recall_" + avg, r, n),
                value("f1_" + avg, f, n)]
    out.append(value("f1_micro", metrics.f1_score(y, pred, average="micro"), n))
    out.append(value("log_loss", metrics.log_loss(y, score, labels=[0, 1]), n))
    out.append(value("brier", metrics.brier_score_loss(y, score), n))
    out.append(value("roc_auc", metrics.roc_auc_score(y, score), n))
    return out


def performance_numpy(y, score, pred):
    """The same metrics as performance(), hand-vectorized with NumPy: one
    confusion matrix from np.bincount instead of a scikit-learn call (with
    its input validation) per metric; ROC AUC from ranks (Mann-Whitney)."""
    out = []
    n = len(y)
    y = y.astype(np.int64)
    # cm[actual, predicted]; per class: TP on the diagonal, FP the rest of
    # its column, FN the rest of its row.
    cm = np.bincount(2 * y + pred, minlength=4).reshape(2, 2).astype(float)
    tp = cm.diagonal()
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(precision + recall > 0,
                      2 * precision * recall / (precision + recall), 0.0)
    out.append(value("accuracy", tp.sum() / n, n))
    out += [value("precision", precision[1]), value("recall", recall[1]),
            value("f1", f1[1], n)]
    out += [value("precision_macro", precision.mean(), n),
            value("recall_macro", recall.mean(), n), value("f1_macro", f1.mean(), n)]
    w = support / n
    out += [value("precision_weighted", np.sum(precision * w), n),
            value("recall_weighted", np.sum(recall * w), n),
            value("f1_weighted", np.sum(f1 * w), n)]
    out.append(value("f1_micro", tp.sum() / n, n))
    p_true = np.where(y == 1, score, 1 - score)
    out.append(value("log_loss", -np.mean(np.log(np.maximum(p_true, 1e-15))), n))
    out.append(value("brier", np.mean((score - y) ** 2), n))
    ranks = stats.rankdata(score)
    n_pos = int(y.sum())
    auc = (ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * (n - n_pos))
    out.append(value("roc_auc", auc, n))
    return out


def numeric_edges(reference):
    """aims' ProfileBuilder: lower quantiles i/bins, deduplicated, plus an
    edge just above the maximum."""
    q = np.quantile(reference, np.arange(NUMERIC_BINS) / NUMERIC_BINS, method="lower")
    edges = [float(q[0])]
    for e in q[1:]:
        if e > edges[-1]:
            edges.append(float(e))
    above = float(np.nextafter(reference.max(), np.inf))
    if above > edges[-1]:
        edges.append(above)
    return np.asarray(edges)


def binned_distances(ref_counts, cur_counts, positions, ref_std, means=None):
    """PSI, JS, Hellinger, chi-squared, binned KS and Wasserstein on two
    histograms of the same bins (what Evidently/NannyML compute per column)."""
    ref_counts = ref_counts.astype(float)
    cur_counts = cur_counts.astype(float)
    p, q = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    ps, qs = np.maximum(p, PSI_EPSILON), np.maximum(q, PSI_EPSILON)
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    chi2, chi2_p, _, _ = stats.chi2_contingency(table)
    out = {"psi": float(np.sum((qs - ps) * np.log(qs / ps))),
           "js_distance": float(jensenshannon(p, q, base=2)),
           "hellinger": float(np.sqrt(max(0.0, 1 - np.sum(np.sqrt(p * q))))),
           "chi_squared": (float(chi2), float(chi2_p))}
    if positions is not None:
        d = float(np.max(np.abs(np.cumsum(p) - np.cumsum(q))))
        n, m = ref_counts.sum(), cur_counts.sum()
        out["ks_statistic"] = (d, float(stats.kstwobign.sf(np.sqrt(n * m / (n + m)) * d)))
        w = stats.wasserstein_distance(positions, positions, ref_counts, cur_counts)
        if means is not None:
            w = max(w, abs(means[1] - means[0]))  # the exact means bound it
        out["wasserstein_norm"] = float(w / ref_std)
    # Low end of psi's 95 % interval (common/summary/sampling_error.h).
    c = 1 / ref_counts.sum() + 1 / cur_counts.sum()
    out["psi_low"] = c * noncentrality_interval(out["psi"] / c, table.shape[1] - 1)[0]
    return out


def drift(meta, ref, cur):
    out, drifted = [], []
    n_cur = len(cur["score"])
    columns = [(name, True) for name in meta["numeric"] + [PREDICTION]]
    columns += [(name, False) for name in meta["categorical"]]
    for name, numeric in sorted(columns):
        if numeric:
            r = ref["score" if name == PREDICTION else name]
            c = cur["score" if name == PREDICTION else name]
            edges = numeric_edges(r)
            ref_counts = np.bincount(np.searchsorted(edges, r, side="right"),
                                     minlength=len(edges) + 1)
            cur_counts = np.bincount(np.searchsorted(edges, c, side="right"),
                                     minlength=len(edges) + 1)
            positions = bin_positions(edges.tolist(), ref_counts.tolist())
            d = binned_distances(ref_counts, cur_counts, positions, np.std(r, ddof=1),
                                 (float(np.mean(r)), float(np.mean(c))))
        else:
            k = len(meta["categorical"][name])
            names = np.asarray(meta["categorical"][name])
            ref_all = np.bincount(ref[name], minlength=k)
            # Top-k by count, ties by name; the rest in the "other" bin.
            order = sorted(range(k), key=lambda i: (-ref_all[i], names[i]))
            top = [i for i in order[:TOP_K] if ref_all[i] > 0]
            cur_all = np.bincount(cur[name], minlength=k)
            ref_counts = np.append(ref_all[top], ref_all.sum() - ref_all[top].sum())
            cur_counts = np.append(cur_all[top], cur_all.sum() - cur_all[top].sum())
            d = binned_distances(ref_counts, cur_counts, None, 1.0)
        for metric in ("psi", "js_distance", "hellinger"):
            out.append(value(metric, d[metric], n_cur, feature=name))
        out.append(value("chi_squared", d["chi_squared"][0], n_cur, feature=name,
                         p=d["chi_squared"][1]))
        if numeric:
            out.append(value("ks_statistic", d["ks_statistic"][0], n_cur, feature=name,
                             p=d["ks_statistic"][1]))
            out.append(value("wasserstein_norm", d["wasserstein_norm"], n_cur, feature=name))
        if name != PREDICTION:  # an output, not an input feature
            drifted.append(d["psi_low"] > MIN_DRIFT_EFFECT_PSI)
    out.append(value("drifted_feature_share", np.mean(drifted), len(drifted)))
    return out


def wilson(k, n, z=stats.norm.ppf(0.975)):
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


def fairness(meta, cur, pred):
    out = []
    y = cur["label"].astype(bool)
    pred = pred.astype(bool)
    for attribute in sorted(meta["attributes"]):
        groups = meta["attributes"][attribute]
        codes = cur[attribute]
        rates = {"selection_rate": [], "true_positive_rate": [], "false_positive_rate": [],
                 "precision": []}
        for code in sorted(range(len(groups)), key=lambda i: groups[i]):
            mask = codes == code
            n = int(mask.sum())
            if n == 0:
                continue
            pm, ym = pred[mask], y[mask]
            tp = int(np.sum(pm & ym))
            fp = int(np.sum(pm & ~ym))
            tn = int(np.sum(~pm & ~ym))
            fn = int(np.sum(~pm & ym))
            for name, k, d in (("selection_rate", tp + fp, n),
                               ("true_positive_rate", tp, tp + fn),
                               ("false_positive_rate", fp, fp + tn),
                               ("precision", tp, tp + fp)):
                if n < MIN_GROUP_SIZE or d == 0:
                    continue
                lo, hi = wilson(k, d)
                out.append(value(name, k / d, d, attribute=attribute, group=groups[code],
                                 ci=(lo, hi)))
                rates[name].append(k / d)
        gap = lambda r: max(r) - min(r)
        sel = rates["selection_rate"]
        out.append(value("demographic_parity_difference", gap(sel), attribute=attribute))
        out.append(value("demographic_parity_ratio", min(sel) / max(sel), attribute=attribute))
        out.append(value("equal_opportunity_difference", gap(rates["true_positive_rate"]),
                         attribute=attribute))
        out.append(value("equalized_odds_difference",
                         max(gap(rates["true_positive_rate"]),
                             gap(rates["false_positive_rate"])), attribute=attribute))
        out.append(value("predictive_parity_difference", gap(rates["precision"]),
                         attribute=attribute))
    return out


def baseline(args):
    t0 = time.perf_counter()
    meta, data = load(args.dir)
    read_seconds = time.perf_counter() - t0
    best = None
    for _ in range(args.repeat):
        times = {}
        t, cpu = time.perf_counter(), time.process_time()

        def lap(name):
            nonlocal t, cpu
            times[name + "_seconds"] = time.perf_counter() - t
            times[name + "_cpu_seconds"] = time.process_time() - cpu
            t, cpu = time.perf_counter(), time.process_time()

        ref, cur = data["reference"], data["current"]
        y, score = cur["label"], cur["score"]
        pred = (score >= 0.5).astype(np.uint8)
        values = (performance_numpy if args.style == "numpy" else performance)(y, score, pred)
        lap("performance")
        values += drift(meta, ref, cur)
        lap("drift")
        values += fairness(meta, cur, pred)
        lap("fairness")
        for unit in ("_seconds", "_cpu_seconds"):
            times["compute" + unit] = sum(times[part + unit]
                                          for part in ("performance", "drift", "fairness"))
        if best is None or times["compute_cpu_seconds"] < best["compute_cpu_seconds"]:
            best = times
    # Untimed: aims' AUC is computed on 100 uniform score bins; the same
    # AUC on the binned scores checks it exactly.
    edges = np.arange(1, SCORE_BINS) / SCORE_BINS
    binned = np.searchsorted(edges, data["current"]["score"], side="right")
    auc_binned = metrics.roc_auc_score(data["current"]["label"], binned)
    result = dict(best, read_seconds=read_seconds, repeat=args.repeat, style=args.style,
                  rows=meta["rows"], reference_rows=meta["reference_rows"])
    with open(args.out, "w") as out:
        json.dump({"timing": result, "values": values,
                   "checks": {"roc_auc_same_bins": auc_binned}}, out)
    name = "metrics_python" if args.style == "sklearn" else "metrics_python_numpy"
    print(json.dumps(dict({"benchmark": name}, **result)))


# ---------------------------------------------------------------- compare

# Absolute tolerance per metric (relative for p-values). Metrics on counts
# are the same arithmetic in another order: 1e-9. P-values come from aims'
# own chi-squared and Kolmogorov survival functions: relative 1e-6 (1e-12
# absolute below 1e-300 underflow). ROC AUC: aims bins scores into 100
# uniform bins (ties within a bin count one half), so it differs from
# sklearn's AUC on raw scores by at most the pairs inside one bin: 0.005,
# and equals the AUC of the binned scores to 1e-9.
TOLERANCE = {"roc_auc": 0.005}
DEFAULT_TOLERANCE = 1e-9
P_RELATIVE = 1e-6


def key(v):
    # Differences and ratios name their extreme groups in aims; the baseline
    # does not: compare them per attribute.
    group = v.get("group", "")
    if " vs " in group or " / " in group:
        group = ""
    return (v["metric"], v.get("feature", ""), v.get("attribute", ""), group)


def compare(args):
    with open(args.aims) as f:
        aims = json.load(f)
    with open(args.baseline) as f:
        base = json.load(f)
    got = {key(v): v for v in aims["values"] if v.get("state", "OK") == "OK"}
    worst, failures = {}, []

    def check(family, name, a, b, tol, relative=False):
        err = abs(a - b)
        if relative:
            err = err / abs(b) if abs(b) > 1e-300 else err
        worst[family] = max(worst.get(family, 0.0), err)
        if not err <= tol:
            failures.append("%s: aims %.17g baseline %.17g (|err| %.3g > %.3g)"
                            % (name, a, b, err, tol))

    compared = 0
    for v in base["values"]:
        k = key(v)
        label = "/".join(x for x in k if x)
        if k not in got:
            failures.append("%s: missing in aims" % label)
            continue
        a = got[k]
        family = v["metric"]
        check(family, label, a["value"], v["value"],
              TOLERANCE.get(v["metric"], DEFAULT_TOLERANCE))
        for bound in ("ci_low", "ci_high"):
            if bound in v:
                check(family + " ci", label + " " + bound, a[bound], v[bound],
                      DEFAULT_TOLERANCE)
        if "p_value" in v:
            check(family + " p", label + " p", a["p_value"], v["p_value"], P_RELATIVE,
                  relative=True)
        compared += 1
    check("roc_auc (same bins)", "roc_auc same bins", got[("roc_auc", "", "", "")]["value"],
          base["checks"]["roc_auc_same_bins"], DEFAULT_TOLERANCE)
    bt, at = base["timing"], aims["timing"]
    name = "metrics_compare"
    if bt.get("style", "sklearn") != "sklearn":
        name += "_numpy"
    if at.get("threads", 1) > 1:
        name += "_parallel"
    print(json.dumps({"benchmark": name, "values_compared": compared,
                      "agree": not failures, "failures": failures[:20],
                      "python_compute_seconds": bt["compute_seconds"],
                      "aims_compute_seconds": at["compute_seconds"],
                      "python_compute_cpu_seconds": bt["compute_cpu_seconds"],
                      "aims_compute_cpu_seconds": at["compute_cpu_seconds"],
                      "speedup": bt["compute_seconds"] / at["compute_seconds"],
                      "speedup_cpu": bt["compute_cpu_seconds"] / at["compute_cpu_seconds"],
                      "max_error": worst}))
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("dir")
    g.add_argument("--rows", type=int, default=1_000_000)
    g.add_argument("--reference-rows", type=int, default=100_000)
    g.add_argument("--seed", type=int, default=20261124)
    b = sub.add_parser("baseline")
    b.add_argument("dir")
    b.add_argument("out")
    b.add_argument("--repeat", type=int, default=3)
    b.add_argument("--style", choices=["sklearn", "numpy"], default="sklearn",
                   help="sklearn: scikit-learn's metric functions, one call per metric, "
                        "as Evidently and NannyML call them; numpy: performance metrics "
                        "hand-vectorized (drift and fairness are NumPy/SciPy in both)")
    c = sub.add_parser("compare")
    c.add_argument("aims")
    c.add_argument("baseline")
    args = parser.parse_args()
    return {"generate": generate, "baseline": baseline, "compare": compare}[args.command](args) or 0


if __name__ == "__main__":
    sys.exit(main())
