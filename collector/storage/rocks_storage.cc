#include "collector/storage/rocks_storage.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iterator>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "aims/v1/storage.pb.h"
#include "collector/storage/rocksdb_crc32c.h"
#include "collector/storage/wire_filter.h"
#include "common/base/time_util.h"
#include "google/protobuf/arena.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/table_properties_collectors.h"
#include "rocksdb/write_batch.h"

namespace aims::collector {
namespace {

constexpr char kSchemaKey[] = "schema_version";
constexpr char kNextIdKey[] = "next_id";

void PutBE64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

uint64_t GetBE64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string BE64(uint64_t v) {
  std::string s;
  PutBE64(&s, v);
  return s;
}

// Signed milliseconds shifted so that big-endian bytes sort numerically.
uint64_t SortableMillis(absl::Time t) {
  return static_cast<uint64_t>(absl::ToUnixMillis(t)) ^ (uint64_t{1} << 63);
}

absl::Time FromSortableMillis(uint64_t v) {
  return absl::FromUnixMillis(static_cast<int64_t>(v ^ (uint64_t{1} << 63)));
}

// Start of the bucket of `resolution` (aligned to the Unix epoch) holding t.
absl::Time AlignDown(absl::Time t, absl::Duration resolution) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return t;
  return absl::UnixEpoch() + absl::Floor(t - absl::UnixEpoch(), resolution);
}

absl::Time AlignUp(absl::Time t, absl::Duration resolution) {
  const absl::Time down = AlignDown(t, resolution);
  return down < t ? down + resolution : down;
}

std::string TimeKey(uint64_t model_id, absl::Time t) {
  std::string key = BE64(model_id);
  PutBE64(&key, SortableMillis(t));
  return key;
}

std::string DirtyKey(int level, uint64_t model_id, absl::Time start) {
  std::string key(1, static_cast<char>(level));
  key += TimeKey(model_id, start);
  return key;
}

constexpr char kRollupStatePrefix[] = "rollup:";
constexpr const char* kRollupLevelNames[] = {"10s", "1m", "10m", "1h", "1d"};
static_assert(std::size(kRollupLevelNames) == RocksStorage::kRollupLevels);

std::string ModelKey(const v1::ModelRef& m) {
  return absl::StrCat("model:", m.name(), std::string(1, '\0'), m.version(),
                      std::string(1, '\0'), m.environment());
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat(what, ": ", s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsIOError()) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

google::protobuf::Timestamp Later(const google::protobuf::Timestamp& a,
                                  const google::protobuf::Timestamp& b) {
  return FromProto(a) >= FromProto(b) ? a : b;
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

}  // namespace

bool Matches(const v1::ModelSelector& selector, const v1::ModelRef& model) {
  return (selector.name().empty() || selector.name() == model.name()) &&
         (selector.version().empty() ||
          selector.version() == model.version()) &&
         (selector.environment().empty() ||
          selector.environment() == model.environment());
}

absl::StatusOr<std::unique_ptr<RocksStorage>> RocksStorage::Open(
    const RocksStorageOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", options.path, ": cannot create: ", ec.message()));
  }
  // Links the hardware CRC32C RocksDB's checksums then use (see
  // rocksdb_crc32c.h) into every binary that opens storage.
  static const char* const crc32c = RocksDbCrc32cImplementation();
  (void)crc32c;
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Small, predictable memory: the collector holds summaries, not raw data.
  db_options.write_buffer_size = 32 << 20;
  // Bound on all memtables together (19 column families).
  db_options.db_write_buffer_size = 128 << 20;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 5;
  // A log is deleted once every column family with data in it has flushed;
  // small families (sequences, agents, models) would otherwise keep gigabytes
  // of logs (RocksDB's default bound is 4x all write buffers, 4.8 GB here),
  // all replayed after a crash.
  db_options.max_total_wal_size = 256 << 20;
  // Flushes and compactions write around the page cache where the
  // filesystem allows it: the copy into the cache was a quarter of the
  // collector's CPU in a perf profile of the ingest benchmark.
  db_options.use_direct_io_for_flush_and_compaction =
      DirectIoWorks(options.path);

  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kNoCompression;

  // Reports are written once and never updated: their values go to blob
  // files when flushed, so compactions move keys, not whole reports. RocksDB
  // drops a blob file once compactions have removed every reference to it.
  rocksdb::ColumnFamilyOptions report_options = cf_options;
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
  rocksdb::ColumnFamilyOptions sequence_options = cf_options;
  sequence_options.table_properties_collector_factories =
      report_options.table_properties_collector_factories;

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, cf_options},
      {"reports", report_options},
      {"sequences", sequence_options},
      {"agents", cf_options},
      {"models", cf_options},
      {"gaps", cf_options},
      {"profiles", cf_options},
  };
  constexpr Table kTables[] = {Table::kPlans,           Table::kEvaluation,
                               Table::kNonconformities, Table::kAudit,
                               Table::kOutbox,          Table::kMeta};
  for (Table t : kTables) cfs.push_back({TableName(t), cf_options});
  cfs.push_back({"rollup_10s", cf_options});
  cfs.push_back({"rollup_1m", cf_options});
  cfs.push_back({"rollup_10m", cf_options});
  cfs.push_back({"rollup_1h", cf_options});
  cfs.push_back({"rollup_1d", cf_options});
  cfs.push_back({"rollup_dirty", cf_options});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.path, cfs, &handles, &raw);
  if (!s.ok()) {
    return FromRocks(s, absl::StrCat("opening data directory ", options.path));
  }
  std::unique_ptr<RocksStorage> storage(new RocksStorage());
  storage->options_ = options;
  if (options.query_threads > 1) {
    storage->merge_pool_ = std::make_unique<TaskPool>(options.query_threads - 1,
                                                      /*max_queued=*/64);
  }
  storage->db_.reset(raw);
  storage->default_cf_ = handles[0];
  storage->reports_cf_ = handles[1];
  storage->sequences_cf_ = handles[2];
  storage->agents_cf_ = handles[3];
  storage->models_cf_ = handles[4];
  storage->gaps_cf_ = handles[5];
  storage->profiles_cf_ = handles[6];
  const size_t tables_end = 7 + std::size(kTables);
  for (size_t i = 7; i < tables_end; ++i)
    storage->table_cfs_.push_back(handles[i]);
  for (int l = 0; l < kRollupLevels; ++l)
    storage->rollup_cfs_[l] = handles[tables_end + l];
  storage->dirty_cf_ = handles[tables_end + kRollupLevels];
  if (absl::Status st = storage->Load(); !st.ok()) return st;
  if (absl::Status st = storage->LoadRollupState(); !st.ok()) return st;
  return storage;
}

