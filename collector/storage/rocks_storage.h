// RocksStorage: Storage on an embedded RocksDB in one directory.
//
// Layout (details in docs/storage.md), all integers big-endian so that keys
// sort numerically (common/rocks/keys.h):
//   default    "schema_version" -> decimal; "model:<name>\0<version>\0<env>"
//              and "agent:<agent_id>" -> 8-byte ids; "next_id" -> 8 bytes
//   reports    [model_id u64][window_start_ms i64+2^63][agent_num u64][seq u64]
//              -> WindowReport
//   sequences  [agent_num u64][seq u64] -> report key (dedupe index)
//   agents     [agent_num u64] -> AgentInfo
//   models     [model_id u64] -> ModelInfo
//   profiles   <name>\0<version> -> ReferenceProfile
//   gaps       [agent_num u64][first_seq u64] -> GapNotice (event_count
//              holds the events the agent counted; missing sequences are
//              added to the agent's gap_count)
//   rollup_10s, rollup_1m, rollup_10m, rollup_1h, rollup_1d
//              [model_id u64][bucket_start_ms i64+2^63] -> RollupBucket: the
//              merge of the model's reports whose window starts in the
//              aligned bucket (10 s buckets only where two or more reports
//              share it: they merge the replicas of a window)
//              Label reports (PutLabelReport) are reports keys with agent
//              number 0 and sequence 0 (agent numbers start at 1).
//   rollup_dirty
//              [level u8][model_id u64][bucket_start] -> "" (a bucket that
//              received a late report and must be rebuilt)
//   label_records, label_ids, label_pending, label_dirty
//              the central label join's records (collector/labels)
//   plans, evaluation, nonconformities, audit, outbox, meta
//              keyed records of the evaluation side (Storage::Table); the
//              key formats are their owners' (see docs/storage.md)
//
// Durability: with `sync_writes` (default) every write batch is fsynced
// before it returns (RocksDB groups concurrent writers into one fsync), so an
// acknowledged report survives a machine crash. Without it, writes survive a
// process crash but a machine crash may lose the last writes.
//
// Rollups and retention: Maintain() (called by a background loop) builds the
// rollup buckets that ended `rollup_delay` ago, rebuilds buckets a late
// report invalidated (WriteReports deletes the bucket's rollup and marks it
// dirty in the report's own batch, so a rollup is never stale), deletes raw
// reports and rollups past their retention, and resumes the database after a
// write error (disk full) once writes succeed again. MergeReports covers a
// range with the coarsest rollups that fit and raw reports at the edges, so
// its result equals the merge of the raw windows.
//
// Code: opening and loading in rocks_storage.cc, the rest by concern in
// rocks_storage_write.cc, rocks_storage_read.cc and
// rocks_storage_maintenance.cc; rocks_storage_internal.h holds the key
// layout they share.
//
// Thread-safety: safe for concurrent use; registry state is guarded by a
// mutex and writes are serialised.
#ifndef AIMS_COLLECTOR_STORAGE_ROCKS_STORAGE_H_
#define AIMS_COLLECTOR_STORAGE_ROCKS_STORAGE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/config.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"
#include "collector/storage/storage.h"
#include "common/base/task_pool.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Snapshot;
class Slice;
class WriteBatch;
}  // namespace rocksdb

