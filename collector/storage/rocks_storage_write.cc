// RocksStorage, part 2: writes - the registry, window reports (with their
// de-duplication and the rollups a late report invalidates), gaps,
// profiles and keyed records, all through Write().
#include <algorithm>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "aims/v1/storage.pb.h"
#include "collector/storage/rocks_storage.h"
#include "collector/storage/rocks_storage_internal.h"
#include "common/base/time_util.h"
#include "common/rocks/keys.h"
#include "common/rocks/rocksdb_status.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace aims::collector {

using rocks_storage_internal::AlignDown;
using rocks_storage_internal::DirtyKey;
using rocks_storage_internal::kNextIdKey;
using rocks_storage_internal::ModelKey;
using rocks_storage_internal::ProfileKey;
using rocks_storage_internal::ReportHeader;
using rocks_storage_internal::SequenceKey;
using rocks_storage_internal::TimeKey;

namespace {

google::protobuf::Timestamp Later(const google::protobuf::Timestamp& a,
                                  const google::protobuf::Timestamp& b) {
  return FromProto(a) >= FromProto(b) ? a : b;
}

}  // namespace

// Registry changes of one WriteEncodedReports batch, applied to memory only
// after the batch is written.
struct RocksStorage::StagedWrite {
  absl::flat_hash_map<std::string, v1::AgentInfo> agents;
  absl::flat_hash_map<uint64_t, v1::ModelInfo> models;
  // Sequences keys of the reports stored by the batch so far.
  absl::flat_hash_set<std::string> sequences;
};

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
  if (!s.ok() && !degraded_.exchange(true)) {
    degraded_since_us_.store(absl::ToUnixMicros(absl::Now()));
  }
  return FromRocksDbStatus(s, "write");
}

absl::StatusOr<uint64_t> RocksStorage::ModelIdLocked(
    const v1::ModelRef& model, rocksdb::WriteBatch* batch) {
  const std::string key = ModelKey(model);
  auto it = model_ids_.find(key);
  if (it != model_ids_.end()) return it->second;
  const uint64_t id = next_id_++;
  batch->Put(default_cf_, key, Uint64BigEndian(id));
  batch->Put(default_cf_, kNextIdKey, Uint64BigEndian(next_id_));
  model_ids_[key] = id;
  ModelState m;
  m.id = id;
  *m.info.mutable_model() = model;
  models_[id] = std::move(m);
  return id;
}

absl::StatusOr<uint64_t> RocksStorage::RegisterAgent(const v1::Hello& hello,
                                                     absl::Time now) {
  uint32_t slot = 0;
  return RegisterAgentInSlot(hello, now, nullptr, &slot, nullptr);
}

absl::StatusOr<uint64_t> RocksStorage::RegisterAgentInSlot(
    const v1::Hello& hello, absl::Time now,
    const std::function<bool(const std::string&)>& connected, uint32_t* slot,
    std::vector<std::string>* replaced) {
  absl::MutexLock lock(&mu_);
  const std::string& id = hello.agent().agent_id();
  if (auto known = agents_.find(id);
      known != agents_.end() &&
      ModelKey(known->second.info.model()) != ModelKey(hello.model())) {
    const v1::ModelRef& owner = known->second.info.model();
    return absl::PermissionDeniedError(absl::StrCat(
        "agent ", id, " belongs to model ", owner.name(), "/", owner.version(),
        "/", owner.environment(), "; a hello for ", hello.model().name(), "/",
        hello.model().version(), "/", hello.model().environment(),
        " is refused (an agent id stays with the model it first reported; "
        "another model needs another agent id, e.g. a new --data_dir)"));
  }
  rocksdb::WriteBatch batch;
  absl::StatusOr<uint64_t> model_id = ModelIdLocked(hello.model(), &batch);
  if (!model_id.ok()) return model_id.status();
  const std::string& agent_id = hello.agent().agent_id();
  auto [it, inserted] = agents_.try_emplace(agent_id);
  AgentState& a = it->second;
  if (inserted) {
    a.num = next_id_++;
    batch.Put(default_cf_, absl::StrCat("agent:", agent_id),
              Uint64BigEndian(a.num));
    batch.Put(default_cf_, kNextIdKey, Uint64BigEndian(next_id_));
    *a.info.mutable_first_seen() = ToProto(now);
  }
  a.model_id = *model_id;
  *a.info.mutable_agent() = hello.agent();
  *a.info.mutable_model() = hello.model();
  *a.info.mutable_last_seen() = ToProto(now);
  *slot = LeaseSlotLocked(agent_id, connected, now, &batch, replaced);
  a.info.set_slot(*slot);
  a.info.clear_left_at();
  a.info.clear_left_reason();
  ModelState& m = models_[*model_id];
  if (!m.info.has_first_seen()) *m.info.mutable_first_seen() = ToProto(now);
  *m.info.mutable_last_seen() = ToProto(now);
  batch.Put(agents_cf_, Uint64BigEndian(a.num), a.info.SerializeAsString());
  batch.Put(models_cf_, Uint64BigEndian(m.id), m.info.SerializeAsString());
  if (absl::Status s = Write(&batch); !s.ok()) return s;
  return a.info.durable_sequence();
}

