// RocksStorage, part 3: reads - profiles, the registry and gaps, report
// scans, query merges over rollups and raw reports (in parallel on the
// merge pool), and keyed records.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "aims/v1/storage.pb.h"
#include "collector/storage/rocks_storage.h"
#include "collector/storage/rocks_storage_internal.h"
#include "collector/storage/wire_filter.h"
#include "common/rocks/keys.h"
#include "common/rocks/rocksdb_status.h"
#include "common/rocks/slice.h"
#include "google/protobuf/arena.h"
#include "rocksdb/db.h"

namespace aims::collector {

using rocks_storage_internal::AlignDown;
using rocks_storage_internal::AlignUp;
using rocks_storage_internal::kKeyTimeOffset;
using rocks_storage_internal::kReportKeyAgentOffset;
using rocks_storage_internal::kReportKeyBytes;
using rocks_storage_internal::kReportKeySequenceOffset;
using rocks_storage_internal::kRollupLevelNames;
using rocks_storage_internal::ModelKey;
using rocks_storage_internal::ProfileKey;
using rocks_storage_internal::TimeKey;

namespace {

// Parsing a stored summary allocates hundreds of repeated fields; on an
// arena over a per-thread block they are pointer bumps, and the block is
// reused record after record (a query reads up to a few hundred).
class ParseArena {
 public:
  ParseArena() : owns_block_(!block_in_use_), arena_(Options(owns_block_)) {
    block_in_use_ = true;
  }
  ~ParseArena() {
    if (owns_block_) block_in_use_ = false;
  }
  template <typename T>
  T* Create() {
    return google::protobuf::Arena::CreateMessage<T>(&arena_);
  }

 private:
  static constexpr size_t kBlockBytes = 4 << 20;
  static google::protobuf::ArenaOptions Options(bool use_block) {
    google::protobuf::ArenaOptions options;
    if (use_block) {  // a nested arena on the same thread allocates its own
      thread_local std::unique_ptr<char[]> block(new char[kBlockBytes]);
      options.initial_block = block.get();
      options.initial_block_size = kBlockBytes;
    }
    return options;
  }
  static thread_local bool block_in_use_;
  const bool owns_block_;
  google::protobuf::Arena arena_;
};
thread_local bool ParseArena::block_in_use_ = false;

// The second half of a MergeRecords call, run by a pool thread or, when no
// pool thread has started it, by the caller itself.
struct SecondHalf {
  explicit SecondHalf(SummaryMerger::FeatureSketches sketches)
      : merger(sketches) {}
  std::atomic<bool> claimed{false};
  absl::Notification done;
  absl::Status status;
  SummaryMerger merger;
};

std::string RecordSource(int level) {
  return level < 0 ? "reports"
                   : absl::StrCat("rollup_", kRollupLevelNames[level]);
}

}  // namespace

absl::StatusOr<v1::ReferenceProfile> RocksStorage::GetProfile(
    const v1::ModelRef& model) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), profiles_cf_, ProfileKey(model), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(
        absl::StrCat("no profile for ", model.name(), "/", model.version()));
  }
  if (!s.ok()) return FromRocksDbStatus(s, "reading profiles");
  v1::ReferenceProfile profile;
  if (!profile.ParseFromString(value)) {
    return absl::DataLossError("profiles: unparsable record");
  }
  return profile;
}

std::vector<v1::ModelInfo> RocksStorage::ListModels(
    const v1::ModelSelector& selector) const {
  absl::MutexLock lock(&mu_);
  absl::flat_hash_map<uint64_t, uint32_t> agent_counts;
  for (const auto& [id, a] : agents_) ++agent_counts[a.model_id];
  std::vector<v1::ModelInfo> out;
  for (const auto& [id, m] : models_) {
    if (!Matches(selector, m.info.model())) continue;
    out.push_back(m.info);
    out.back().set_agent_count(agent_counts[id]);
    std::string value;
    v1::ReferenceProfile profile;
    if (db_->Get(rocksdb::ReadOptions(), profiles_cf_,
                 ProfileKey(m.info.model()), &value)
            .ok() &&
        profile.ParseFromString(value)) {
      out.back().set_profile_id(profile.profile_id());
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.model().name(), a.model().version(),
                    a.model().environment()) <
           std::tie(b.model().name(), b.model().version(),
                    b.model().environment());
  });
  return out;
}