RocksStorage::~RocksStorage() {
  if (db_ == nullptr) return;
  for (auto* cf : table_cfs_) db_->DestroyColumnFamilyHandle(cf);
  for (auto* cf : rollup_cfs_) db_->DestroyColumnFamilyHandle(cf);
  db_->DestroyColumnFamilyHandle(dirty_cf_);
  for (auto* cf : {reports_cf_, sequences_cf_, agents_cf_, models_cf_, gaps_cf_,
                   profiles_cf_, default_cf_}) {
    if (cf != nullptr) db_->DestroyColumnFamilyHandle(cf);
  }
  db_->Close();
}

absl::Status RocksStorage::Load() {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), default_cf_, kSchemaKey, &value);
  if (s.IsNotFound()) {
    rocksdb::WriteBatch batch;
    batch.Put(default_cf_, kSchemaKey, absl::StrCat(kSchemaVersion));
    if (absl::Status st = Write(&batch); !st.ok()) return st;
  } else if (!s.ok()) {
    return FromRocks(s, "reading schema version");
  } else {
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
      if (absl::Status st = UpgradeFromVersion1(); !st.ok()) return st;
    }
  }
  absl::MutexLock lock(&mu_);
  s = db_->Get(rocksdb::ReadOptions(), default_cf_, kNextIdKey, &value);
  if (s.ok() && value.size() == 8) next_id_ = GetBE64(value.data());
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), default_cf_));
    for (it->Seek("model:"); it->Valid() && it->key().starts_with("model:");
         it->Next()) {
      model_ids_[it->key().ToString()] = GetBE64(it->value().data());
    }
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), models_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ModelState m;
      m.id = GetBE64(it->key().data());
      if (!m.info.ParseFromArray(it->value().data(), it->value().size())) {
        return absl::DataLossError("models: unparsable record");
      }
      models_[m.id] = std::move(m);
    }
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), agents_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      AgentState a;
      a.num = GetBE64(it->key().data());
      if (!a.info.ParseFromArray(it->value().data(), it->value().size())) {
        return absl::DataLossError("agents: unparsable record");
      }
      a.info.set_connected(false);
      auto mid = model_ids_.find(ModelKey(a.info.model()));
      if (mid != model_ids_.end()) a.model_id = mid->second;
      agents_[a.info.agent().agent_id()] = std::move(a);
    }
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
      PutBE64(&upgraded, SortableMillis(absl::InfinitePast()));  // 10 min
      upgraded.append(value.data() + 8, 24);  // 1 h, 1 d, raw horizon
      batch.Put(default_cf_, it->key(), upgraded);
    }
    if (!it->status().ok()) return FromRocks(it->status(), "upgrading");
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), dirty_cf_));
    std::vector<std::string> keys;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      keys.push_back(it->key().ToString());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "upgrading");
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
  batch.Put(default_cf_, kSchemaKey, absl::StrCat(kSchemaVersion));
  return Write(&batch);
}

