// RocksStorage, part 1: opening the directory - RocksDB and column family
// options, the schema version and its upgrades, loading the registry and
// the rollup states. Writes, reads and maintenance are in
// rocks_storage_{write,read,maintenance}.cc.
#include "collector/storage/rocks_storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iterator>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "collector/storage/rocks_storage_internal.h"
#include "collector/storage/rocksdb_crc32c.h"
#include "common/rocks/keys.h"
#include "common/rocks/rocksdb_logger.h"
#include "common/rocks/rocksdb_status.h"
#include "common/rocks/slice.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/table_properties_collectors.h"
#include "rocksdb/write_batch.h"

namespace aims::collector {

using rocks_storage_internal::kNextIdKey;
using rocks_storage_internal::kRollupLevelNames;
using rocks_storage_internal::kRollupStatePrefix;
using rocks_storage_internal::kSchemaKey;
using rocks_storage_internal::ModelKey;
using rocks_storage_internal::ReportHeader;

namespace {

// The keyed-record tables in Table order: their column families follow the
// seven fixed ones.
constexpr Table kTables[] = {Table::kPlans,
                             Table::kEvaluation,
                             Table::kNonconformities,
                             Table::kAudit,
                             Table::kOutbox,
                             Table::kMeta,
                             Table::kLabelRecords,
                             Table::kLabelIds,
                             Table::kLabelPending,
                             Table::kLabelDirty,
                             Table::kNonconformityCopies};
constexpr size_t kFixedFamilies = 7;

absl::Status CreateDataDirectory(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", path, ": cannot create: ", ec.message()));
  }
  return absl::OkStatus();
}

// Whether files in `dir` can be written with O_DIRECT (ext4, xfs: yes;
// tmpfs: no, open fails with EINVAL).
bool DirectIoWorks(const std::string& dir) {
  const std::string probe = dir + "/.direct_io_probe";
  const int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_DIRECT, 0600);
  if (fd < 0) return false;
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

rocksdb::Options DbOptions(const std::string& path) {
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Small, predictable memory: the collector holds summaries, not raw data.
  db_options.write_buffer_size = 32 << 20;
  // Bound on all memtables together (19 column families).
  db_options.db_write_buffer_size = 128 << 20;
  db_options.max_background_jobs = 2;
  db_options.info_log = NewRocksDbLogger("collector");
  // A log is deleted once every column family with data in it has flushed;
  // small families (sequences, agents, models) would otherwise keep gigabytes
  // of logs (RocksDB's default bound is 4x all write buffers, 4.8 GB here),
  // all replayed after a crash.
  db_options.max_total_wal_size = 256 << 20;
  // Flushes and compactions write around the page cache where the
  // filesystem allows it: the copy into the cache was a quarter of the
  // collector's CPU in a perf profile of the ingest benchmark.
  db_options.use_direct_io_for_flush_and_compaction = DirectIoWorks(path);
  return db_options;
}

rocksdb::ColumnFamilyOptions PlainFamilyOptions() {
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kNoCompression;
  return cf_options;
}

rocksdb::ColumnFamilyOptions ReportFamilyOptions(
    const rocksdb::ColumnFamilyOptions& plain) {
  // Reports are written once and never updated: their values go to blob
  // files when flushed, so compactions move keys, not whole reports. RocksDB
  // drops a blob file once compactions have removed every reference to it.
  rocksdb::ColumnFamilyOptions report_options = plain;
  report_options.enable_blob_files = true;
  report_options.min_blob_size = 1024;
  // No garbage collection: nothing is overwritten, and retention deletes
  // whole time ranges, which empties whole blob files.
  report_options.enable_blob_garbage_collection = false;
  // Retention's deletes come in runs: a table file where they are dense
  // (half of any 1,024 entries in a row, or of the whole file) is compacted
  // soon rather than when its level next fills, so the blob files its
  // deleted reports point to are emptied and dropped.
  report_options.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(
          /*sliding_window_size=*/1024, /*deletion_trigger=*/512,
          /*deletion_ratio=*/0.5));
  return report_options;
}