namespace aims::collector {

struct RocksStorageOptions {
  std::string path = "./var/aims";
  bool sync_writes = true;
  // How long raw window reports and the rollups of each resolution
  // (10 s, 1 min, 10 min, 1 h, 1 d) are kept; zero keeps them forever. Raw
  // reports are deleted only once their 1-minute rollups exist, a rollup
  // only once the next coarser one covers it.
  absl::Duration raw_retention = absl::Hours(24 * 14);
  absl::Duration rollup_retention[5] = {
      absl::Hours(48), absl::Hours(24 * 35), absl::Hours(24 * 90),
      absl::Hours(24 * 400), absl::ZeroDuration()};
  // A bucket is rolled up this long after it ended; a window that arrives
  // later invalidates the rollup, which is rebuilt.
  absl::Duration rollup_delay = absl::Minutes(1);
  // The same for 10-second buckets: short, so that queries ending now read
  // few raw reports; replicas' reports of a window arrive within seconds.
  absl::Duration rollup_delay_10s = absl::Seconds(20);
  // Free space kept in reserve on the data directory's filesystem: below it
  // report writes are refused (RESOURCE_EXHAUSTED, not acknowledged) until
  // space returns, so RocksDB itself never runs out of space (flushes and
  // compactions live in the reserve). 0 disables the check.
  uint64_t min_free_disk_bytes = uint64_t{512} << 20;
  // Threads that parse and merge the records of one query (the caller and
  // query_threads - 1 shared pool threads); 1 merges on the caller only.
  size_t query_threads = 2;
};

// What one Maintain() pass did.
struct MaintenanceStats {
  uint64_t rollups_built = 0;
  uint64_t rollups_rebuilt = 0;  // dirty buckets
  uint64_t rollup_failures = 0;  // buckets whose reports do not merge
  uint64_t raw_reports_deleted = 0;
  uint64_t rollups_deleted = 0;   // rollup buckets past their retention
  bool budget_exhausted = false;  // more work remains for the next pass
};

class RocksStorage final : public Storage {
 public:
  // Schema version this build writes; a directory with a newer one is
  // refused at open.
  // Version 2 added the 10 s and 10 min levels (rollup_10s, rollup_10m);
  // version 3 the report headers (report_headers). An older directory is
  // upgraded at open.
  static constexpr int kSchemaVersion = 3;
  // Rollup resolutions, finest first.
  static constexpr int kRollupLevels = 5;
  static constexpr absl::Duration kRollupResolution[kRollupLevels] = {
      absl::Seconds(10), absl::Minutes(1), absl::Minutes(10), absl::Hours(1),
      absl::Hours(24)};
  // The finest level that is always built (raw retention waits for it);
  // 10 s buckets are stored only where they merge two or more reports.
  static constexpr int kFirstCompleteLevel = 1;

  static absl::StatusOr<std::unique_ptr<RocksStorage>> Open(
      const RocksStorageOptions& options);
  ~RocksStorage() override;

  absl::StatusOr<uint64_t> RegisterAgent(const v1::Hello& hello,
                                         absl::Time now) override;
  absl::StatusOr<uint64_t> RegisterAgentInSlot(
      const v1::Hello& hello, absl::Time now,
      const std::function<bool(const std::string&)>& connected, uint32_t* slot,
      std::vector<std::string>* replaced) override;
  absl::Status MarkAgentLeft(const std::string& agent_id,
                             absl::string_view reason, absl::Time now) override;
  absl::Status WriteEncodedReports(
      absl::Span<const EncodedReport* const> reports, absl::Time now,
      std::vector<WriteOutcome>* outcomes) override;
  absl::StatusOr<uint64_t> RecordGap(const v1::GapNotice& gap,
                                     absl::Time now) override;
  std::optional<v1::ModelRef> AgentModel(
      const std::string& agent_id) const override;
  absl::StatusOr<WriteOutcome> PutLabelReport(
      const v1::ModelRef& model, const EncodedReport& report,
      const v1::WindowSummary& delta,
      const std::vector<Mutation>& mutations) override;
  absl::StatusOr<v1::ReferenceProfile> PutProfile(
      const v1::ReferenceProfile& profile, bool if_absent,
      bool* created) override;
  absl::StatusOr<v1::ReferenceProfile> GetProfile(
      const v1::ModelRef& model) const override;
  std::vector<v1::ModelInfo> ListModels(
      const v1::ModelSelector& selector) const override;
  std::vector<v1::AgentInfo> ListAgents(
      const v1::ModelSelector& selector) const override;
  absl::Status ScanReports(
      const v1::ModelRef& model, absl::Time from, absl::Time to,
      const std::function<bool(const StoredReport&)>& fn) const override;
  absl::Status ScanReportHeaders(
      const v1::ModelRef& model, absl::Time from, absl::Time to,
      const std::function<bool(const StoredReport&)>& fn) const override;
  absl::Status MergeReports(const v1::ModelRef& model, absl::Time from,
                            absl::Time to, SummaryMerger* merger,
                            MergeStats* stats) const override;
  std::vector<v1::GapNotice> ListGaps(
      const v1::ModelSelector& selector) const override;