uint32_t RocksStorage::LeaseSlotLocked(
    const std::string& agent_id,
    const std::function<bool(const std::string&)>& connected, absl::Time now,
    rocksdb::WriteBatch* batch, std::vector<std::string>* replaced) {
  AgentState& self = agents_[agent_id];
  // Slots held by the model's other agents: not left and, when the caller
  // knows, connected. Holders that are not connected can be taken over.
  absl::flat_hash_set<uint32_t> held;
  for (const auto& [id, a] : agents_) {
    if (id == agent_id || a.model_id != self.model_id || a.info.slot() == 0 ||
        a.info.has_left_at()) {
      continue;
    }
    if (!connected || connected(id)) held.insert(a.info.slot());
  }
  uint32_t slot = self.info.slot();
  if (slot == 0 || held.contains(slot)) {
    slot = 1;
    while (held.contains(slot)) ++slot;
  }
  // The agent that held the slot before (crashed, never deregistered) is
  // replaced: the new one answers for the slot from now on.
  for (auto& [id, a] : agents_) {
    if (id == agent_id || a.model_id != self.model_id ||
        a.info.slot() != slot || a.info.has_left_at()) {
      continue;
    }
    *a.info.mutable_left_at() = ToProto(now);
    a.info.set_left_reason("replaced");
    const bool was_connected = a.info.connected();
    a.info.set_connected(false);
    batch->Put(agents_cf_, Uint64BigEndian(a.num), a.info.SerializeAsString());
    a.info.set_connected(was_connected);
    if (replaced != nullptr) replaced->push_back(id);
  }
  return slot;
}

absl::Status RocksStorage::MarkAgentLeft(const std::string& agent_id,
                                         absl::string_view reason,
                                         absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) {
    return absl::NotFoundError(absl::StrCat("agent ", agent_id, " unknown"));
  }
  v1::AgentInfo info = it->second.info;
  *info.mutable_left_at() = ToProto(now);
  info.set_left_reason(std::string(reason));
  rocksdb::WriteBatch batch;
  batch.Put(agents_cf_, Uint64BigEndian(it->second.num),
            info.SerializeAsString());
  if (absl::Status s = Write(&batch); !s.ok()) return s;
  it->second.info = std::move(info);
  return absl::OkStatus();
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
  StagedWrite staged;
  for (size_t i = 0; i < reports.size(); ++i) {
    absl::StatusOr<WriteOutcome> outcome =
        StageReportLocked(*reports[i], now, &staged, &batch);
    if (!outcome.ok()) return outcome.status();
    (*outcomes)[i] = *outcome;
  }
  for (const auto& [agent_id, info] : staged.agents) {
    batch.Put(agents_cf_, Uint64BigEndian(agents_[agent_id].num),
              info.SerializeAsString());
  }
  for (const auto& [id, info] : staged.models) {
    batch.Put(models_cf_, Uint64BigEndian(id), info.SerializeAsString());
  }
  if (absl::Status s = Write(&batch); !s.ok()) return s;
  for (auto& [agent_id, info] : staged.agents) {
    const bool connected = agents_[agent_id].info.connected();
    agents_[agent_id].info = std::move(info);
    agents_[agent_id].info.set_connected(connected);
  }
  for (auto& [id, info] : staged.models) models_[id].info = std::move(info);
  return absl::OkStatus();
}

