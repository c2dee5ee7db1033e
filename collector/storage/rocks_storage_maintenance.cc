// RocksStorage, part 4: maintenance - building and rebuilding rollups,
// retention, the free-disk reserve and resuming after a failed write, and
// the engine's sizes and health.
#include <sys/statvfs.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "aims/v1/storage.pb.h"
#include "collector/storage/rocks_storage.h"
#include "collector/storage/rocks_storage_internal.h"
#include "common/rocks/keys.h"
#include "common/rocks/rocksdb_status.h"
#include "common/rocks/slice.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace aims::collector {

using rocks_storage_internal::AlignDown;
using rocks_storage_internal::kDirtyKeyBytes;
using rocks_storage_internal::kKeyTimeOffset;
using rocks_storage_internal::kReportKeyAgentOffset;
using rocks_storage_internal::kReportKeyBytes;
using rocks_storage_internal::TimeKey;

std::optional<uint64_t> RocksStorage::FreeDiskBytes() const {
  struct statvfs fs;
  if (statvfs(options_.path.c_str(), &fs) != 0) return std::nullopt;
  return uint64_t{fs.f_bavail} * fs.f_frsize;
}

absl::Duration RocksStorage::FailingFor(absl::Time now) const {
  if (!degraded_.load()) return absl::ZeroDuration();
  return now - absl::FromUnixMicros(degraded_since_us_.load());
}

absl::Status RocksStorage::CheckDiskSpace() {
  if (options_.min_free_disk_bytes == 0) return absl::OkStatus();
  const std::optional<uint64_t> free = FreeDiskBytes();
  if (!free) return absl::OkStatus();
  const uint64_t free_bytes = *free;
  const bool low = free_bytes < options_.min_free_disk_bytes;
  low_disk_.store(low);
  if (!low) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "data directory ", options_.path, ": ", free_bytes >> 20,
      " MiB free, below the reserve of ", options_.min_free_disk_bytes >> 20,
      " MiB (--min_free_disk_mib); not storing reports until space returns"));
}

void RocksStorage::TryResume() {
  if (db_->Resume().ok()) degraded_.store(false);
}

absl::StatusOr<MaintenanceStats> RocksStorage::Maintain(absl::Time now,
                                                        size_t max_buckets) {
  MaintenanceStats stats;
  if (absl::Status s = CheckDiskSpace(); !s.ok()) return s;
  if (degraded_.load()) {
    TryResume();
    if (degraded_.load()) {
      return absl::UnavailableError(
          "storage: writes are failing (disk full?); retrying");
    }
  }
  size_t budget = max_buckets;
  // 1. Buckets invalidated by late reports.
  if (absl::Status s = RebuildDirtyRollups(&budget, &stats); !s.ok()) return s;
  // 2. Buckets that ended rollup_delay (rollup_delay_10s) ago, per model and
  // level, then retention behind them.
  std::vector<uint64_t> model_ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, m] : models_) model_ids.push_back(id);
  }
  std::sort(model_ids.begin(), model_ids.end());
  for (uint64_t id : model_ids) {
    for (int level = 0; level < kRollupLevels; ++level) {
      if (absl::Status s = RollUpLevel(id, level, now, &budget, &stats);
          !s.ok()) {
        return s;
      }
      if (stats.budget_exhausted) return stats;
    }
    if (absl::Status s = ApplyRetention(id, now, &stats); !s.ok()) return s;
  }
  return stats;
}

