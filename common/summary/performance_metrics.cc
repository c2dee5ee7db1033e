// PerformanceMetrics (common/summary/metric_engine.h): each value's sample
// size is the count its estimate is computed from, and min_labelled applies
// to that count.
#include <algorithm>
#include <cmath>

#include "common/summary/metric_engine.h"
#include "common/summary/metric_value.h"
#include "common/summary/quantile_sketch.h"

namespace aims {
namespace {

using metric_internal::Insufficient;
using metric_internal::kNaN;
using metric_internal::Proportion;
using metric_internal::ProportionOf;
using metric_internal::SaturatedCount;
using metric_internal::Value;

double SafeDiv(double a, double b) { return b > 0 ? a / b : 0.0; }

// Per-class counts of a confusion matrix.
struct ClassCounts {
  std::vector<double> tp, fp, fn, support;
  uint64_t total = 0, correct = 0;
};

ClassCounts CountClasses(const v1::ConfusionMatrix& cm) {
  const int k = cm.classes_size();
  ClassCounts c;
  c.tp.assign(k, 0);
  c.fp.assign(k, 0);
  c.fn.assign(k, 0);
  c.support.assign(k, 0);
  for (int a = 0; a < k; ++a) {
    for (int p = 0; p < k; ++p) {
      const uint64_t count = cm.counts(a * k + p);
      c.total += count;
      if (a == p) {
        c.correct += count;
        c.tp[a] += count;
      } else {
        c.fn[a] += count;
        c.fp[p] += count;
      }
      c.support[a] += count;
    }
  }
  return c;
}

// Binary: precision on the predicted positives, recall on the labelled
// positives, F1 on the events either counts (TP + FP + FN); each needs
// min_labelled of its own count.
void PositiveClass(const ClassCounts& c, int k, const MetricOptions& options,
                   std::vector<v1::MetricValue>* out) {
  const uint64_t tp = SaturatedCount(c.tp[k]);
  const uint64_t predicted = SaturatedCount(c.tp[k] + c.fp[k]);
  const uint64_t positives = SaturatedCount(c.tp[k] + c.fn[k]);
  out->push_back(
      ProportionOf("precision", tp, predicted, options.min_labelled));
  out->push_back(ProportionOf("recall", tp, positives, options.min_labelled));
  const uint64_t f1_n = SaturatedCount(c.tp[k] + c.fp[k] + c.fn[k]);
  if (f1_n < options.min_labelled) {
    out->push_back(Insufficient("f1", f1_n));
    return;
  }
  const double precision = SafeDiv(c.tp[k], c.tp[k] + c.fp[k]);
  const double recall = SafeDiv(c.tp[k], c.tp[k] + c.fn[k]);
  out->push_back(
      Value("f1", SafeDiv(2 * precision * recall, precision + recall), f1_n));
}

void Confusion(const v1::ConfusionMatrix& cm, const MetricOptions& options,
               std::vector<v1::MetricValue>* out) {
  const int k = cm.classes_size();
  const ClassCounts c = CountClasses(cm);
  const uint64_t total = c.total;
  int positive = -1;
  for (int i = 0; i < k; ++i) {
    if (options.task == v1::TASK_TYPE_BINARY &&
        cm.classes(i) == options.positive_class) {
      positive = i;
    }
  }
  if (total < options.min_labelled) {
    for (const char* name :
         {"accuracy", "precision_macro", "recall_macro", "f1_macro",
          "precision_weighted", "recall_weighted", "f1_weighted", "f1_micro"}) {
      out->push_back(Insufficient(name, total));
    }
    if (positive >= 0) PositiveClass(c, positive, options, out);
    return;
  }
  out->push_back(Proportion("accuracy", c.correct, total));
  if (positive >= 0) PositiveClass(c, positive, options, out);
  double macro_p = 0, macro_r = 0, macro_f = 0, weighted_f = 0, weighted_p = 0,
         weighted_r = 0;
  for (int i = 0; i < k; ++i) {
    const double precision = SafeDiv(c.tp[i], c.tp[i] + c.fp[i]);
    const double recall = SafeDiv(c.tp[i], c.tp[i] + c.fn[i]);
    const double f1 = SafeDiv(2 * precision * recall, precision + recall);
    macro_p += precision / k;
    macro_r += recall / k;
    macro_f += f1 / k;
    weighted_p += precision * c.support[i] / total;
    weighted_r += recall * c.support[i] / total;
    weighted_f += f1 * c.support[i] / total;
  }
  out->push_back(Value("precision_macro", macro_p, total));
  out->push_back(Value("recall_macro", macro_r, total));
  out->push_back(Value("f1_macro", macro_f, total));
  out->push_back(Value("precision_weighted", weighted_p, total));
  out->push_back(Value("recall_weighted", weighted_r, total));
  out->push_back(Value("f1_weighted", weighted_f, total));
  // Single-label micro averages all equal accuracy.
  out->push_back(
      Value("f1_micro", static_cast<double>(c.correct) / total, total));
}

// Mann-Whitney AUC of binned scores: pairs in one bin count one half.
double BinnedAuc(const v1::BinnedCounts& negative,
                 const v1::BinnedCounts& positive, uint64_t* pairs_n,
                 uint64_t* pairs_p) {
  double neg_total = 0, pos_total = 0, below = 0, area = 0;
  for (int i = 0; i < negative.counts_size(); ++i)
    neg_total += negative.counts(i);
  for (int i = 0; i < positive.counts_size(); ++i)
    pos_total += positive.counts(i);
  *pairs_n = SaturatedCount(neg_total);
  *pairs_p = SaturatedCount(pos_total);
  if (neg_total == 0 || pos_total == 0) return kNaN;
  for (int i = 0; i < negative.counts_size() && i < positive.counts_size();
       ++i) {
    area += positive.counts(i) * (below + 0.5 * negative.counts(i));
    below += negative.counts(i);
  }
  return area / (neg_total * pos_total);
}

void Regression(const v1::RegressionSums& r, const MetricOptions& options,
                std::vector<v1::MetricValue>* out) {
  const uint64_t n = r.n();
  if (n < options.min_labelled) {
    for (const char* name : {"mae", "rmse", "r2"})
      out->push_back(Insufficient(name, n));
  } else {
    out->push_back(Value("mae", r.sum_abs_error() / n, n));
    out->push_back(Value("rmse", std::sqrt(r.sum_squared_error() / n), n));
    const double sst =
        r.sum_label_squared() - r.sum_label() * r.sum_label() / n;
    out->push_back(
        Value("r2", sst > 0 ? 1 - r.sum_squared_error() / sst : kNaN, n));
  }
  // MAPE leaves zero labels out: its count is the non-zero labels.
  const uint64_t nz = r.n_nonzero_label();
  if (nz > 0 && nz < options.min_labelled) {
    out->push_back(Insufficient("mape", nz));
  } else {
    out->push_back(
        Value("mape", nz ? r.sum_abs_percentage_error() / nz : kNaN, nz));
  }
}

void Probabilistic(const v1::PerformanceSummary& perf,
                   const MetricOptions& options,
                   std::vector<v1::MetricValue>* out) {
  const v1::ProbabilitySums& prob = perf.probability();
  if (prob.n() < options.min_labelled) {
    out->push_back(Insufficient("log_loss", prob.n()));
    out->push_back(Insufficient("brier", prob.n()));
  } else {
    out->push_back(Value("log_loss", prob.sum_log_loss() / prob.n(), prob.n()));
    // Binary: sklearn's brier_score_loss, mean (p - y)^2 (the sum holds both
    // classes' terms); multi-class: the sum over classes, per event.
    const double per_event = prob.sum_brier() / prob.n();
    out->push_back(
        Value("brier",
              options.task == v1::TASK_TYPE_BINARY ? per_event / 2 : per_event,
              prob.n()));
  }
  if (options.task == v1::TASK_TYPE_BINARY && perf.score_by_label_size() == 2) {
    uint64_t negatives = 0, positives = 0;
    const double auc = BinnedAuc(perf.score_by_label(0), perf.score_by_label(1),
                                 &negatives, &positives);
    // AUC compares the two classes: the smaller one limits the evidence.
    const uint64_t n = std::min(negatives, positives);
    out->push_back(n < options.min_labelled ? Insufficient("roc_auc", n)
                                            : Value("roc_auc", auc, n));
  }
}

}  // namespace

std::vector<v1::MetricValue> PerformanceMetrics(
    const v1::WindowSummary& summary, const MetricOptions& options,
    absl::Duration span) {
  std::vector<v1::MetricValue> out;
  const v1::OperationalSummary& op = summary.operational();
  out.push_back(Proportion("error_rate", op.error_count(), op.event_count()));
  const double seconds = absl::ToDoubleSeconds(span);
  out.push_back(Value("throughput",
                      seconds > 0 ? op.event_count() / seconds : kNaN,
                      op.event_count()));
  absl::StatusOr<QuantileSketch> latency =
      QuantileSketch::FromProto(op.latency_seconds());
  for (auto [name, q] :
       {std::pair{"latency_p50", 0.5}, std::pair{"latency_p90", 0.9},
        std::pair{"latency_p99", 0.99}}) {
    const bool ok = latency.ok() && !latency->empty();
    out.push_back(Value(name, ok ? latency->Quantile(q) : kNaN,
                        ok ? latency->count() : 0));
  }
  const uint64_t matched = op.labels_matched();
  out.push_back(Value("labels_matched", static_cast<double>(matched), matched));
  // Share of the window's labelable predictions (an inline label or a
  // prediction_id) labelled so far, inline or joined later:
  // min_label_coverage waits for it. Summaries from before labelable_count
  // count every event. A label for a prediction counted in another window
  // must not make it more than all.
  const uint64_t labelable =
      op.labelable_count() > 0 ? op.labelable_count() : op.event_count();
  out.push_back(Proportion(
      "label_coverage",
      std::min(summary.performance().labelled_count(), labelable), labelable));
  absl::StatusOr<QuantileSketch> delay =
      QuantileSketch::FromProto(op.label_delay_seconds());
  for (auto [name, q] : {std::pair{"label_delay_p50_seconds", 0.5},
                         std::pair{"label_delay_p90_seconds", 0.9}}) {
    const bool ok = delay.ok() && !delay->empty();
    out.push_back(
        Value(name, ok ? delay->Quantile(q) : kNaN, ok ? delay->count() : 0));
  }

  const v1::PerformanceSummary& perf = summary.performance();
  if (options.task == v1::TASK_TYPE_REGRESSION) {
    Regression(perf.regression(), options, &out);
    return out;
  }
  Confusion(perf.confusion(), options, &out);
  Probabilistic(perf, options, &out);
  return out;
}

}  // namespace aims