// Every column family, in the order AdoptHandles() expects their handles.
std::vector<rocksdb::ColumnFamilyDescriptor> ColumnFamilies() {
  const rocksdb::ColumnFamilyOptions plain = PlainFamilyOptions();
  const rocksdb::ColumnFamilyOptions report_options =
      ReportFamilyOptions(plain);
  rocksdb::ColumnFamilyOptions sequence_options = plain;
  sequence_options.table_properties_collector_factories =
      report_options.table_properties_collector_factories;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, plain},
      {"reports", report_options},
      {"sequences", sequence_options},
      {"agents", plain},
      {"models", plain},
      {"gaps", plain},
      {"profiles", plain},
  };
  // The label join looks up every new prediction_id in these, and nearly
  // all are absent: a bloom filter over the memtable's whole keys answers
  // such a miss without walking its skip list (in a profile of a backfill of
  // predictions, the walks were a fifth of the collector's CPU).
  rocksdb::ColumnFamilyOptions lookup_options = plain;
  lookup_options.memtable_prefix_bloom_size_ratio = 0.05;
  lookup_options.memtable_whole_key_filtering = true;
  // Join records and ids arrive in key order within a model (a window's
  // predictions, windows in time order): the memtable inserts each after the
  // last of its model's key prefix instead of searching from the top (the
  // searches were a quarter of a backfill's collector CPU).
  lookup_options.memtable_insert_with_hint_prefix_extractor.reset(
      rocksdb::NewCappedPrefixTransform(16));
  rocksdb::ColumnFamilyOptions record_options = plain;
  record_options.memtable_insert_with_hint_prefix_extractor =
      lookup_options.memtable_insert_with_hint_prefix_extractor;
  for (Table t : kTables) {
    const bool looked_up = t == Table::kLabelIds || t == Table::kLabelPending;
    cfs.push_back({RocksStorage::TableName(t), looked_up ? lookup_options
                                               : t == Table::kLabelRecords
                                                   ? record_options
                                                   : plain});
  }
  for (const char* level : kRollupLevelNames) {
    cfs.push_back({absl::StrCat("rollup_", level), plain});
  }
  cfs.push_back({"rollup_dirty", plain});
  cfs.push_back({"report_headers", sequence_options});
  return cfs;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksStorage>> RocksStorage::Open(
    const RocksStorageOptions& options) {
  if (absl::Status s = CreateDataDirectory(options.path); !s.ok()) return s;
  // Links the hardware CRC32C RocksDB's checksums then use (see
  // rocksdb_crc32c.h) into every binary that opens storage.
  static const char* const crc32c = RocksDbCrc32cImplementation();
  (void)crc32c;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(DbOptions(options.path), options.path,
                                        ColumnFamilies(), &handles, &raw);
  if (!s.ok()) {
    return FromRocksDbStatus(
        s, absl::StrCat("opening data directory ", options.path));
  }
  std::unique_ptr<RocksStorage> storage(new RocksStorage());
  storage->options_ = options;
  if (options.query_threads > 1) {
    storage->merge_pool_ = std::make_unique<TaskPool>(options.query_threads - 1,
                                                      /*max_queued=*/64);
  }
  storage->db_.reset(raw);
  storage->AdoptHandles(handles);
  if (absl::Status st = storage->CheckSchemaVersion(); !st.ok()) return st;
  if (absl::Status st = storage->LoadRegistry(); !st.ok()) return st;
  if (absl::Status st = storage->LoadRollupState(); !st.ok()) return st;
  return storage;
}

void RocksStorage::AdoptHandles(
    const std::vector<rocksdb::ColumnFamilyHandle*>& handles) {
  default_cf_ = handles[0];
  reports_cf_ = handles[1];
  sequences_cf_ = handles[2];
  agents_cf_ = handles[3];
  models_cf_ = handles[4];
  gaps_cf_ = handles[5];
  profiles_cf_ = handles[6];
  const size_t tables_end = kFixedFamilies + std::size(kTables);
  for (size_t i = kFixedFamilies; i < tables_end; ++i) {
    table_cfs_.push_back(handles[i]);
  }
  for (int l = 0; l < kRollupLevels; ++l) {
    rollup_cfs_[l] = handles[tables_end + l];
  }
  dirty_cf_ = handles[tables_end + kRollupLevels];
  headers_cf_ = handles[tables_end + kRollupLevels + 1];
}

