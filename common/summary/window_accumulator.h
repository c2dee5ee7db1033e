// WindowAccumulator: folds inference events into the mergeable summary of
// one window (aims.v1.WindowSummary) in bounded memory.
//
// Memory is O(features x bins + attributes x groups + classes^2), fixed by
// SummaryConfig limits and independent of the number of events: beyond
// `max_features` new features are counted as rejected (their values
// dropped), beyond `max_attributes` new attributes are dropped, beyond
// `max_classes` classes fold into "__other__", beyond
// `max_groups_per_attribute` groups fold into "__other__". Each value
// beyond a limit is counted in overflows().
//
// Slices: for each of `slice_keys` (an attribute, else a categorical
// feature, of the event) the first `max_slice_values` values each get a
// counts-only child accumulator (performance and data-quality counts, no
// sketches, histograms or fairness); later values fold into "__other__" and
// are counted in overflows().slices. Each key folds the event once more
// (counts only: about half the cost of the first fold).
//
// Thread-safety: not thread-safe; the agent serialises access.
#ifndef AIMS_COMMON_SUMMARY_WINDOW_ACCUMULATOR_H_
#define AIMS_COMMON_SUMMARY_WINDOW_ACCUMULATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "aims/v1/profile.pb.h"
#include "aims/v1/summary.pb.h"
#include "common/summary/event.h"
#include "common/summary/quantile_sketch.h"

namespace aims {

// Name of the pseudo-feature that summarises the model's predictions.
inline constexpr absl::string_view kPredictionFeature = "__prediction__";
// Bucket for classes and groups beyond their limit.
inline constexpr absl::string_view kOtherBucket = "__other__";

struct SummaryConfig {
  v1::TaskType task = v1::TASK_TYPE_BINARY;
  // Binary tasks: the class that counts as "positive" for fairness and AUC.
  std::string positive_class = "1";
  size_t max_features = 512;             // --max_features_per_window
  size_t max_classes = 64;               // --max_classes_per_window
  size_t max_attributes = 32;            // --max_attributes_per_window
  size_t max_groups_per_attribute = 64;  // --max_groups_per_attribute
  double sketch_relative_accuracy = QuantileSketch::kDefaultRelativeAccuracy;
  // Slice keys (--slice_keys) and the named values kept per key per window
  // (--max_slice_values; beyond: "__other__").
  std::vector<std::string> slice_keys;
  size_t max_slice_values = 20;
  // Set on slice children: counts only (no latency, sketches, moments,
  // histograms, fairness or slices).
  bool counts_only = false;
  // Bins for histograms; null: no histograms (sketches and counts only).
  std::shared_ptr<const v1::ReferenceProfile> profile;
};

// Values beyond a SummaryConfig limit, by limit.
struct LimitOverflows {
  uint64_t features = 0;    // values of features beyond max_features, dropped
  uint64_t attributes = 0;  // values of attributes beyond max_attributes,
                            // dropped
  uint64_t groups = 0;      // group values folded into "__other__"
  uint64_t classes = 0;     // class values folded into "__other__"
  uint64_t slices = 0;      // slice values folded into "__other__"

  LimitOverflows& operator+=(const LimitOverflows& o);
  LimitOverflows operator-(const LimitOverflows& o) const;
};

class WindowAccumulator {
 public:
  explicit WindowAccumulator(std::shared_ptr<const SummaryConfig> config);
  ~WindowAccumulator();

  void Add(const Event& event);
  // Counts events refused at intake for `reason` in this window.
  void CountRejected(absl::string_view reason, uint64_t n);
  // Folds a delayed label joined to its stored prediction: `joined` carries
  // the prediction, score, attributes and the label. Only performance and
  // fairness outcome counts change (the event itself was counted when it
  // arrived). `late`: the prediction was in an earlier window.
  void AddJoinedLabel(const Event& joined, absl::Duration delay, bool late);
  // Labels that found no prediction, and predictions evicted unlabelled.
  void CountLabelMisses(uint64_t unmatched, uint64_t evicted);

