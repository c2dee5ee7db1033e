// RocksStorage: Storage on an embedded RocksDB in one directory.
//
// Layout (details in docs/storage.md), all integers big-endian so that keys
// sort numerically:
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
//   plans, evaluation, nonconformities, audit, outbox, meta
//              keyed records of the evaluation side (Storage::Table); the
//              key formats are their owners' (see docs/storage.md)
//
// Durability: with `sync_writes` (default) every write batch is fsynced
// before it returns (RocksDB groups concurrent writers into one fsync), so an
// acknowledged report survives a machine crash. Without it, writes survive a
// process crash but a machine crash may lose the last writes.
//
// Thread-safety: safe for concurrent use; registry state is guarded by a
// mutex and writes are serialised.
#ifndef AIMS_COLLECTOR_ROCKS_STORAGE_H_
#define AIMS_COLLECTOR_ROCKS_STORAGE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "collector/storage.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace aims::collector {

struct RocksStorageOptions {
  std::string path = "./var/aims";
  bool sync_writes = true;
};

class RocksStorage final : public Storage {
 public:
  // Schema version this build writes; a directory with a newer one is
  // refused at open.
  static constexpr int kSchemaVersion = 1;

  static absl::StatusOr<std::unique_ptr<RocksStorage>> Open(
      const RocksStorageOptions& options);
  ~RocksStorage() override;

  absl::StatusOr<uint64_t> RegisterAgent(const v1::Hello& hello,
                                         absl::Time now) override;
  absl::Status WriteReports(absl::Span<const v1::WindowReport* const> reports,
                            absl::Time now,
                            std::vector<WriteOutcome>* outcomes) override;
  absl::StatusOr<uint64_t> RecordGap(const v1::GapNotice& gap,
                                     absl::Time now) override;
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
  std::vector<v1::GapNotice> ListGaps(
      const v1::ModelSelector& selector) const override;
  absl::Status Apply(const std::vector<Mutation>& mutations) override;
  absl::StatusOr<std::string> Get(Table table,
                                  absl::string_view key) const override;
  absl::Status Scan(
      Table table, absl::string_view from,
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          fn) const override;
  absl::StatusOr<std::pair<std::string, std::string>> Last(
      Table table) const override;

  // Column family names of the keyed-record tables, in Table order (tests
  // that tamper with records open RocksDB directly).
  static const char* TableName(Table table);

  // Bytes of SST files on disk (excludes the write-ahead log).
  uint64_t ApproximateSizeBytes() const;

 private:
  struct AgentState {
    uint64_t num = 0;
    uint64_t model_id = 0;
    v1::AgentInfo info;
  };
  struct ModelState {
    uint64_t id = 0;
    v1::ModelInfo info;
  };

  RocksStorage() = default;
  absl::Status Load();
  absl::StatusOr<uint64_t> ModelIdLocked(const v1::ModelRef& model,
                                         rocksdb::WriteBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Write(rocksdb::WriteBatch* batch);

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

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string, AgentState> agents_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> model_ids_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, ModelState> models_ ABSL_GUARDED_BY(mu_);
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_ROCKS_STORAGE_H_