absl::StatusOr<WriteOutcome> RocksStorage::StageReportLocked(
    const EncodedReport& r, absl::Time now, StagedWrite* staged,
    rocksdb::WriteBatch* batch) {
  auto ait = agents_.find(r.agent_id);
  if (ait == agents_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("agent ", r.agent_id, " is not registered"));
  }
  const AgentState& a = ait->second;
  const std::string seq_key = SequenceKey(a.num, r.sequence);
  bool duplicate = staged->sequences.contains(seq_key);
  if (!duplicate) {
    std::string existing;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), sequences_cf_, seq_key, &existing);
    if (!s.ok() && !s.IsNotFound()) {
      return FromRocksDbStatus(s, "reading sequence index");
    }
    duplicate = s.ok();
  }
  v1::AgentInfo& info =
      staged->agents.try_emplace(r.agent_id, a.info).first->second;
  v1::ModelInfo& model =
      staged->models.try_emplace(a.model_id, models_[a.model_id].info)
          .first->second;
  *info.mutable_last_seen() = ToProto(now);
  *model.mutable_last_seen() = ToProto(now);
  if (duplicate) {
    info.set_duplicate_count(info.duplicate_count() + 1);
    return WriteOutcome::kDuplicate;
  }
  const absl::Time start = FromProto(r.window_start);
  auto state = rollup_state_.find(a.model_id);
  if (state != rollup_state_.end()) {
    if (start < state->second.raw_horizon) {
      // Acknowledged: the agent must not send it again after a restart.
      info.set_durable_sequence(std::max(info.durable_sequence(), r.sequence));
      return WriteOutcome::kExpired;
    }
    // A late window: its buckets' rollups no longer hold everything.
    for (int l = 0; l < kRollupLevels; ++l) {
      if (start >= state->second.cursor[l]) continue;
      const absl::Time bucket = AlignDown(start, kRollupResolution[l]);
      batch->Delete(rollup_cfs_[l], TimeKey(a.model_id, bucket));
      batch->Put(dirty_cf_, DirtyKey(l, a.model_id, bucket), "");
    }
  }
  staged->sequences.insert(seq_key);
  std::string report_key = TimeKey(a.model_id, start);
  report_key += seq_key;  // [agent_num][seq]
  std::string header;
  if (!ReportHeader(r.bytes, &header)) {
    return absl::InvalidArgumentError("report: not valid wire format");
  }
  batch->Put(reports_cf_, report_key, r.bytes);
  batch->Put(headers_cf_, report_key, header);
  batch->Put(sequences_cf_, seq_key, report_key);
  AddMutations(r.on_store, batch);
  info.set_report_count(info.report_count() + 1);
  info.set_event_count(info.event_count() + r.event_count);
  info.set_durable_sequence(std::max(info.durable_sequence(), r.sequence));
  model.set_report_count(model.report_count() + 1);
  model.set_event_count(model.event_count() + r.event_count);
  *model.mutable_last_window_end() =
      model.has_last_window_end() ? Later(model.last_window_end(), r.window_end)
                                  : r.window_end;
  return WriteOutcome::kStored;
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
    std::string ignored;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), sequences_cf_,
                                 SequenceKey(a.num, seq), &ignored);
    if (s.IsNotFound()) {
      ++missing;
    } else if (!s.ok()) {
      return FromRocksDbStatus(s, "reading sequence index");
    }
  }
  const std::string gap_key = SequenceKey(a.num, gap.first_sequence());
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
        std::string ignored;
        if (db_->Get(rocksdb::ReadOptions(), sequences_cf_,
                     SequenceKey(a.num, seq), &ignored)
                .IsNotFound()) {
          ++previous_missing;
        }
      }
    }
  } else if (!s.IsNotFound()) {
    return FromRocksDbStatus(s, "reading gaps");
  }
  v1::AgentInfo info = a.info;
  info.set_gap_count(info.gap_count() + missing - previous_missing);
  info.set_durable_sequence(
      std::max(info.durable_sequence(), gap.last_sequence()));
  *info.mutable_last_seen() = ToProto(now);
  rocksdb::WriteBatch batch;
  batch.Put(gaps_cf_, gap_key, gap.SerializeAsString());
  batch.Put(agents_cf_, Uint64BigEndian(a.num), info.SerializeAsString());
  if (absl::Status st = Write(&batch); !st.ok()) return st;
  const bool connected = a.info.connected();
  a.info = std::move(info);
  a.info.set_connected(connected);
  return missing;
}

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
  if (!s.ok() && !s.IsNotFound()) {
    return FromRocksDbStatus(s, "reading profiles");
  }
  rocksdb::WriteBatch batch;
  batch.Put(profiles_cf_, key, profile.SerializeAsString());
  if (absl::Status st = Write(&batch); !st.ok()) return st;
  *created = true;
  return profile;
}