RocksStorage::~RocksStorage() {
  if (db_ == nullptr) return;
  for (auto* cf : table_cfs_) db_->DestroyColumnFamilyHandle(cf);
  for (auto* cf : rollup_cfs_) db_->DestroyColumnFamilyHandle(cf);
  db_->DestroyColumnFamilyHandle(dirty_cf_);
  db_->DestroyColumnFamilyHandle(headers_cf_);
  for (auto* cf : {reports_cf_, sequences_cf_, agents_cf_, models_cf_, gaps_cf_,
                   profiles_cf_, default_cf_}) {
    if (cf != nullptr) db_->DestroyColumnFamilyHandle(cf);
  }
  db_->Close();
}

const char* RocksStorage::TableName(Table table) {
  switch (table) {
    case Table::kPlans:
      return "plans";
    case Table::kEvaluation:
      return "evaluation";
    case Table::kNonconformities:
      return "nonconformities";
    case Table::kAudit:
      return "audit";
    case Table::kOutbox:
      return "outbox";
    case Table::kMeta:
      return "meta";
    case Table::kLabelRecords:
      return "label_records";
    case Table::kLabelIds:
      return "label_ids";
    case Table::kLabelPending:
      return "label_pending";
    case Table::kLabelDirty:
      return "label_dirty";
    case Table::kNonconformityCopies:
      return "nonconformity_copies";
  }
  return "unknown";
}

absl::Status RocksStorage::CheckSchemaVersion() {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), default_cf_, kSchemaKey, &value);
  if (s.IsNotFound()) {
    rocksdb::WriteBatch batch;
    batch.Put(default_cf_, kSchemaKey, absl::StrCat(kSchemaVersion));
    return Write(&batch);
  }
  if (!s.ok()) return FromRocksDbStatus(s, "reading schema version");
  int version = 0;
  if (!absl::SimpleAtoi(value, &version)) {
    return absl::DataLossError(absl::StrCat("data directory ", options_.path,
                                            ": unreadable schema version '",
                                            value, "'"));
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", options_.path, " was written with schema version ",
        version, "; this aims-collector supports up to ", kSchemaVersion,
        ". Run a newer aims-collector or restore a backup."));
  }
  if (version == 1) {
    if (absl::Status s = UpgradeFromVersion1(); !s.ok()) return s;
  }
  if (version <= 2) return UpgradeFromVersion2();
  return absl::OkStatus();
}

absl::Status RocksStorage::LoadRegistry() {
  absl::MutexLock lock(&mu_);
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), default_cf_, kNextIdKey, &value);
  if (s.ok() && value.size() == kEncodedUint64Bytes) {
    next_id_ = ReadUint64BigEndian(value);
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), default_cf_));
    for (it->Seek("model:"); it->Valid() && it->key().starts_with("model:");
         it->Next()) {
      model_ids_[it->key().ToString()] =
          ReadUint64BigEndian(ToStringView(it->value()));
    }
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), models_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ModelState m;
      m.id = ReadUint64BigEndian(ToStringView(it->key()));
      if (!m.info.ParseFromArray(it->value().data(), it->value().size())) {
        return absl::DataLossError("models: unparsable record");
      }
      models_[m.id] = std::move(m);
    }
  }
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), agents_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    AgentState a;
    a.num = ReadUint64BigEndian(ToStringView(it->key()));
    if (!a.info.ParseFromArray(it->value().data(), it->value().size())) {
      return absl::DataLossError("agents: unparsable record");
    }
    a.info.set_connected(false);
    auto mid = model_ids_.find(ModelKey(a.info.model()));
    if (mid != model_ids_.end()) a.model_id = mid->second;
    agents_[a.info.agent().agent_id()] = std::move(a);
  }
  return absl::OkStatus();
}