  // One maintenance pass at `now`: rollups, rebuilds, retention, recovery
  // from a write error. Does at most `max_buckets` rollup builds; call again
  // when `budget_exhausted`.
  absl::StatusOr<MaintenanceStats> Maintain(absl::Time now,
                                            size_t max_buckets = 2000);

  // False while free disk space is below the reserve, and after a write
  // failed until a later write or Maintain() resumes the database.
  bool healthy() const { return !degraded_.load() && !low_disk_.load(); }
  // How long writes have been failing at `now` (zero while they succeed).
  // RocksDB resumes by itself once space returns if the disk then has room
  // for its write buffers; a longer failure with free space means it will
  // not, and only a restart (reopening the database) recovers.
  absl::Duration FailingFor(absl::Time now) const;
  // Free bytes of the data directory's filesystem; nullopt if unknown.
  std::optional<uint64_t> FreeDiskBytes() const;
  absl::Status Apply(const std::vector<Mutation>& mutations) override;
  absl::StatusOr<std::string> Get(Table table,
                                  absl::string_view key) const override;
  absl::StatusOr<std::vector<std::optional<std::string>>> GetMany(
      Table table, absl::Span<const std::string> keys) const override;
  absl::Status Scan(
      Table table, absl::string_view from,
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          fn) const override;
  absl::StatusOr<std::pair<std::string, std::string>> Last(
      Table table) const override;

  // Column family names of the keyed-record tables, in Table order (tests
  // that tamper with records open RocksDB directly).
  static const char* TableName(Table table);

  // Query merge tasks waiting for a pool thread (bounded at 64; beyond, the
  // query merges on its own thread).
  size_t merge_queue_depth() const {
    return merge_pool_ == nullptr ? 0 : merge_pool_->depth();
  }

  // Bytes of table (SST) and blob files of every column family (excludes
  // the write-ahead log).
  uint64_t ApproximateSizeBytes() const;

  // RocksDB's own health: writes stopped or slowed by too many pending
  // flushes and compactions, and background errors since open.
  struct EngineState {
    bool write_stopped = false;
    uint64_t delayed_write_rate = 0;  // bytes/s while slowed; 0 otherwise
    uint64_t background_errors = 0;
    uint64_t pending_compaction_bytes = 0;
    uint64_t running_flushes_and_compactions = 0;
  };
  EngineState engine_state() const;

 private:
  // The slot RegisterAgentInSlot leases `agent_id` (registered, with its
  // model_id set); marks the slot's previous holder replaced in `batch` and
  // in memory.
  uint32_t LeaseSlotLocked(
      const std::string& agent_id,
      const std::function<bool(const std::string&)>& connected, absl::Time now,
      rocksdb::WriteBatch* batch, std::vector<std::string>* replaced)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct AgentState {
    uint64_t num = 0;
    uint64_t model_id = 0;
    v1::AgentInfo info;
  };
  struct ModelState {
    uint64_t id = 0;
    v1::ModelInfo info;
  };

  // Rollup progress of one model: every bucket of level L that starts
  // before cursor[L] has been built (or had no data); reports with a window
  // start before raw_horizon have been deleted by retention.
  struct RollupState {
    absl::Time cursor[kRollupLevels] = {
        absl::InfinitePast(), absl::InfinitePast(), absl::InfinitePast(),
        absl::InfinitePast(), absl::InfinitePast()};
    absl::Time raw_horizon = absl::InfinitePast();
    absl::Time rollup_horizon[kRollupLevels] = {
        absl::InfinitePast(), absl::InfinitePast(), absl::InfinitePast(),
        absl::InfinitePast(), absl::InfinitePast()};
  };