absl::Status RocksStorage::LoadRollupState() {
  absl::MutexLock lock(&rollup_mu_);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), default_cf_));
  for (it->Seek(kRollupStatePrefix);
       it->Valid() && it->key().starts_with(kRollupStatePrefix); it->Next()) {
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice value = it->value();
    const size_t prefix = sizeof(kRollupStatePrefix) - 1;
    if (key.size() != prefix + 8 || value.size() != 8 * (kRollupLevels + 1)) {
      return absl::DataLossError("default: unreadable rollup state");
    }
    RollupState& state = rollup_state_[GetBE64(key.data() + prefix)];
    for (int l = 0; l < kRollupLevels; ++l) {
      state.cursor[l] = FromSortableMillis(GetBE64(value.data() + 8 * l));
    }
    state.raw_horizon =
        FromSortableMillis(GetBE64(value.data() + 8 * kRollupLevels));
  }
  return FromRocks(it->status(), "reading rollup state");
}

void RocksStorage::PutRollupState(uint64_t model_id, const RollupState& state,
                                  rocksdb::WriteBatch* batch) {
  std::string value;
  for (int l = 0; l < kRollupLevels; ++l) {
    PutBE64(&value, SortableMillis(state.cursor[l]));
  }
  PutBE64(&value, SortableMillis(state.raw_horizon));
  batch->Put(default_cf_, absl::StrCat(kRollupStatePrefix, BE64(model_id)),
             value);
}

absl::Status RocksStorage::Write(rocksdb::WriteBatch* batch) {
  // After a failed write RocksDB refuses every write until resumed; try to
  // resume first so that the collector recovers by itself when space
  // returns.
  if (degraded_.load()) TryResume();
#ifdef ABSL_HAVE_THREAD_SANITIZER
  absl::MutexLock tsan_lock(&tsan_write_mu_);
#endif
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  rocksdb::Status s = db_->Write(wo, batch);
  if (!s.ok()) degraded_.store(true);
  return FromRocks(s, "write");
}