absl::Status RocksStorage::UpgradeFromVersion1() {
  // Version 1 had three levels (1m, 1h, 1d): its rollup states hold three
  // cursors and the raw horizon, its dirty keys start with levels 0..2
  // (now 1, 3 and 4). The 10 s level starts at the 1-minute cursor: older
  // buckets are never built and queries read raw reports there, as before.
  // The 10 min level starts from the beginning, so that it is built for
  // the minutes already stored before retention may delete any of them.
  rocksdb::WriteBatch batch;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), default_cf_));
    for (it->Seek(kRollupStatePrefix);
         it->Valid() && it->key().starts_with(kRollupStatePrefix); it->Next()) {
      const rocksdb::Slice value = it->value();
      if (value.size() != 8 * 4) {
        return absl::DataLossError(
            "default: unreadable rollup state (schema version 1)");
      }
      std::string upgraded(value.data(), 8);  // 10 s cursor = 1 min cursor
      upgraded.append(value.data(), 8);       // 1 min
      AppendSortableMillis(absl::InfinitePast(), &upgraded);  // 10 min
      upgraded.append(value.data() + 8, 24);  // 1 h, 1 d, raw horizon
      batch.Put(default_cf_, it->key(), upgraded);
    }
    if (!it->status().ok()) {
      return FromRocksDbStatus(it->status(), "upgrading");
    }
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), dirty_cf_));
    std::vector<std::string> keys;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      keys.push_back(it->key().ToString());
    }
    if (!it->status().ok()) {
      return FromRocksDbStatus(it->status(), "upgrading");
    }
    // Highest level first, so a renamed key never overwrites one not yet
    // renamed.
    std::sort(keys.rbegin(), keys.rend());
    for (const std::string& key : keys) {
      if (key.empty()) continue;
      constexpr uint8_t kNewLevel[] = {1, 3, 4};
      const uint8_t old_level = static_cast<uint8_t>(key[0]);
      if (old_level >= std::size(kNewLevel)) continue;
      std::string moved = key;
      moved[0] = static_cast<char>(kNewLevel[old_level]);
      batch.Delete(dirty_cf_, key);
      batch.Put(dirty_cf_, moved, "");
    }
  }
  batch.Put(default_cf_, kSchemaKey, "2");
  return Write(&batch);
}

absl::Status RocksStorage::UpgradeFromVersion2() {
  // Interrupted, it runs again from the start at the next open (the
  // version is written last, and the puts are idempotent).
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), reports_cf_));
  rocksdb::WriteBatch batch;
  std::string header;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    header.clear();
    if (!ReportHeader(ToStringView(it->value()), &header)) {
      return absl::DataLossError("reports: unparsable record");
    }
    batch.Put(headers_cf_, it->key(), header);
    if (batch.Count() == 4096) {
      if (absl::Status s = Write(&batch); !s.ok()) return s;
      batch.Clear();
    }
  }
  if (!it->status().ok()) {
    return FromRocksDbStatus(it->status(), "reading reports to upgrade");
  }
  batch.Put(default_cf_, kSchemaKey, absl::StrCat(kSchemaVersion));
  return Write(&batch);
}

// A rollup state record: "rollup:" [model_id] -> the sortable start of
// each level's cursor, finest first, then the raw horizon.
absl::Status RocksStorage::LoadRollupState() {
  absl::MutexLock lock(&rollup_mu_);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), default_cf_));
  for (it->Seek(kRollupStatePrefix);
       it->Valid() && it->key().starts_with(kRollupStatePrefix); it->Next()) {
    const absl::string_view key = ToStringView(it->key());
    const absl::string_view value = ToStringView(it->value());
    const size_t prefix = sizeof(kRollupStatePrefix) - 1;
    if (key.size() != prefix + kEncodedUint64Bytes ||
        value.size() != kEncodedUint64Bytes * (kRollupLevels + 1)) {
      return absl::DataLossError("default: unreadable rollup state");
    }
    RollupState& state = rollup_state_[ReadUint64BigEndian(key, prefix)];
    for (int l = 0; l < kRollupLevels; ++l) {
      state.cursor[l] = ReadSortableMillis(value, kEncodedUint64Bytes * l);
    }
    state.raw_horizon =
        ReadSortableMillis(value, kEncodedUint64Bytes * kRollupLevels);
  }
  return FromRocksDbStatus(it->status(), "reading rollup state");
}

void RocksStorage::PutRollupState(uint64_t model_id, const RollupState& state,
                                  rocksdb::WriteBatch* batch) {
  std::string value;
  for (int l = 0; l < kRollupLevels; ++l) {
    AppendSortableMillis(state.cursor[l], &value);
  }
  AppendSortableMillis(state.raw_horizon, &value);
  batch->Put(default_cf_,
             absl::StrCat(kRollupStatePrefix, Uint64BigEndian(model_id)),
             value);
}

}  // namespace aims::collector
