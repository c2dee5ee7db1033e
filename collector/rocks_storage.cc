#include "collector/rocks_storage.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
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
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  // Small, predictable memory: the collector holds summaries, not raw data.
  db_options.write_buffer_size = 32 << 20;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 5;

  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kNoCompression;

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, cf_options},
      {"reports", cf_options},
      {"sequences", cf_options},
      {"agents", cf_options},
      {"models", cf_options},
      {"gaps", cf_options},
      {"profiles", cf_options},
  };
  constexpr Table kTables[] = {Table::kPlans,           Table::kEvaluation,
                               Table::kNonconformities, Table::kAudit,
                               Table::kOutbox,          Table::kMeta};
  for (Table t : kTables) cfs.push_back({TableName(t), cf_options});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.path, cfs, &handles, &raw);
  if (!s.ok()) {
    return FromRocks(s, absl::StrCat("opening data directory ", options.path));
  }
  std::unique_ptr<RocksStorage> storage(new RocksStorage());
  storage->options_ = options;
  storage->db_.reset(raw);
  storage->default_cf_ = handles[0];
  storage->reports_cf_ = handles[1];
  storage->sequences_cf_ = handles[2];
  storage->agents_cf_ = handles[3];
  storage->models_cf_ = handles[4];
  storage->gaps_cf_ = handles[5];
  storage->profiles_cf_ = handles[6];
  for (size_t i = 7; i < handles.size(); ++i)
    storage->table_cfs_.push_back(handles[i]);
  if (absl::Status st = storage->Load(); !st.ok()) return st;
  return storage;
}

RocksStorage::~RocksStorage() {
  if (db_ == nullptr) return;
  for (auto* cf : table_cfs_) db_->DestroyColumnFamilyHandle(cf);
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

absl::Status RocksStorage::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  return FromRocks(db_->Write(wo, batch), "write");
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

absl::Status RocksStorage::WriteReports(
    absl::Span<const v1::WindowReport* const> reports, absl::Time now,
    std::vector<WriteOutcome>* outcomes) {
  absl::MutexLock lock(&mu_);
  outcomes->assign(reports.size(), WriteOutcome::kStored);
  rocksdb::WriteBatch batch;
  // Staged registry changes; applied to memory only after the write.
  absl::flat_hash_map<std::string, v1::AgentInfo> agent_updates;
  absl::flat_hash_map<uint64_t, v1::ModelInfo> model_updates;
  absl::flat_hash_map<std::string, bool> seen_in_batch;
  for (size_t i = 0; i < reports.size(); ++i) {
    const v1::WindowReport& r = *reports[i];
    auto ait = agents_.find(r.agent_id());
    if (ait == agents_.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("agent ", r.agent_id(), " is not registered"));
    }
    const AgentState& a = ait->second;
    std::string seq_key = BE64(a.num);
    PutBE64(&seq_key, r.sequence());
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
        agent_updates.try_emplace(r.agent_id(), a.info).first->second;
    v1::ModelInfo& model =
        model_updates.try_emplace(a.model_id, models_[a.model_id].info)
            .first->second;
    *info.mutable_last_seen() = ToProto(now);
    *model.mutable_last_seen() = ToProto(now);
    if ((*outcomes)[i] == WriteOutcome::kDuplicate) {
      info.set_duplicate_count(info.duplicate_count() + 1);
      continue;
    }
    seen_in_batch[seq_key] = true;
    std::string report_key = BE64(a.model_id);
    PutBE64(&report_key, SortableMillis(FromProto(r.window_start())));
    PutBE64(&report_key, a.num);
    PutBE64(&report_key, r.sequence());
    batch.Put(reports_cf_, report_key, r.SerializeAsString());
    batch.Put(sequences_cf_, seq_key, report_key);
    const uint64_t events = r.summary().operational().event_count();
    info.set_report_count(info.report_count() + 1);
    info.set_event_count(info.event_count() + events);
    info.set_durable_sequence(std::max(info.durable_sequence(), r.sequence()));
    model.set_report_count(model.report_count() + 1);
    model.set_event_count(model.event_count() + events);
    *model.mutable_last_window_end() =
        model.has_last_window_end()
            ? Later(model.last_window_end(), r.window_end())
            : r.window_end();
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
  std::string start = BE64(model_id);
  PutBE64(&start, SortableMillis(from));
  std::string end = BE64(model_id);
  PutBE64(&end, SortableMillis(to));
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

uint64_t RocksStorage::ApproximateSizeBytes() const {
  uint64_t total = 0;
  for (auto* cf :
       {default_cf_, reports_cf_, sequences_cf_, agents_cf_, models_cf_}) {
    uint64_t sst = 0;
    db_->GetIntProperty(cf, rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
    total += sst;
  }
  return total;
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