absl::Status RocksStorage::CheckDiskSpace() {
  if (options_.min_free_disk_bytes == 0) return absl::OkStatus();
  struct statvfs fs;
  if (statvfs(options_.path.c_str(), &fs) != 0) return absl::OkStatus();
  const uint64_t free_bytes = uint64_t{fs.f_bavail} * fs.f_frsize;
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

absl::StatusOr<uint64_t> RocksStorage::ModelIdLocked(
    const v1::ModelRef& model, rocksdb::WriteBatch* batch) {
  const std::string key = ModelKey(model);
  auto it = model_ids_.find(key);
  if (it != model_ids_.end()) return it->second;
  const uint64_t id = next_id_++;
  batch->Put(default_cf_, key, BE64(id));
  batch->Put(default_cf_, kNextIdKey, BE64(next_id_));
  model_ids_[key] = id;
  ModelState m;
  m.id = id;
  *m.info.mutable_model() = model;
  models_[id] = std::move(m);
  return id;
}

absl::StatusOr<uint64_t> RocksStorage::RegisterAgent(const v1::Hello& hello,
                                                     absl::Time now) {
  absl::MutexLock lock(&mu_);
  rocksdb::WriteBatch batch;
  absl::StatusOr<uint64_t> model_id = ModelIdLocked(hello.model(), &batch);
  if (!model_id.ok()) return model_id.status();
  const std::string& agent_id = hello.agent().agent_id();
  auto [it, inserted] = agents_.try_emplace(agent_id);
  AgentState& a = it->second;
  if (inserted) {
    a.num = next_id_++;
    batch.Put(default_cf_, absl::StrCat("agent:", agent_id), BE64(a.num));
    batch.Put(default_cf_, kNextIdKey, BE64(next_id_));
    *a.info.mutable_first_seen() = ToProto(now);
  }
  a.model_id = *model_id;
  *a.info.mutable_agent() = hello.agent();
  *a.info.mutable_model() = hello.model();
  *a.info.mutable_last_seen() = ToProto(now);
  ModelState& m = models_[*model_id];
  if (!m.info.has_first_seen()) *m.info.mutable_first_seen() = ToProto(now);
  *m.info.mutable_last_seen() = ToProto(now);
  batch.Put(agents_cf_, BE64(a.num), a.info.SerializeAsString());
  batch.Put(models_cf_, BE64(m.id), m.info.SerializeAsString());
  if (absl::Status s = Write(&batch); !s.ok()) return s;
  return a.info.durable_sequence();
}

absl::Status RocksStorage::WriteEncodedReports(
    absl::Span<const EncodedReport* const> reports, absl::Time now,
    std::vector<WriteOutcome>* outcomes) {
  if (absl::Status s = CheckDiskSpace(); !s.ok()) return s;
  absl::MutexLock rollup_lock(&rollup_mu_);
  absl::MutexLock lock(&mu_);
  outcomes->assign(reports.size(), WriteOutcome::kStored);
  // Room for every report up front: the batch would otherwise grow (and
  // copy everything so far) a dozen times for a group of reports.
  size_t reserve = 0;
  for (const EncodedReport* r : reports) reserve += r->bytes.size() + 256;
  rocksdb::WriteBatch batch(reserve);
  // Staged registry changes; applied to memory only after the write.
  absl::flat_hash_map<std::string, v1::AgentInfo> agent_updates;
  absl::flat_hash_map<uint64_t, v1::ModelInfo> model_updates;
  absl::flat_hash_map<std::string, bool> seen_in_batch;
  for (size_t i = 0; i < reports.size(); ++i) {
    const EncodedReport& r = *reports[i];
    auto ait = agents_.find(r.agent_id);
    if (ait == agents_.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("agent ", r.agent_id, " is not registered"));
    }
    const AgentState& a = ait->second;
    std::string seq_key = BE64(a.num);
    PutBE64(&seq_key, r.sequence);
    if (seen_in_batch.contains(seq_key)) {
      (*outcomes)[i] = WriteOutcome::kDuplicate;
    } else {
      std::string existing;
      rocksdb::Status s =
          db_->Get(rocksdb::ReadOptions(), sequences_cf_, seq_key, &existing);
      if (s.ok()) {
        (*outcomes)[i] = WriteOutcome::kDuplicate;
      } else if (!s.IsNotFound()) {
        return FromRocks(s, "reading sequence index");
      }
    }
    v1::AgentInfo& info =
        agent_updates.try_emplace(r.agent_id, a.info).first->second;
    v1::ModelInfo& model =
        model_updates.try_emplace(a.model_id, models_[a.model_id].info)
            .first->second;
    *info.mutable_last_seen() = ToProto(now);
    *model.mutable_last_seen() = ToProto(now);
    if ((*outcomes)[i] == WriteOutcome::kDuplicate) {
      info.set_duplicate_count(info.duplicate_count() + 1);
      continue;
    }
    const absl::Time start = FromProto(r.window_start);
    auto state = rollup_state_.find(a.model_id);
    if (state != rollup_state_.end()) {
      if (start < state->second.raw_horizon) {
        (*outcomes)[i] = WriteOutcome::kExpired;
        // Acknowledged: the agent must not send it again after a restart.
        info.set_durable_sequence(
            std::max(info.durable_sequence(), r.sequence));
        continue;
      }
      // A late window: its buckets' rollups no longer hold everything.
      for (int l = 0; l < kRollupLevels; ++l) {
        if (start >= state->second.cursor[l]) continue;
        const absl::Time bucket = AlignDown(start, kRollupResolution[l]);
        batch.Delete(rollup_cfs_[l], TimeKey(a.model_id, bucket));
        batch.Put(dirty_cf_, DirtyKey(l, a.model_id, bucket), "");
      }
    }
    seen_in_batch[seq_key] = true;
    std::string report_key = TimeKey(a.model_id, start);
    PutBE64(&report_key, a.num);
    PutBE64(&report_key, r.sequence);
    batch.Put(reports_cf_, report_key, r.bytes);
    batch.Put(sequences_cf_, seq_key, report_key);
    const uint64_t events = r.event_count;
    info.set_report_count(info.report_count() + 1);
    info.set_event_count(info.event_count() + events);
    info.set_durable_sequence(std::max(info.durable_sequence(), r.sequence));
    model.set_report_count(model.report_count() + 1);
    model.set_event_count(model.event_count() + events);
    *model.mutable_last_window_end() =
        model.has_last_window_end()
            ? Later(model.last_window_end(), r.window_end)
            : r.window_end;
  }
  for (const auto& [agent_id, info] : agent_updates) {
    batch.Put(agents_cf_, BE64(agents_[agent_id].num),
              info.SerializeAsString());
  }
  for (const auto& [id, info] : model_updates) {
    batch.Put(models_cf_, BE64(id), info.SerializeAsString());
  }
  if (absl::Status s = Write(&batch); !s.ok()) return s;
  for (auto& [agent_id, info] : agent_updates) {
    const bool connected = agents_[agent_id].info.connected();
    agents_[agent_id].info = std::move(info);
    agents_[agent_id].info.set_connected(connected);
  }
  for (auto& [id, info] : model_updates) models_[id].info = std::move(info);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RocksStorage::RecordGap(const v1::GapNotice& gap,
                                                 absl::Time now) {
  if (absl::Status s = CheckDiskSpace(); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  auto ait = agents_.find(gap.agent_id());
  if (ait == agents_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("agent ", gap.agent_id(), " is not registered"));
  }
  AgentState& a = ait->second;
  // Missing = sequences of the range not stored.
  uint64_t missing = 0;
  for (uint64_t seq = gap.first_sequence(); seq <= gap.last_sequence(); ++seq) {
    std::string key = BE64(a.num);
    PutBE64(&key, seq);
    std::string ignored;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), sequences_cf_, key, &ignored);
    if (s.IsNotFound()) {
      ++missing;
    } else if (!s.ok()) {
      return FromRocks(s, "reading sequence index");
    }
  }
  std::string gap_key = BE64(a.num);
  PutBE64(&gap_key, gap.first_sequence());
  // A resent or widened gap replaces its earlier record.
  uint64_t previous_missing = 0;
  std::string previous;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), gaps_cf_, gap_key, &previous);
  if (s.ok()) {
    v1::GapNotice old;
    if (old.ParseFromString(previous)) {
      // Recount the old range the same way; its sequences cannot have been
      // stored since, the agent deleted them when it dropped them.
      for (uint64_t seq = old.first_sequence(); seq <= old.last_sequence();
           ++seq) {
        std::string key = BE64(a.num);
        PutBE64(&key, seq);
        std::string ignored;
        if (db_->Get(rocksdb::ReadOptions(), sequences_cf_, key, &ignored)
                .IsNotFound()) {
          ++previous_missing;
        }
      }
    }
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading gaps");
  }
  v1::AgentInfo info = a.info;
  info.set_gap_count(info.gap_count() + missing - previous_missing);
  info.set_durable_sequence(
      std::max(info.durable_sequence(), gap.last_sequence()));
  *info.mutable_last_seen() = ToProto(now);
  rocksdb::WriteBatch batch;
  batch.Put(gaps_cf_, gap_key, gap.SerializeAsString());
  batch.Put(agents_cf_, BE64(a.num), info.SerializeAsString());
  if (absl::Status st = Write(&batch); !st.ok()) return st;
  const bool connected = a.info.connected();
  a.info = std::move(info);
  a.info.set_connected(connected);
  return missing;
}

