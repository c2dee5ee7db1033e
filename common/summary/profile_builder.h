// ProfileBuilder: builds a reference profile (aims.v1.ReferenceProfile) from
// reference events - training data (`aimsctl profile build`) or the first
// events after deploy (the agent's frozen reference).
//
// Numeric features: bin edges at the reference quantiles i/bins (i = 0..bins-1,
// duplicates removed) plus one edge just above the maximum, so the reference
// fills the inner bins and the under- and overflow bins start empty.
// Categorical features: the top_k most frequent categories (ties by name),
// everything else in the trailing "other" bin. At most
// max_categories_per_feature distinct categories are counted per feature;
// values of categories first seen beyond that go straight to "other" and
// are counted in categories_overflowed(). Binary tasks: uniform score
// bins. Per attribute and group: size and base rate of the positive label.
// A feature that is numeric in most rows and text in others is numeric.
//
// Memory: keeps every numeric value seen (exact quantiles); bounded by
// `max_rows`, beyond which Add() ignores rows and `truncated()` is true,
// and by max_categories_per_feature distinct categories per feature.
//
// Thread-safety: not thread-safe.
#ifndef AIMS_COMMON_SUMMARY_PROFILE_BUILDER_H_
#define AIMS_COMMON_SUMMARY_PROFILE_BUILDER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "aims/v1/profile.pb.h"
#include "common/summary/event.h"
#include "common/summary/event_columns.h"

namespace aims {

struct ProfileBuildOptions {
  v1::TaskType task = v1::TASK_TYPE_BINARY;
  std::string positive_class = "1";
  int numeric_bins = 10;
  int top_k = 20;
  // Binary tasks: uniform score bins on [0, 1] (ROC AUC is computed on them).
  int score_bins = 100;
  size_t max_rows = 5'000'000;
  // Distinct categories counted per feature (the agent's
  // --max_categories_per_feature); later ones count as "other".
  size_t max_categories_per_feature = 100'000;
};

class ProfileBuilder {
 public:
  explicit ProfileBuilder(ProfileBuildOptions options);
  // Not copyable: the layout caches point into its own maps.
  ProfileBuilder(const ProfileBuilder&) = delete;
  ProfileBuilder& operator=(const ProfileBuilder&) = delete;

  // Adds one event (a batch of one) or a batch's rows, in order: the same
  // profile either way.
  void Add(const Event& event);
  void AddColumns(const EventColumns& batch);
  size_t rows() const { return rows_; }
  bool truncated() const { return truncated_; }
  // Values of categories beyond max_categories_per_feature, counted in
  // their feature's "other" bin.
  uint64_t categories_overflowed() const { return categories_overflowed_; }

  // Fails when there are no rows or the options are out of range.
  absl::StatusOr<v1::ReferenceProfile> Build(
      const v1::ModelRef& model, v1::ProfileSource source,
      const std::string& description) const;

 private:
  // A feature's numbers in chunks that double up to 64 KB: growing never
  // copies what is stored nor touches fresh pages twice (a doubling
  // vector's copies and page faults were most of a large profile's time),
  // and a feature of few values holds little.
  class Numbers {
   public:
    void push_back(double v) {
      if (fill_ == capacity_) NewChunk();
      last_[fill_++] = v;
      ++size_;
    }
    size_t size() const { return size_; }
    // f(const double* values, size_t n) for each chunk, in order.
    template <typename F>
    void ForEachChunk(F&& f) const {
      for (size_t i = 0; i < chunks_.size(); ++i) {
        f(chunks_[i].values.get(),
          i + 1 < chunks_.size() ? chunks_[i].capacity : fill_);
      }
    }

   private:
    static constexpr size_t kFirstChunk = 64, kLargestChunk = 8192;
    struct Chunk {
      std::unique_ptr<double[]> values;
      size_t capacity = 0;
    };
    void NewChunk();
    std::vector<Chunk> chunks_;
    double* last_ = nullptr;
    size_t fill_ = 0, capacity_ = 0;  // of the last chunk
    size_t size_ = 0;
  };
  struct FeatureValues {
    Numbers numbers;
    absl::flat_hash_map<std::string, uint64_t> categories;
    uint64_t other = 0;  // values beyond max_categories_per_feature
  };
  // Rows [begin, end) of a batch, column by column.
  void AddRows(const EventColumns& b, size_t begin, size_t end);
  void AddColumn(FeatureValues* f, const EventColumns::Feature& column,
                 size_t begin, size_t end);
  void AddPredictions(const EventColumns& b, size_t begin, size_t end);
  void AddClassesAndGroups(const EventColumns& b, size_t begin, size_t end);
  // Adds `n` values of category `category` (first seen in this order).
  void AddCategory(FeatureValues* f, const std::string& category, uint64_t n);

  const ProfileBuildOptions options_;
  size_t rows_ = 0;
  bool truncated_ = false;
  uint64_t categories_overflowed_ = 0;
  std::map<std::string, FeatureValues> features_;
  std::map<std::string, uint64_t> classes_;
  // attribute -> group -> (n, labelled, positive labels)
  struct GroupStats {
    uint64_t n = 0, labelled = 0, positive = 0;
  };
  std::map<std::string, std::map<std::string, GroupStats>> groups_;
  // Batches come with the same columns in the same order: the last batch's
  // layout saves a map lookup per name (std::map entries do not move).
  std::vector<std::pair<const std::string*, FeatureValues*>> layout_;
  std::vector<uint64_t> code_counts_;  // scratch: values per code
  std::unique_ptr<EventColumns> single_;
  std::vector<std::pair<const std::string*, std::map<std::string, GroupStats>*>>
      attribute_layout_;
  FeatureValues* prediction_ = nullptr;
};

// Hex SHA-256 of the profile's serialization with profile_id and stored_at
// cleared.
std::string ComputeProfileId(const v1::ReferenceProfile& profile);

// Whether `a` was stored later than `b`: by `stored_at` (collectors' clocks)
// when both have it, else (one stored before collectors stamped profiles)
// by the client's `created_at`.
bool StoredLater(const v1::ReferenceProfile& a, const v1::ReferenceProfile& b);

// Checks a profile from outside: names, strictly increasing finite edges,
// bin and category limits, counts that match the bins. Errors name the field.
absl::Status ValidateProfile(const v1::ReferenceProfile& profile);

}  // namespace aims

#endif  // AIMS_COMMON_SUMMARY_PROFILE_BUILDER_H_