std::vector<v1::AgentInfo> RocksStorage::ListAgents(
    const v1::ModelSelector& selector) const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::AgentInfo> out;
  for (const auto& [id, a] : agents_) {
    if (Matches(selector, a.info.model())) out.push_back(a.info);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.agent().agent_id() < b.agent().agent_id();
  });
  return out;
}

std::vector<v1::GapNotice> RocksStorage::ListGaps(
    const v1::ModelSelector& selector) const {
  std::vector<uint64_t> agent_nums;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, a] : agents_) {
      if (Matches(selector, a.info.model())) agent_nums.push_back(a.num);
    }
  }
  std::sort(agent_nums.begin(), agent_nums.end());
  std::vector<v1::GapNotice> out;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), gaps_cf_));
  for (uint64_t num : agent_nums) {
    const std::string prefix = Uint64BigEndian(num);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      v1::GapNotice gap;
      if (gap.ParseFromArray(it->value().data(),
                             static_cast<int>(it->value().size()))) {
        out.push_back(std::move(gap));
      }
    }
  }
  return out;
}

std::optional<uint64_t> RocksStorage::FindModelId(
    const v1::ModelRef& model) const {
  absl::MutexLock lock(&mu_);
  auto it = model_ids_.find(ModelKey(model));
  if (it == model_ids_.end()) return std::nullopt;
  return it->second;
}

absl::Status RocksStorage::ScanReports(
    const v1::ModelRef& model, absl::Time from, absl::Time to,
    const std::function<bool(const StoredReport&)>& fn) const {
  return ScanReportRecords(model, from, to, /*with_summary=*/true, fn);
}

absl::Status RocksStorage::ScanReportHeaders(
    const v1::ModelRef& model, absl::Time from, absl::Time to,
    const std::function<bool(const StoredReport&)>& fn) const {
  return ScanReportRecords(model, from, to, /*with_summary=*/false, fn);
}

absl::Status RocksStorage::ScanReportRecords(
    const v1::ModelRef& model, absl::Time from, absl::Time to,
    bool with_summary,
    const std::function<bool(const StoredReport&)>& fn) const {
  const std::optional<uint64_t> model_id = FindModelId(model);
  if (!model_id.has_value()) return absl::OkStatus();
  const std::string start = TimeKey(*model_id, from);
  const std::string end = TimeKey(*model_id, to);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(ro, with_summary ? reports_cf_ : headers_cf_));
  StoredReport stored;
  stored.model = model;
  for (it->Seek(start); it->Valid(); it->Next()) {
    if (!stored.report.ParseFromArray(it->value().data(), it->value().size())) {
      return absl::DataLossError(with_summary
                                     ? "reports: unparsable record"
                                     : "report_headers: unparsable record");
    }
    if (!fn(stored)) break;
  }
  return FromRocksDbStatus(it->status(), "scanning reports");
}

absl::Status RocksStorage::MergeReports(const v1::ModelRef& model,
                                        absl::Time from, absl::Time to,
                                        SummaryMerger* merger,
                                        MergeStats* stats) const {
  const std::optional<uint64_t> model_id = FindModelId(model);
  if (!model_id.has_value()) return absl::OkStatus();
  // One snapshot, so that a late report written meanwhile is neither
  // missed by its rollup nor counted twice.
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  absl::Status s = MergeRange(*model_id, from, to, kRollupLevels - 1, snapshot,
                              merger, stats);
  if (s.ok() && stats != nullptr && stats->report_ids != nullptr) {
    s = ReportIds(*model_id, from, to, snapshot, stats->report_ids);
  }
  db_->ReleaseSnapshot(snapshot);
  return s;
}

absl::Status RocksStorage::ReportIds(
    uint64_t model_id, absl::Time from, absl::Time to,
    const rocksdb::Snapshot* snapshot,
    std::vector<std::pair<std::string, uint64_t>>* out) const {
  absl::flat_hash_map<uint64_t, std::string> agent_ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, a] : agents_) {
      if (a.model_id == model_id) agent_ids[a.num] = id;
    }
  }
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  const std::string upper_key = TimeKey(model_id, to);
  rocksdb::Slice upper(upper_key);
  ro.iterate_upper_bound = &upper;
  // Keys only: model id, window start, agent number, sequence (the
  // headers' keys: the reports' would load each report from its blob file).
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, headers_cf_));
  for (it->Seek(TimeKey(model_id, from)); it->Valid(); it->Next()) {
    const absl::string_view key = ToStringView(it->key());
    if (key.size() != kReportKeyBytes) {
      return absl::DataLossError("reports: key of unexpected length");
    }
    const uint64_t num = ReadUint64BigEndian(key, kReportKeyAgentOffset);
    auto agent = agent_ids.find(num);
    out->emplace_back(num == 0                   ? kLabelReportAgent
                      : agent == agent_ids.end() ? "?"
                                                 : agent->second,
                      ReadUint64BigEndian(key, kReportKeySequenceOffset));
  }
  return FromRocksDbStatus(it->status(), "scanning report keys");
}