absl::Status RocksStorage::RebuildDirtyRollups(size_t* budget,
                                               MaintenanceStats* stats) {
  // Finest level first: the key starts with the level.
  std::vector<std::string> dirty;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), dirty_cf_));
    for (it->SeekToFirst(); it->Valid() && dirty.size() < *budget; it->Next()) {
      dirty.push_back(it->key().ToString());
    }
    if (!it->status().ok()) {
      return FromRocksDbStatus(it->status(), "reading dirty");
    }
  }
  for (const std::string& key : dirty) {
    if (key.size() != kDirtyKeyBytes) continue;
    const int level = static_cast<uint8_t>(key[0]);
    if (level >= kRollupLevels) continue;
    const uint64_t model_id = ReadUint64BigEndian(key, 1);
    const absl::Time start = ReadSortableMillis(key, 1 + kKeyTimeOffset);
    absl::MutexLock lock(&rollup_mu_);
    rocksdb::WriteBatch batch;
    if (absl::Status s =
            BuildRollupLocked(level, model_id, start, &batch, stats);
        !s.ok()) {
      return s;
    }
    batch.Delete(dirty_cf_, key);
    if (absl::Status s = Write(&batch); !s.ok()) return s;
    ++stats->rollups_rebuilt;
    --*budget;
  }
  return absl::OkStatus();
}

absl::Status RocksStorage::RollUpLevel(uint64_t model_id, int level,
                                       absl::Time now, size_t* budget,
                                       MaintenanceStats* stats) {
  const absl::Duration res = kRollupResolution[level];
  const absl::Time horizon = AlignDown(
      now - (level == 0 ? options_.rollup_delay_10s : options_.rollup_delay),
      res);
  for (;;) {
    if (*budget == 0) {
      stats->budget_exhausted = true;
      return absl::OkStatus();
    }
    absl::MutexLock lock(&rollup_mu_);
    RollupState state = rollup_state_[model_id];
    if (state.cursor[level] >= horizon) return absl::OkStatus();
    const std::optional<absl::Time> next =
        NextDataStart(model_id, state.cursor[level], level);
    rocksdb::WriteBatch batch;
    bool done = false;
    if (!next.has_value() || AlignDown(*next, res) + res > horizon) {
      state.cursor[level] = horizon;  // nothing (more) to roll up
      done = true;
    } else {
      const absl::Time bucket = AlignDown(*next, res);
      if (absl::Status s =
              BuildRollupLocked(level, model_id, bucket, &batch, stats);
          !s.ok()) {
        return s;
      }
      ++stats->rollups_built;
      --*budget;
      state.cursor[level] = bucket + res;
    }
    PutRollupState(model_id, state, &batch);
    if (absl::Status s = Write(&batch); !s.ok()) return s;
    rollup_state_[model_id] = state;
    if (done) return absl::OkStatus();
  }
}

size_t RocksStorage::RawReportsIn(uint64_t model_id, absl::Time from,
                                  absl::Time to, size_t at_most) const {
  const std::string upper_key = TimeKey(model_id, to);
  rocksdb::Slice upper(upper_key);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, headers_cf_));
  size_t n = 0;
  for (it->Seek(TimeKey(model_id, from)); it->Valid() && n < at_most;
       it->Next()) {
    ++n;
  }
  return n;
}

absl::Status RocksStorage::BuildRollupLocked(int level, uint64_t model_id,
                                             absl::Time start,
                                             rocksdb::WriteBatch* batch,
                                             MaintenanceStats* stats) {
  const std::string key = TimeKey(model_id, start);
  if (level == 0 && RawReportsIn(model_id, start, start + kRollupResolution[0],
                                 /*at_most=*/2) < 2) {
    // One report (one replica): the rollup would only copy it.
    batch->Delete(rollup_cfs_[level], key);
    return absl::OkStatus();
  }
  SummaryMerger merger;
  const absl::Status merged =
      MergeRange(model_id, start, start + kRollupResolution[level], level - 1,
                 nullptr, &merger, nullptr);
  if (merged.code() == absl::StatusCode::kDataLoss ||
      merged.code() == absl::StatusCode::kUnavailable) {
    return merged;  // storage trouble: retry on the next pass
  }
  if (!merged.ok()) {
    // Reports that do not merge (e.g. sketches of different accuracy):
    // queries over this bucket read the finer data and report the error.
    ++stats->rollup_failures;
    batch->Delete(rollup_cfs_[level], key);
    return absl::OkStatus();
  }
  if (merger.count() == 0) {
    batch->Delete(rollup_cfs_[level], key);
    return absl::OkStatus();
  }
  v1::RollupBucket bucket;
  bucket.set_report_count(merger.count());
  *bucket.mutable_summary() = merger.result();
  batch->Put(rollup_cfs_[level], key, bucket.SerializeAsString());
  return absl::OkStatus();
}