namespace {

std::string ProfileKey(const v1::ModelRef& m) {
  return absl::StrCat(m.name(), std::string(1, '\0'), m.version());
}

}  // namespace

absl::StatusOr<v1::ReferenceProfile> RocksStorage::PutProfile(
    const v1::ReferenceProfile& profile, bool if_absent, bool* created) {
  absl::MutexLock lock(&mu_);
  *created = false;
  const std::string key = ProfileKey(profile.model());
  std::string existing;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), profiles_cf_, key, &existing);
  if (s.ok() && if_absent) {
    v1::ReferenceProfile stored;
    if (!stored.ParseFromString(existing)) {
      return absl::DataLossError("profiles: unparsable record");
    }
    return stored;
  }
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "reading profiles");
  rocksdb::WriteBatch batch;
  batch.Put(profiles_cf_, key, profile.SerializeAsString());
  if (absl::Status st = Write(&batch); !st.ok()) return st;
  *created = true;
  return profile;
}

absl::StatusOr<v1::ReferenceProfile> RocksStorage::GetProfile(
    const v1::ModelRef& model) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), profiles_cf_, ProfileKey(model), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(
        absl::StrCat("no profile for ", model.name(), "/", model.version()));
  }
  if (!s.ok()) return FromRocks(s, "reading profiles");
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