absl::Status RocksStorage::MergeRange(uint64_t model_id, absl::Time from,
                                      absl::Time to, int max_level,
                                      const rocksdb::Snapshot* snapshot,
                                      SummaryMerger* merger,
                                      MergeStats* stats) const {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  // First the records that cover the range (their bytes, copied: iterators
  // move on), then the parse and merge, which is most of the time.
  std::vector<StoredRecord> records;
  // Intervals not covered yet; each level takes the whole buckets it holds
  // and leaves the rest to the finer levels, raw reports last.
  std::vector<std::pair<absl::Time, absl::Time>> uncovered = {{from, to}};
  for (int level = max_level; level >= 0; --level) {
    const absl::Duration res = kRollupResolution[level];
    std::vector<std::pair<absl::Time, absl::Time>> rest;
    for (const auto& [a, b] : uncovered) {
      const absl::Time first = AlignUp(a, res);
      const absl::Time end = AlignDown(b, res);  // buckets starting before
      if (!(first < end)) {
        rest.emplace_back(a, b);
        continue;
      }
      const std::string upper_key = TimeKey(model_id, end);
      rocksdb::Slice upper(upper_key);
      rocksdb::ReadOptions bounded = ro;
      bounded.iterate_upper_bound = &upper;
      std::unique_ptr<rocksdb::Iterator> it(
          db_->NewIterator(bounded, rollup_cfs_[level]));
      absl::Time covered_to = a;
      for (it->Seek(TimeKey(model_id, first)); it->Valid(); it->Next()) {
        const absl::Time start =
            ReadSortableMillis(ToStringView(it->key()), kKeyTimeOffset);
        records.push_back({level, it->value().ToString()});
        if (start > covered_to) rest.emplace_back(covered_to, start);
        if (stats != nullptr) ++stats->rollups_read[level];
        covered_to = start + res;
      }
      if (!it->status().ok()) {
        return FromRocksDbStatus(it->status(), "reading rollups");
      }
      if (covered_to < b) rest.emplace_back(covered_to, b);
    }
    uncovered = std::move(rest);
  }
  for (const auto& [a, b] : uncovered) {
    const std::string upper_key = TimeKey(model_id, b);
    rocksdb::Slice upper(upper_key);
    rocksdb::ReadOptions bounded = ro;
    bounded.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(bounded, reports_cf_));
    for (it->Seek(TimeKey(model_id, a)); it->Valid(); it->Next()) {
      records.push_back({-1, it->value().ToString()});
      if (stats != nullptr) ++stats->raw_reports_read;
    }
    if (!it->status().ok()) {
      return FromRocksDbStatus(it->status(), "scanning reports");
    }
  }
  return MergeRecords(records, merger);
}

