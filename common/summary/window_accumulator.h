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
// Events fold column by column (EventColumns): AddColumns takes a batch as
// the intake parsed it, Add(event) folds one event as a batch of one. Both
// give the same summary as folding the events one by one in their order.
//
// Feature sketches (SummaryConfig::feature_sketches): by default a numeric
// feature that the reference profile bins gets no quantile sketch - its
// histogram on the profile's bins is what drift metrics read - and one
// without a profile gets one; kAll keeps a sketch for every numeric feature
// (about 4 ns a value more).
//
// Thread-safety: not thread-safe; the agent serialises access.
#ifndef AIMS_COMMON_SUMMARY_WINDOW_ACCUMULATOR_H_
#define AIMS_COMMON_SUMMARY_WINDOW_ACCUMULATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "aims/v1/profile.pb.h"
#include "aims/v1/summary.pb.h"
#include "common/summary/event.h"
#include "common/summary/event_columns.h"
#include "common/summary/quantile_sketch.h"

namespace aims {

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
  // Which numeric features keep a quantile sketch (--feature_sketches).
  enum class FeatureSketches { kUnprofiled, kAll };
  FeatureSketches feature_sketches = FeatureSketches::kUnprofiled;
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
  // Folds every row of `batch`, in order.
  void AddColumns(const EventColumns& batch);
  // Folds the rows of `batch` listed in `rows` (increasing).
  void AddRows(const EventColumns& batch, absl::Span<const uint32_t> rows);
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
  using Rows = absl::Span<const uint32_t>;
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
    bool sketched = false;  // numeric values go into `sketch`
    const v1::FeatureProfile* profile = nullptr;
    std::vector<uint64_t> histogram;
    // Categorical profile: category -> bin.
    absl::flat_hash_map<std::string, size_t> category_bins;
  };
  struct GroupState {
    uint64_t n = 0, predicted_positive = 0, labelled = 0;
    uint64_t tp = 0, fp = 0, tn = 0, fn = 0;
  };
  // node_hash_map: GroupState addresses stay valid, so that a batch's
  // group codes can be resolved once.
  using GroupMap = absl::node_hash_map<std::string, GroupState>;
  // Per row of a batch: the predicted and the actual class (null: none) and
  // the slot caching each one's ClassIndex.
  struct RowClasses {
    const std::string* predicted = nullptr;  // null also for ""
    const std::string* actual = nullptr;     // set when labelled
    int32_t* predicted_slot = nullptr;
    int32_t* actual_slot = nullptr;
    bool predicted_positive = false;
    bool actual_positive = false;
  };

  FeatureState* Feature(absl::string_view name);
  size_t ClassIndex(const std::string& label);
  // ClassIndex through a batch's cache slot (-1: not resolved yet).
  size_t CachedClassIndex(const std::string& label, int32_t* slot);

  // The fold of a batch's rows (window_accumulator_fold.cc), in this order.
  void FoldFeatures(const EventColumns& b, Rows rows);
  void FoldColumn(FeatureState* f, const EventColumns::Feature& col, Rows rows,
                  bool all);
  void FoldNumbers(FeatureState* f, const double* values, size_t n);
  // Counts a present value; false (counted as a wrong type) when its kind is
  // not the feature's, which the first value fixes.
  static bool OfItsKind(FeatureState* f, bool numeric);
  void AddNumber(FeatureState* f, double v);
  // `bin`: the category's bin in the profile, -1 when unseen.
  void AddCategory(FeatureState* f, int32_t bin);
  int32_t CategoryBin(const FeatureState& f, const std::string& category);
  void FoldPrediction(const EventColumns& b, Rows rows);
  // The classes of each of `rows`, in order.
  std::vector<RowClasses> ClassifyRows(const EventColumns& b, Rows rows);
  void FoldPerformance(const EventColumns& b, Rows rows,
                       absl::Span<const RowClasses> classes);
  // `selection`: count the rows in n / predicted_positive; `outcome`:
  // count their labels in the confusion counts.
  void FoldFairness(const EventColumns& b, Rows rows,
                    absl::Span<const RowClasses> classes, bool selection,
                    bool outcome);
  // Folds the rows (or, with `joined_delay`, their delayed labels) into the
  // child of each slice key's value.
  void FoldSlices(const EventColumns& b, Rows rows,
                  const absl::Duration* joined_delay, bool late);
  void AddJoinedRows(const EventColumns& b, Rows rows, absl::Duration delay,
                     bool late);
  // A batch of one event, in `single_`.
  const EventColumns& Single(const Event& event);
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
  // Batches of one model list the same features in the same order:
  // remembering each column's state saves a hash lookup per column.
  std::vector<std::pair<const std::string*, FeatureState*>> column_states_;
  FeatureState* prediction_state_ = nullptr;
  // Scratch of a batch, sized by its columns and dictionaries, not its rows
  // (positive_slot_ holds across batches: a class keeps its index).
  // (first row listed, place in that row, column) of a batch's columns.
  std::vector<std::tuple<size_t, size_t, size_t>> fold_order_;
  std::vector<int32_t> class_slots_[2];     // by prediction, label class code
  std::vector<uint8_t> positive_codes_[2];  // whether a code is positive
  int32_t positive_slot_ = -1;
  std::vector<int32_t> category_bins_;
  std::unique_ptr<EventColumns> single_;
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