absl::Status RocksStorage::ScanReports(
    const v1::ModelRef& model, absl::Time from, absl::Time to,
    const std::function<bool(const StoredReport&)>& fn) const {
  uint64_t model_id = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = model_ids_.find(ModelKey(model));
    if (it == model_ids_.end()) return absl::OkStatus();
    model_id = it->second;
  }
  const std::string start = TimeKey(model_id, from);
  const std::string end = TimeKey(model_id, to);
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, reports_cf_));
  StoredReport stored;
  stored.model = model;
  for (it->Seek(start); it->Valid(); it->Next()) {
    if (!stored.report.ParseFromArray(it->value().data(), it->value().size())) {
      return absl::DataLossError("reports: unparsable record");
    }
    if (!fn(stored)) break;
  }
  return FromRocks(it->status(), "scanning reports");
}

EncodedReport EncodeReport(const v1::WindowReport& report,
                           std::string serialized) {
  EncodedReport e;
  e.agent_id = report.agent_id();
  e.sequence = report.sequence();
  e.window_start = report.window_start();
  e.window_end = report.window_end();
  e.event_count = report.summary().operational().event_count();
  e.bytes =
      serialized.empty() ? report.SerializeAsString() : std::move(serialized);
  return e;
}

absl::Status Storage::WriteReports(
    absl::Span<const v1::WindowReport* const> reports, absl::Time now,
    std::vector<WriteOutcome>* outcomes) {
  std::vector<EncodedReport> encoded;
  encoded.reserve(reports.size());
  std::vector<const EncodedReport*> ptrs;
  ptrs.reserve(reports.size());
  for (const v1::WindowReport* r : reports) {
    encoded.push_back(EncodeReport(*r));
  }
  for (const EncodedReport& e : encoded) ptrs.push_back(&e);
  return WriteEncodedReports(ptrs, now, outcomes);
}

absl::Status Storage::MergeReports(const v1::ModelRef& model, absl::Time from,
                                   absl::Time to, SummaryMerger* merger,
                                   MergeStats* stats) const {
  absl::Status merge_error;
  absl::Status scan = ScanReports(model, from, to, [&](const StoredReport& r) {
    merge_error = merger->Add(r.report.summary());
    if (stats != nullptr) {
      ++stats->raw_reports_read;
      if (stats->report_ids != nullptr) {
        stats->report_ids->emplace_back(r.report.agent_id(),
                                        r.report.sequence());
      }
    }
    return merge_error.ok();
  });
  return scan.ok() ? merge_error : scan;
}

