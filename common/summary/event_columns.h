// EventColumns: a batch of inference events stored column by column, the form
// WindowAccumulator folds fastest: one column of kinds and numbers per
// feature, categories, groups and classes as small integer codes into a
// per-column dictionary, and the per-event fields (score, outcomes, latency)
// as arrays. An event of 25 features takes about 250 bytes here against
// about 2 KB as an `Event`, so a batch of 500 stays in the L2 cache while it
// is folded, and each feature's state stays in L1 for its whole column.
//
// Columns appear in the order in which their name first appears, event by
// event and within an event in its order, so a fold of the columns creates
// features and attributes in the order a fold of the events would (which
// decides who falls beyond a limit). A name that occurs twice in one event
// gets a second column of the same name; its values fold into the same
// feature, and such a batch is folded row by row (NeedsRowOrder) so that
// they meet in the events' order.
//
// Clear() keeps every buffer, so a batch object reused for the next batch of
// a model with the same features allocates nothing.
//
// Thread-safety: not thread-safe; one writer, then any number of readers.
#ifndef AIMS_COMMON_SUMMARY_EVENT_COLUMNS_H_
#define AIMS_COMMON_SUMMARY_EVENT_COLUMNS_H_

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/summary/event.h"

namespace aims {

// Strings of one column, each stored once, and the code of each row's string.
class CodeDictionary {
 public:
  // The code of `s`, added when new.
  uint32_t Code(absl::string_view s);
  const std::string& operator[](uint32_t code) const { return strings_[code]; }
  size_t size() const { return strings_.size(); }
  void Clear();

 private:
  // Up to kScanned strings are compared in turn; beyond, hashed.
  static constexpr size_t kScanned = 16;
  std::vector<std::string> strings_;
  absl::flat_hash_map<std::string, uint32_t> codes_;
  // Consecutive rows repeat their value often: checked before hashing.
  uint32_t last_ = UINT32_MAX;
};

class EventColumns {
 public:
  // A feature's cell in one row: not listed by the event, listed as null,
  // a number or a category.
  enum class Cell : uint8_t { kAbsent, kNull, kNumber, kCategory };
  struct Feature {
    std::string name;
    uint32_t first_row = 0;          // the row of its first appearance
    std::vector<Cell> cell;          // one per row
    std::vector<double> number;      // the value where cell is kNumber
    std::vector<uint32_t> category;  // code in `categories` where kCategory
    CodeDictionary categories;
    // The feature's position among the event's features, where listed
    // (Append fills it; empty: every event lists the columns in order).
    std::vector<uint32_t> position;
    // Rows whose cell is kNumber; equal to rows(): the fast path.
    size_t numbers = 0;
    // Index of the next column of the same name (a name twice in an
    // event), or 0: none; `repeated`: the name has more than one column.
    uint32_t next_same_name = 0;
    bool repeated = false;
  };
  struct Attribute {
    std::string name;
    uint32_t first_row = 0;
    static constexpr uint32_t kAbsent = UINT32_MAX;
    std::vector<uint32_t> group;  // code in `groups`; kAbsent: not given
    CodeDictionary groups;
    uint32_t next_same_name = 0;
    bool repeated = false;
  };
  // A prediction or label per row: kind, number, and the class text's code
  // in `classes` (a number's class is its integer text, Outcome::AsClass).
  struct Outcomes {
    std::vector<Outcome::Kind> kind;
    std::vector<double> number;
    std::vector<uint32_t> class_code;  // valid where kind is not kNone
    CodeDictionary classes;
    // Class codes of the integers 0..15 (labels 0 and 1 alternate), and of
    // the last other number: a number's text is made once.
    uint32_t small_integer_code[16];
    double last_number = 0;
    uint32_t last_number_code = UINT32_MAX;
    Outcomes() { ForgetNumbers(); }
    void ForgetNumbers() {
      std::fill(std::begin(small_integer_code), std::end(small_integer_code),
                UINT32_MAX);
      last_number_code = UINT32_MAX;
    }
  };
  // Per-row flags.
  static constexpr uint8_t kLabelable = 1;  // a label or a prediction_id
  static constexpr uint8_t kError = 2;
  static constexpr uint8_t kHasScore = 4;
  static constexpr uint8_t kHasLatency = 8;

  // Room for `rows` rows in every column made from now on (a hint: appends
  // beyond it still grow the columns).
  void Reserve(size_t rows);
  // Appends one event as the next row.
  void Append(const Event& event);
  // Forgets every row and column, keeping their buffers.
  void Clear();

  size_t rows() const { return rows_; }
  size_t feature_count() const { return feature_count_; }
  const Feature& feature(size_t i) const { return features_[i]; }
  // Whether the batch's values meet in the order of its events only when
  // folded row by row: an event lists a feature or attribute name twice
  // (each occurrence has a column, folded one after the other), or a
  // feature is named kPredictionFeature (folded before the predictions).
  bool NeedsRowOrder() const;
  size_t attribute_count() const { return attribute_count_; }
  const Attribute& attribute(size_t i) const { return attributes_[i]; }
  const Outcomes& predictions() const { return predictions_; }
  const Outcomes& labels() const { return labels_; }
  uint8_t flags(size_t row) const { return flags_[row]; }
  double score(size_t row) const { return score_[row]; }
  double latency(size_t row) const { return latency_[row]; }
  // A row's class probabilities (multiclass), in the event's order.
  absl::Span<const std::pair<std::string, double>> probabilities(
      size_t row) const {
    return absl::MakeConstSpan(probabilities_)
        .subspan(probability_begin_[row],
                 probability_begin_[row + 1] - probability_begin_[row]);
  }

  // Writers for a producer that fills columns directly (a benchmark reading
  // column files): SetRows first (every cell absent, no outcome, no flag),
  // then the columns, each added in the order of first appearance. The
  // producer keeps Feature::numbers, class codes and first_row right.
  void SetRows(size_t rows);
  Feature* AddFeature(absl::string_view name);
  Attribute* AddAttribute(absl::string_view name);
  Outcomes* mutable_predictions() { return &predictions_; }
  Outcomes* mutable_labels() { return &labels_; }
  void SetScore(size_t row, double score);
  void SetFlag(size_t row, uint8_t flag) { flags_[row] |= flag; }
  // The code of an outcome's class text in `out`'s dictionary.
  static uint32_t ClassCode(const Outcome& o, Outcomes* out);

 private:
  // The column for the `position`-th feature of the row being appended,
  // named `name`: the same position's column when the names match (events
  // of one model list features in one order) and the name has one column,
  // else found or added; the k-th occurrence of a name in an event goes to
  // its k-th column.
  Feature* FeatureFor(size_t position, const std::string& name);
  Attribute* AttributeFor(size_t position, const std::string& name);
  static void AppendOutcome(const Outcome& o, Outcomes* out);

  size_t rows_ = 0;
  size_t reserved_rows_ = 0;
  bool repeated_names_ = false;
  // Columns in use are the first *_count_; the rest keep their buffers.
  std::vector<Feature> features_;
  size_t feature_count_ = 0;
  absl::flat_hash_map<std::string, uint32_t> feature_index_;  // first column
  std::vector<Attribute> attributes_;
  size_t attribute_count_ = 0;
  absl::flat_hash_map<std::string, uint32_t> attribute_index_;
  Outcomes predictions_;
  Outcomes labels_;
  std::vector<uint8_t> flags_;
  std::vector<double> score_;
  std::vector<double> latency_;
  std::vector<uint32_t> probability_begin_ = {0};
  std::vector<std::pair<std::string, double>> probabilities_;
};

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_EVENT_COLUMNS_H_