  uint64_t event_count() const { return event_count_; }
  // Values beyond the config's limits so far (see the file comment).
  const LimitOverflows& overflows() const { return overflows_; }
  // The summary so far, with features, attributes and groups sorted by name.
  v1::WindowSummary Build() const;

 private:
  struct ProfileBins;
  struct FeatureState {
    bool numeric = false;  // kind fixed by the first non-missing value
    bool kind_known = false;
    uint64_t present = 0;
    uint64_t wrong_type = 0;
    uint64_t non_finite = 0;
    uint64_t out_of_range = 0;
    uint64_t unseen_category = 0;
    uint64_t n = 0;
    double sum = 0;
    double sum_squares = 0;
    QuantileSketch sketch;
    const v1::FeatureProfile* profile = nullptr;
    std::vector<uint64_t> histogram;
    // Categorical profile: category -> bin.
    absl::flat_hash_map<std::string, size_t> category_bins;
  };
  struct GroupState {
    uint64_t n = 0, predicted_positive = 0, labelled = 0;
    uint64_t tp = 0, fp = 0, tn = 0, fn = 0;
  };
  using GroupMap = absl::flat_hash_map<std::string, GroupState>;

  FeatureState* Feature(absl::string_view name);
  void AddFeatureValue(FeatureState* f, const FeatureValue& v);
  size_t ClassIndex(const std::string& label);
  // `predicted` and `actual` are the event's classes ("" when absent),
  // computed once per event.
  void AddPerformance(const Event& event, const std::string& predicted,
                      const std::string& actual);
  // `selection`: count the event in n / predicted_positive; `outcome`:
  // count its label in the confusion counts.
  void AddFairness(const Event& event, const std::string& predicted,
                   const std::string& actual, bool selection, bool outcome);
  // The event's predicted class, or "" when it has none.
  std::string PredictedClass(const Event& event) const;
  // Folds the event (or, with `joined`, its delayed label) into the child
  // of each slice key's value.
  void AddSlices(const Event& event, const absl::Duration* joined_delay,
                 bool late);
  void BuildSlices(v1::WindowSummary* out) const;

  std::shared_ptr<const SummaryConfig> config_;
  LimitOverflows overflows_;
  uint64_t event_count_ = 0;
  uint64_t labelable_ = 0;  // events with an inline label or prediction_id
  uint64_t error_count_ = 0;
  QuantileSketch latency_;
  uint64_t labels_matched_ = 0, labels_late_ = 0;
  uint64_t labels_unmatched_ = 0, labels_evicted_ = 0;
  QuantileSketch label_delay_;
  absl::flat_hash_map<std::string, uint64_t> rejected_;
  // node_hash_map: FeatureState addresses stay valid, so that the layout
  // cache below can hold them.
  absl::node_hash_map<std::string, FeatureState> features_;
  // Model servers send the same features in the same order; remembering the
  // last event's layout saves a hash lookup per feature.
  std::vector<std::pair<const std::string*, FeatureState*>> layout_;
  FeatureState* prediction_state_ = nullptr;
  absl::flat_hash_map<std::string, GroupMap> attributes_;
  // Performance.
  uint64_t labelled_ = 0;
  std::vector<std::string> classes_;
  absl::flat_hash_map<std::string, size_t> class_index_;
  std::vector<uint64_t> confusion_;  // max_classes^2, row-major
  v1::ProbabilitySums probability_;
  v1::RegressionSums regression_;
  std::vector<uint64_t> score_by_label_[2];
  // Slices: per key of config_->slice_keys (same order), value -> child.
  struct SliceKey {
    absl::flat_hash_map<std::string, std::unique_ptr<WindowAccumulator>> values;
    uint64_t missing = 0;
  };
  std::vector<SliceKey> slices_;
  std::shared_ptr<const SummaryConfig> slice_config_;  // the children's
};

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_WINDOW_ACCUMULATOR_H_