absl::Status RocksStorage::MergePart(const std::vector<StoredRecord>& records,
                                     size_t begin, size_t end,
                                     SummaryMerger* merger) {
  // Without feature sketches the records are parsed without them: they are
  // most of the bytes, and the parse is most of a query's time.
  const bool drop_sketches =
      merger->feature_sketches() == SummaryMerger::FeatureSketches::kDrop;
  std::string stripped;
  for (size_t i = begin; i < end; ++i) {
    const StoredRecord& record = records[i];
    ParseArena arena;
    absl::string_view bytes = record.bytes;
    if (drop_sketches) {
      const int summary_field =
          record.level < 0
              ? static_cast<int>(v1::WindowReport::kSummaryFieldNumber)
              : static_cast<int>(v1::RollupBucket::kSummaryFieldNumber);
      stripped.clear();
      if (!CopyWithoutField(
              bytes,
              {summary_field, v1::WindowSummary::kFeaturesFieldNumber,
               v1::FeatureSummary::kSketchFieldNumber},
              &stripped)) {
        return absl::DataLossError(
            absl::StrCat(RecordSource(record.level), ": unparsable record"));
      }
      bytes = stripped;
    }
    const int size = static_cast<int>(bytes.size());
    if (record.level < 0) {
      auto& report = *arena.Create<v1::WindowReport>();
      if (!report.ParseFromArray(bytes.data(), size)) {
        return absl::DataLossError("reports: unparsable record");
      }
      if (absl::Status s = merger->Add(report.summary()); !s.ok()) return s;
    } else {
      auto& bucket = *arena.Create<v1::RollupBucket>();
      if (!bucket.ParseFromArray(bytes.data(), size)) {
        return absl::DataLossError(
            absl::StrCat(RecordSource(record.level), ": unparsable record"));
      }
      if (absl::Status s = merger->Add(bucket.summary(), bucket.report_count());
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status RocksStorage::MergeRecords(
    const std::vector<StoredRecord>& records, SummaryMerger* merger) const {
  // Below this, a second thread saves less than it costs.
  constexpr size_t kParallelMinRecords = 8;
  const size_t n = records.size();
  if (n < kParallelMinRecords || merge_pool_ == nullptr) {
    return MergePart(records, 0, n, merger);
  }
  const size_t half = n / 2;
  auto second = std::make_shared<SecondHalf>(merger->feature_sketches());
  const bool scheduled =
      merge_pool_->TrySchedule([second, records = &records, half, n] {
        // `records` is used only once claimed: the caller waits for it then.
        if (second->claimed.exchange(true)) return;
        second->status = MergePart(*records, half, n, &second->merger);
        second->done.Notify();
      });
  absl::Status first = MergePart(records, 0, half, merger);
  if (!scheduled || !second->claimed.exchange(true)) {
    // Not started by the pool (busy, or full): merge it here.
    second->status = MergePart(records, half, n, &second->merger);
  } else {
    second->done.WaitForNotification();
  }
  if (!first.ok()) return first;
  if (!second->status.ok()) return second->status;
  if (second->merger.count() == 0) return absl::OkStatus();
  return merger->Add(second->merger.result(), second->merger.count());
}

absl::StatusOr<std::string> RocksStorage::Get(Table table,
                                              absl::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(),
               table_cfs_.at(static_cast<size_t>(table)), ToSlice(key), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(
        absl::StrCat(TableName(table), ": no record ", key));
  }
  if (!s.ok()) {
    return FromRocksDbStatus(s, absl::StrCat("reading ", TableName(table)));
  }
  return value;
}

absl::StatusOr<std::vector<std::optional<std::string>>> RocksStorage::GetMany(
    Table table, absl::Span<const std::string> keys) const {
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const std::string& k : keys) slices.push_back(ToSlice(k));
  std::vector<rocksdb::PinnableSlice> pinned(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  db_->MultiGet(rocksdb::ReadOptions(),
                table_cfs_.at(static_cast<size_t>(table)), keys.size(),
                slices.data(), pinned.data(), statuses.data());
  std::vector<std::optional<std::string>> values(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) {
      return FromRocksDbStatus(statuses[i],
                               absl::StrCat("reading ", TableName(table)));
    }
    values[i].emplace(pinned[i].data(), pinned[i].size());
  }
  return values;
}

absl::Status RocksStorage::Scan(
    Table table, absl::string_view from,
    const std::function<bool(absl::string_view, absl::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(
      rocksdb::ReadOptions(), table_cfs_.at(static_cast<size_t>(table))));
  for (it->Seek(ToSlice(from)); it->Valid(); it->Next()) {
    if (!fn(ToStringView(it->key()), ToStringView(it->value()))) break;
  }
  return FromRocksDbStatus(it->status(),
                           absl::StrCat("scanning ", TableName(table)));
}

absl::StatusOr<std::pair<std::string, std::string>> RocksStorage::Last(
    Table table) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(
      rocksdb::ReadOptions(), table_cfs_.at(static_cast<size_t>(table))));
  it->SeekToLast();
  if (!it->status().ok()) {
    return FromRocksDbStatus(it->status(), "reading last record");
  }
  if (!it->Valid()) {
    return absl::NotFoundError(absl::StrCat(TableName(table), " is empty"));
  }
  return std::make_pair(it->key().ToString(), it->value().ToString());
}

}  // namespace aims::collector