  // A rollup bucket (level >= 0) or raw report (level -1) as stored.
  struct StoredRecord {
    int level = -1;
    std::string bytes;
  };
  // Registry changes of one WriteEncodedReports batch.
  struct StagedWrite;

  RocksStorage() = default;

  // Opening (rocks_storage.cc), in Open's order. AdoptHandles takes the
  // column family handles in the order Open passed their descriptors.
  void AdoptHandles(const std::vector<rocksdb::ColumnFamilyHandle*>& handles);
  // Writes the schema version into a new directory, refuses a newer one,
  // upgrades an older one.
  absl::Status CheckSchemaVersion();
  // Schema 1 -> 2: dirty keys and rollup states gain the 10 s level.
  absl::Status UpgradeFromVersion1();
  // Writes the header of every stored report (reading each report once).
  absl::Status UpgradeFromVersion2();
  // Agents, models and the next id, into memory.
  absl::Status LoadRegistry();
  absl::Status LoadRollupState();
  void PutRollupState(uint64_t model_id, const RollupState& state,
                      rocksdb::WriteBatch* batch);

  // Writes (rocks_storage_write.cc).
  absl::Status Write(rocksdb::WriteBatch* batch);
  absl::StatusOr<uint64_t> ModelIdLocked(const v1::ModelRef& model,
                                         rocksdb::WriteBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One report of a WriteEncodedReports batch: decides its outcome and,
  // when it is stored, adds its puts (and the rollups it invalidates) to
  // `batch` and its counts to `staged`.
  absl::StatusOr<WriteOutcome> StageReportLocked(const EncodedReport& report,
                                                 absl::Time now,
                                                 StagedWrite* staged,
                                                 rocksdb::WriteBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(rollup_mu_, mu_);

  // Merges `delta` into the rollup buckets of every level already built
  // that hold `start` (PutLabelReport past raw retention).
  absl::Status MergeIntoRollupsLocked(uint64_t model_id, absl::Time start,
                                      const v1::WindowSummary& delta,
                                      rocksdb::WriteBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(rollup_mu_);
  void AddMutations(const std::vector<Mutation>& mutations,
                    rocksdb::WriteBatch* batch);

  // Reads (rocks_storage_read.cc).
  // The id of `model`; nullopt when it never registered.
  std::optional<uint64_t> FindModelId(const v1::ModelRef& model) const;
  // ScanReports, or ScanReportHeaders when not `with_summary`.
  absl::Status ScanReportRecords(
      const v1::ModelRef& model, absl::Time from, absl::Time to,
      bool with_summary,
      const std::function<bool(const StoredReport&)>& fn) const;
  // Merges [from, to) of `model_id` using rollups of levels <= max_level
  // (-1: raw only).
  absl::Status MergeRange(uint64_t model_id, absl::Time from, absl::Time to,
                          int max_level, const rocksdb::Snapshot* snapshot,
                          SummaryMerger* merger, MergeStats* stats) const;
  // Parses and merges `records` into `merger`, the second half on a pool
  // thread when one is free.
  absl::Status MergeRecords(const std::vector<StoredRecord>& records,
                            SummaryMerger* merger) const;
  static absl::Status MergePart(const std::vector<StoredRecord>& records,
                                size_t begin, size_t end,
                                SummaryMerger* merger);
  // (agent id, sequence) of the raw reports in [from, to), from their keys.
  absl::Status ReportIds(
      uint64_t model_id, absl::Time from, absl::Time to,
      const rocksdb::Snapshot* snapshot,
      std::vector<std::pair<std::string, uint64_t>>* out) const;

  // Maintenance (rocks_storage_maintenance.cc).
  // RESOURCE_EXHAUSTED when the data directory's free space is below the
  // reserve; updates low_disk_.
  absl::Status CheckDiskSpace();
  void TryResume();
  // Maintain()'s steps. The rollup builds spend `budget`; RollUpLevel sets
  // stats->budget_exhausted when it ran out.
  absl::Status RebuildDirtyRollups(size_t* budget, MaintenanceStats* stats);
  absl::Status RollUpLevel(uint64_t model_id, int level, absl::Time now,
                           size_t* budget, MaintenanceStats* stats);
  // Raw reports of `model_id` with a window start in [from, to), counted up
  // to `at_most` (keys only).
  size_t RawReportsIn(uint64_t model_id, absl::Time from, absl::Time to,
                      size_t at_most) const;
  // Rebuilds bucket `start` of `level` into `batch` (put, or delete when
  // the bucket has no data, does not merge, or is a 10 s bucket of a single
  // report).
  absl::Status BuildRollupLocked(int level, uint64_t model_id, absl::Time start,
                                 rocksdb::WriteBatch* batch,
                                 MaintenanceStats* stats)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(rollup_mu_);
  // Earliest window start >= `from` in raw reports or rollups finer than
  // `level`; nullopt when there is none.
  std::optional<absl::Time> NextDataStart(uint64_t model_id, absl::Time from,
                                          int level) const;
  absl::Status ApplyRetention(uint64_t model_id, absl::Time now,
                              MaintenanceStats* stats);
  // The cutoffs retention deletes before (InfinitePast: nothing); the raw
  // horizon is raised and stored before any raw report is deleted.
  absl::Status RaiseRetentionHorizons(uint64_t model_id, absl::Time now,
                                      absl::Time* raw_cutoff,
                                      absl::Time rollup_cutoff[kRollupLevels]);
  // Where retention's deletion starts for a horizon `from`: the model's
  // first key while nothing was deleted.
  static std::string RetentionStart(uint64_t model_id, absl::Time from);
  // Deletes every key of `cf` in [begin, end) in bounded batches, each with
  // what `also` adds to its batch.
  absl::Status DeleteKeys(
      rocksdb::ColumnFamilyHandle* cf, const std::string& begin,
      const std::string& end,
      absl::FunctionRef<void(rocksdb::Slice, rocksdb::WriteBatch*)> also);

  RocksStorageOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* reports_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* sequences_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* agents_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* models_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* gaps_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* profiles_cf_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> table_cfs_;  // by Table
  rocksdb::ColumnFamilyHandle* rollup_cfs_[kRollupLevels] = {};
  rocksdb::ColumnFamilyHandle* dirty_cf_ = nullptr;
  // Each report's key with its header (the report without its summary):
  // what scans for windows, agents and ids read, so that they do not load
  // the reports' values from blob files.
  rocksdb::ColumnFamilyHandle* headers_cf_ = nullptr;
  std::unique_ptr<TaskPool> merge_pool_;  // null with query_threads <= 1
#ifdef ABSL_HAVE_THREAD_SANITIZER
  // TSan builds only: one Write() at a time. RocksDB's group commit (the
  // leader appends the followers' batches) is ordered by atomics inside the
  // uninstrumented librocksdb, which TSan cannot see; serialized, no batch
  // crosses threads and the order is this mutex's.
  absl::Mutex tsan_write_mu_;
#endif
  std::atomic<bool> degraded_{false};
  // When writes started failing (Unix microseconds), while degraded_.
  std::atomic<int64_t> degraded_since_us_{0};
  std::atomic<bool> low_disk_{false};

  // Serialises report writes with rollup builds, so that a build and a late
  // report to its bucket never interleave.
  mutable absl::Mutex rollup_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  absl::flat_hash_map<uint64_t, RollupState> rollup_state_
      ABSL_GUARDED_BY(rollup_mu_);

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string, AgentState> agents_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> model_ids_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, ModelState> models_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_STORAGE_ROCKS_STORAGE_H_