absl::Status RocksStorage::MergeReports(const v1::ModelRef& model,
                                        absl::Time from, absl::Time to,
                                        SummaryMerger* merger,
                                        MergeStats* stats) const {
  uint64_t model_id = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = model_ids_.find(ModelKey(model));
    if (it == model_ids_.end()) return absl::OkStatus();
    model_id = it->second;
  }
  // One snapshot, so that a late report written meanwhile is neither
  // missed by its rollup nor counted twice.
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  absl::Status s = MergeRange(model_id, from, to, kRollupLevels - 1, snapshot,
                              merger, stats);
  if (s.ok() && stats != nullptr && stats->report_ids != nullptr) {
    s = ReportIds(model_id, from, to, snapshot, stats->report_ids);
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
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, reports_cf_));
  // Keys only: model id, window start, agent number, sequence.
  for (it->Seek(TimeKey(model_id, from)); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.size() != 32) {
      return absl::DataLossError("reports: key of unexpected length");
    }
    auto agent = agent_ids.find(GetBE64(key.data() + 16));
    out->emplace_back(agent == agent_ids.end() ? "?" : agent->second,
                      GetBE64(key.data() + 24));
  }
  return FromRocks(it->status(), "scanning report keys");
}

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

}  // namespace

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
            FromSortableMillis(GetBE64(it->key().data() + 8));
        records.push_back({level, it->value().ToString()});
        if (start > covered_to) rest.emplace_back(covered_to, start);
        if (stats != nullptr) ++stats->rollups_read[level];
        covered_to = start + res;
      }
      if (!it->status().ok()) return FromRocks(it->status(), "reading rollups");
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
    if (!it->status().ok()) return FromRocks(it->status(), "scanning reports");
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
      const int summary_field = record.level < 0
                                    ? v1::WindowReport::kSummaryFieldNumber
                                    : v1::RollupBucket::kSummaryFieldNumber;
      stripped.clear();
      if (!CopyWithoutField(
              bytes,
              {summary_field, v1::WindowSummary::kFeaturesFieldNumber,
               v1::FeatureSummary::kSketchFieldNumber},
              &stripped)) {
        return absl::DataLossError(absl::StrCat(
            record.level < 0
                ? "reports"
                : absl::StrCat("rollup_", kRollupLevelNames[record.level]),
            ": unparsable record"));
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
        return absl::DataLossError(absl::StrCat(
            "rollup_", kRollupLevelNames[record.level], ": unparsable record"));
      }
      if (absl::Status s = merger->Add(bucket.summary(), bucket.report_count());
          !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

namespace {

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

}  // namespace

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

size_t RocksStorage::RawReportsIn(uint64_t model_id, absl::Time from,
                                  absl::Time to, size_t at_most) const {
  const std::string upper_key = TimeKey(model_id, to);
  rocksdb::Slice upper(upper_key);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, reports_cf_));
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
  const std::string end_key = BE64(model_id + 1);
  const std::string start_key = TimeKey(model_id, from);
  auto probe = [&](rocksdb::ColumnFamilyHandle* cf) {
    rocksdb::Slice upper(end_key);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf));
    it->Seek(start_key);
    if (!it->Valid()) return;
    const absl::Time t = FromSortableMillis(GetBE64(it->key().data() + 8));
    if (!next.has_value() || t < *next) next = t;
  };
  probe(reports_cf_);
  for (int l = 0; l < level; ++l) probe(rollup_cfs_[l]);
  return next;
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
  // 1. Buckets invalidated by late reports, finest level first (the key
  // starts with the level).
  std::vector<std::string> dirty;
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), dirty_cf_));
    for (it->SeekToFirst(); it->Valid() && dirty.size() < budget; it->Next()) {
      dirty.push_back(it->key().ToString());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading dirty");
  }
  for (const std::string& key : dirty) {
    if (key.size() != 17) continue;
    const int level = static_cast<uint8_t>(key[0]);
    if (level >= kRollupLevels) continue;
    const uint64_t model_id = GetBE64(key.data() + 1);
    const absl::Time start = FromSortableMillis(GetBE64(key.data() + 9));
    absl::MutexLock lock(&rollup_mu_);
    rocksdb::WriteBatch batch;
    if (absl::Status s =
            BuildRollupLocked(level, model_id, start, &batch, &stats);
        !s.ok()) {
      return s;
    }
    batch.Delete(dirty_cf_, key);
    if (absl::Status s = Write(&batch); !s.ok()) return s;
    ++stats.rollups_rebuilt;
    --budget;
  }
  // 2. Buckets that ended rollup_delay (rollup_delay_10s) ago, per model and
  // level.
  std::vector<uint64_t> model_ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, m] : models_) model_ids.push_back(id);
  }
  std::sort(model_ids.begin(), model_ids.end());
  for (uint64_t id : model_ids) {
    for (int level = 0; level < kRollupLevels; ++level) {
      const absl::Duration res = kRollupResolution[level];
      const absl::Time horizon =
          AlignDown(now - (level == 0 ? options_.rollup_delay_10s
                                      : options_.rollup_delay),
                    res);
      for (;;) {
        if (budget == 0) {
          stats.budget_exhausted = true;
          return stats;
        }
        absl::MutexLock lock(&rollup_mu_);
        RollupState state = rollup_state_[id];
        if (state.cursor[level] >= horizon) break;
        const std::optional<absl::Time> next =
            NextDataStart(id, state.cursor[level], level);
        rocksdb::WriteBatch batch;
        bool done = false;
        if (!next.has_value() || AlignDown(*next, res) + res > horizon) {
          state.cursor[level] = horizon;  // nothing (more) to roll up
          done = true;
        } else {
          const absl::Time bucket = AlignDown(*next, res);
          if (absl::Status s =
                  BuildRollupLocked(level, id, bucket, &batch, &stats);
              !s.ok()) {
            return s;
          }
          ++stats.rollups_built;
          --budget;
          state.cursor[level] = bucket + res;
        }
        PutRollupState(id, state, &batch);
        if (absl::Status s = Write(&batch); !s.ok()) return s;
        rollup_state_[id] = state;
        if (done) break;
      }
    }
    if (absl::Status s = ApplyRetention(id, now, &stats); !s.ok()) return s;
  }
  return stats;
}