void RocksStorage::AddMutations(const std::vector<Mutation>& mutations,
                                rocksdb::WriteBatch* batch) {
  for (const Mutation& m : mutations) {
    rocksdb::ColumnFamilyHandle* cf =
        table_cfs_.at(static_cast<size_t>(m.table));
    if (m.value.has_value()) {
      batch->Put(cf, m.key, *m.value);
    } else {
      batch->Delete(cf, m.key);
    }
  }
}

absl::Status RocksStorage::Apply(const std::vector<Mutation>& mutations) {
  rocksdb::WriteBatch batch;
  AddMutations(mutations, &batch);
  return Write(&batch);
}

std::optional<v1::ModelRef> RocksStorage::AgentModel(
    const std::string& agent_id) const {
  absl::MutexLock lock(&mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return std::nullopt;
  return it->second.info.model();
}

absl::StatusOr<WriteOutcome> RocksStorage::PutLabelReport(
    const v1::ModelRef& model, const EncodedReport& report,
    const v1::WindowSummary& delta, const std::vector<Mutation>& mutations) {
  if (absl::Status s = CheckDiskSpace(); !s.ok()) return s;
  absl::MutexLock rollup_lock(&rollup_mu_);
  rocksdb::WriteBatch batch;
  uint64_t model_id = 0;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<uint64_t> id = ModelIdLocked(model, &batch);
    if (!id.ok()) return id.status();
    model_id = *id;
  }
  const absl::Time start = FromProto(report.window_start);
  WriteOutcome outcome = WriteOutcome::kStored;
  auto state = rollup_state_.find(model_id);
  if (state != rollup_state_.end() && start < state->second.raw_horizon) {
    // Raw reports of the window are gone: the rollups are its only record.
    if (absl::Status s = MergeIntoRollupsLocked(model_id, start, delta, &batch);
        !s.ok()) {
      return s;
    }
    outcome = WriteOutcome::kExpired;
  } else {
    if (state != rollup_state_.end()) {
      for (int l = 0; l < kRollupLevels; ++l) {
        if (start >= state->second.cursor[l]) continue;
        const absl::Time bucket = AlignDown(start, kRollupResolution[l]);
        batch.Delete(rollup_cfs_[l], TimeKey(model_id, bucket));
        batch.Put(dirty_cf_, DirtyKey(l, model_id, bucket), "");
      }
    }
    std::string key = TimeKey(model_id, start);
    key += SequenceKey(0, 0);  // the reserved label report agent
    if (report.bytes.empty()) {
      batch.Delete(reports_cf_, key);
      batch.Delete(headers_cf_, key);
    } else {
      std::string header;
      if (!ReportHeader(report.bytes, &header)) {
        return absl::InvalidArgumentError(
            "label report: not valid wire format");
      }
      batch.Put(reports_cf_, key, report.bytes);
      batch.Put(headers_cf_, key, header);
    }
  }
  AddMutations(mutations, &batch);
  if (absl::Status s = Write(&batch); !s.ok()) return s;
  return outcome;
}

absl::Status RocksStorage::MergeIntoRollupsLocked(
    uint64_t model_id, absl::Time start, const v1::WindowSummary& delta,
    rocksdb::WriteBatch* batch) {
  const RollupState& state = rollup_state_[model_id];
  for (int l = kFirstCompleteLevel; l < kRollupLevels; ++l) {
    // Not built yet: it will be built from the finer level, which has it.
    if (start >= state.cursor[l]) continue;
    const absl::Time bucket_start = AlignDown(start, kRollupResolution[l]);
    if (bucket_start < state.rollup_horizon[l]) continue;  // deleted
    const std::string key = TimeKey(model_id, bucket_start);
    std::string existing;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), rollup_cfs_[l], key, &existing);
    if (!s.ok() && !s.IsNotFound()) {
      return FromRocksDbStatus(s, "reading rollups");
    }
    SummaryMerger merger;
    v1::RollupBucket bucket;
    if (s.ok()) {
      if (!bucket.ParseFromString(existing)) {
        return absl::DataLossError("rollups: unparsable record");
      }
      if (absl::Status m = merger.Add(bucket.summary(), bucket.report_count());
          !m.ok()) {
        return m;
      }
    }
    if (absl::Status m = merger.Add(delta); !m.ok()) return m;
    bucket.set_report_count(merger.count());
    *bucket.mutable_summary() = merger.result();
    batch->Put(rollup_cfs_[l], key, bucket.SerializeAsString());
  }
  return absl::OkStatus();
}

}  // namespace aims::collector