std::optional<absl::Time> RocksStorage::NextDataStart(uint64_t model_id,
                                                      absl::Time from,
                                                      int level) const {
  std::optional<absl::Time> next;
  const std::string end_key = Uint64BigEndian(model_id + 1);
  const std::string start_key = TimeKey(model_id, from);
  auto probe = [&](rocksdb::ColumnFamilyHandle* cf) {
    rocksdb::Slice upper(end_key);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf));
    it->Seek(start_key);
    if (!it->Valid()) return;
    const absl::Time t =
        ReadSortableMillis(ToStringView(it->key()), kKeyTimeOffset);
    if (!next.has_value() || t < *next) next = t;
  };
  probe(headers_cf_);  // the reports' keys, without loading their values
  for (int l = 0; l < level; ++l) probe(rollup_cfs_[l]);
  return next;
}

absl::Status RocksStorage::ApplyRetention(uint64_t model_id, absl::Time now,
                                          MaintenanceStats* stats) {
  // Deletion resumes at the previous horizon: the keys before it are gone,
  // and seeking past their tombstones costs nothing.
  absl::Time raw_from, rollup_from[kRollupLevels];
  {
    absl::MutexLock lock(&rollup_mu_);
    const RollupState& state = rollup_state_[model_id];
    raw_from = state.raw_horizon;
    std::copy(std::begin(state.rollup_horizon), std::end(state.rollup_horizon),
              rollup_from);
  }
  absl::Time raw_cutoff = absl::InfinitePast();
  absl::Time rollup_cutoff[kRollupLevels];
  if (absl::Status s =
          RaiseRetentionHorizons(model_id, now, &raw_cutoff, rollup_cutoff);
      !s.ok()) {
    return s;
  }
  for (int l = 0; l < kRollupLevels; ++l) {
    if (rollup_cutoff[l] == absl::InfinitePast()) continue;
    if (absl::Status s =
            DeleteKeys(rollup_cfs_[l], RetentionStart(model_id, rollup_from[l]),
                       TimeKey(model_id, rollup_cutoff[l]),
                       [&](rocksdb::Slice, rocksdb::WriteBatch*) {
                         ++stats->rollups_deleted;
                       });
        !s.ok()) {
      return s;
    }
    absl::MutexLock lock(&rollup_mu_);
    rollup_state_[model_id].rollup_horizon[l] = rollup_cutoff[l];
  }
  if (raw_cutoff == absl::InfinitePast()) return absl::OkStatus();
  // Raw reports, their headers and de-duplication entries (found by the
  // headers' keys, which are the reports').
  return DeleteKeys(
      headers_cf_, RetentionStart(model_id, raw_from),
      TimeKey(model_id, raw_cutoff),
      [&](rocksdb::Slice key, rocksdb::WriteBatch* batch) {
        batch->Delete(reports_cf_, key);
        if (key.size() != kReportKeyBytes) return;
        batch->Delete(sequences_cf_,
                      rocksdb::Slice(key.data() + kReportKeyAgentOffset,
                                     kReportKeyBytes - kReportKeyAgentOffset));
        ++stats->raw_reports_deleted;
      });
}