absl::Status RocksStorage::ApplyRetention(uint64_t model_id, absl::Time now,
                                          MaintenanceStats* stats) {
  absl::Time raw_cutoff = absl::InfinitePast();
  absl::Time rollup_cutoff[kRollupLevels];
  {
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
    if (options_.raw_retention > absl::ZeroDuration()) {
      // Only windows the 1-minute rollups already hold.
      const absl::Time cutoff =
          std::min(AlignDown(now - options_.raw_retention,
                             kRollupResolution[kFirstCompleteLevel]),
                   state.cursor[kFirstCompleteLevel]);
      if (cutoff > state.raw_horizon) {
        // Raise the horizon first: from now on older windows are refused
        // (expired), so none is written behind the deletion.
        RollupState next = state;
        next.raw_horizon = cutoff;
        rocksdb::WriteBatch batch;
        PutRollupState(model_id, next, &batch);
        if (absl::Status s = Write(&batch); !s.ok()) return s;
        state = next;
        raw_cutoff = cutoff;
      }
    }
  }
  for (int l = 0; l < kRollupLevels; ++l) {
    if (rollup_cutoff[l] == absl::InfinitePast()) continue;
    rocksdb::WriteBatch batch;
    batch.DeleteRange(rollup_cfs_[l], BE64(model_id),
                      TimeKey(model_id, rollup_cutoff[l]));
    if (absl::Status s = Write(&batch); !s.ok()) return s;
    absl::MutexLock lock(&rollup_mu_);
    rollup_state_[model_id].rollup_horizon[l] = rollup_cutoff[l];
  }
  if (raw_cutoff == absl::InfinitePast()) return absl::OkStatus();
  // Raw reports and their de-duplication entries, in bounded batches.
  const std::string end_key = TimeKey(model_id, raw_cutoff);
  rocksdb::Slice upper(end_key);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, reports_cf_));
  rocksdb::WriteBatch batch;
  size_t pending = 0;
  for (it->Seek(BE64(model_id)); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (key.size() != 32) continue;
    batch.Delete(reports_cf_, key);
    batch.Delete(sequences_cf_, rocksdb::Slice(key.data() + 16, 16));
    ++stats->raw_reports_deleted;
    if (++pending == 4096) {
      if (absl::Status s = Write(&batch); !s.ok()) return s;
      batch.Clear();
      pending = 0;
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scanning reports");
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
  }
  return "unknown";
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
    const std::string prefix = BE64(num);
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

absl::Status RocksStorage::Apply(const std::vector<Mutation>& mutations) {
  rocksdb::WriteBatch batch;
  for (const Mutation& m : mutations) {
    rocksdb::ColumnFamilyHandle* cf =
        table_cfs_.at(static_cast<size_t>(m.table));
    if (m.value.has_value()) {
      batch.Put(cf, m.key, *m.value);
    } else {
      batch.Delete(cf, m.key);
    }
  }
  return Write(&batch);
}

absl::StatusOr<std::string> RocksStorage::Get(Table table,
                                              absl::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(),
                               table_cfs_.at(static_cast<size_t>(table)),
                               rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) {
    return absl::NotFoundError(
        absl::StrCat(TableName(table), ": no record ", key));
  }
  if (!s.ok()) return FromRocks(s, absl::StrCat("reading ", TableName(table)));
  return value;
}

absl::Status RocksStorage::Scan(
    Table table, absl::string_view from,
    const std::function<bool(absl::string_view, absl::string_view)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(
      rocksdb::ReadOptions(), table_cfs_.at(static_cast<size_t>(table))));
  for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid();
       it->Next()) {
    if (!fn(absl::string_view(it->key().data(), it->key().size()),
            absl::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocks(it->status(), absl::StrCat("scanning ", TableName(table)));
}

absl::StatusOr<std::pair<std::string, std::string>> RocksStorage::Last(
    Table table) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(
      rocksdb::ReadOptions(), table_cfs_.at(static_cast<size_t>(table))));
  it->SeekToLast();
  if (!it->status().ok()) return FromRocks(it->status(), "reading last record");
  if (!it->Valid())
    return absl::NotFoundError(absl::StrCat(TableName(table), " is empty"));
  return std::make_pair(it->key().ToString(), it->value().ToString());
}

}  // namespace aims::collector