absl::Status RocksStorage::RaiseRetentionHorizons(
    uint64_t model_id, absl::Time now, absl::Time* raw_cutoff,
    absl::Time rollup_cutoff[kRollupLevels]) {
  absl::MutexLock lock(&rollup_mu_);
  RollupState& state = rollup_state_[model_id];
  for (int l = 0; l < kRollupLevels; ++l) {
    rollup_cutoff[l] = absl::InfinitePast();
    const absl::Duration keep = options_.rollup_retention[l];
    if (keep <= absl::ZeroDuration()) continue;
    absl::Time cutoff = AlignDown(now - keep, kRollupResolution[l]);
    // Only what the next coarser level already covers.
    if (l + 1 < kRollupLevels) cutoff = std::min(cutoff, state.cursor[l + 1]);
    if (cutoff > state.rollup_horizon[l]) rollup_cutoff[l] = cutoff;
  }
  if (options_.raw_retention <= absl::ZeroDuration()) return absl::OkStatus();
  // Only windows the 1-minute rollups already hold.
  const absl::Time cutoff =
      std::min(AlignDown(now - options_.raw_retention,
                         kRollupResolution[kFirstCompleteLevel]),
               state.cursor[kFirstCompleteLevel]);
  if (cutoff <= state.raw_horizon) return absl::OkStatus();
  // Raise the horizon first: from now on older windows are refused
  // (expired), so none is written behind the deletion.
  RollupState next = state;
  next.raw_horizon = cutoff;
  rocksdb::WriteBatch batch;
  PutRollupState(model_id, next, &batch);
  if (absl::Status s = Write(&batch); !s.ok()) return s;
  state = next;
  *raw_cutoff = cutoff;
  return absl::OkStatus();
}

std::string RocksStorage::RetentionStart(uint64_t model_id, absl::Time from) {
  return from == absl::InfinitePast() ? Uint64BigEndian(model_id)
                                      : TimeKey(model_id, from);
}

absl::Status RocksStorage::DeleteKeys(
    rocksdb::ColumnFamilyHandle* cf, const std::string& begin,
    const std::string& end,
    absl::FunctionRef<void(rocksdb::Slice, rocksdb::WriteBatch*)> also) {
  // Point deletions of the keys that exist, not DeleteRange: a pass wrote a
  // range tombstone per level even with nothing to delete (the horizons move
  // every minute), and in a quiet store's memtable every new iterator
  // fragments all of them again.
  rocksdb::Slice upper(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf));
  rocksdb::WriteBatch batch;
  size_t pending = 0;
  for (it->Seek(begin); it->Valid(); it->Next()) {
    batch.Delete(cf, it->key());
    also(it->key(), &batch);
    if (++pending == 4096) {
      if (absl::Status s = Write(&batch); !s.ok()) return s;
      batch.Clear();
      pending = 0;
    }
  }
  if (!it->status().ok()) {
    return FromRocksDbStatus(it->status(), "scanning for retention");
  }
  return pending > 0 ? Write(&batch) : absl::OkStatus();
}

uint64_t RocksStorage::ApproximateSizeBytes() const {
  uint64_t sst = 0, blob = 0;
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize,
                                &sst);
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalBlobFileSize,
                                &blob);
  return sst + blob;
}

RocksStorage::EngineState RocksStorage::engine_state() const {
  EngineState state;
  uint64_t v = 0;
  if (db_->GetIntProperty(rocksdb::DB::Properties::kIsWriteStopped, &v)) {
    state.write_stopped = v != 0;
  }
  if (db_->GetIntProperty(rocksdb::DB::Properties::kActualDelayedWriteRate,
                          &v)) {
    state.delayed_write_rate = v;
  }
  if (db_->GetIntProperty(rocksdb::DB::Properties::kBackgroundErrors, &v)) {
    state.background_errors = v;
  }
  for (const std::string& property :
       {rocksdb::DB::Properties::kNumRunningFlushes,
        rocksdb::DB::Properties::kNumRunningCompactions}) {
    if (db_->GetIntProperty(property, &v)) {
      state.running_flushes_and_compactions += v;
    }
  }
  for (auto* cf : {reports_cf_, rollup_cfs_[0], rollup_cfs_[1], rollup_cfs_[2],
                   rollup_cfs_[3], rollup_cfs_[4]}) {
    if (db_->GetIntProperty(
            cf, rocksdb::DB::Properties::kEstimatePendingCompactionBytes, &v)) {
      state.pending_compaction_bytes += v;
    }
  }
  return state;
}

}  // namespace aims::collector
