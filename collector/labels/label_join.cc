// LabelJoin: staging and writing records and labels, and recomputing the
// label reports of changed windows (the keys: label_join_internal.h; the
// TTL, the byte bound and copies for a peer: label_join_upkeep.cc).
#include "collector/labels/label_join.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "collector/labels/label_join_internal.h"
#include "collector/labels/label_report.h"
#include "collector/storage/wire_filter.h"
#include "common/base/log.h"
#include "common/base/time_util.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace aims::collector {
namespace {

constexpr size_t kMaxPredictionIdBytes = 128;

// Whether label `a` became known before `b` (both have a timestamp once
// staged): an agent forwards a window's labels at its close, so a
// correction posted meanwhile may reach the join first and must stay.
bool Older(const v1::LabelEvent& a, const v1::LabelEvent& b) {
  return FromProto(a.timestamp()) < FromProto(b.timestamp());
}

// Values staged for writing, by key (nullopt: deleted).
using Overlay = absl::flat_hash_map<std::string, std::optional<std::string>>;

// A report's join records (each as received, and its prediction_id) and
// labels, read from WindowReport fields on the wire; false when unreadable.
bool ReadCarried(absl::string_view label_bytes, LabelJoin::Carried* out) {
  bool labels_ok = true;
  const bool read = ForEachLengthDelimited(
      label_bytes, [&](int number, absl::string_view payload) {
        if (number == v1::WindowReport::kPredictionsFieldNumber) {
          LabelJoin::CarriedPrediction& p = out->predictions.emplace_back();
          p.bytes = payload;
          // prediction_id: the last occurrence wins, as a parser's.
          return ForEachLengthDelimited(
              payload, [&p](int field, absl::string_view value) {
                if (field == v1::PendingPrediction::kPredictionIdFieldNumber) {
                  p.id = value;
                }
                return true;
              });
        }
        if (number == v1::WindowReport::kLabelsFieldNumber) {
          labels_ok &= out->labels.emplace_back().ParseFromArray(
              payload.data(), static_cast<int>(payload.size()));
        }
        return labels_ok;
      });
  return read && labels_ok;
}

// A record's share of the join's bytes: its key and value, and its id
// entry.
uint64_t RecordBytes(size_t key_bytes, size_t value_bytes, size_t id_bytes) {
  return key_bytes + value_bytes + id_bytes + key_bytes;
}

}  // namespace

// Changes of one report or submit, written together; the overlay (values
// as serialized: cheaper to keep than parsed records) lets a later label of
// the same write see an earlier record.
struct LabelJoin::Staged {
  std::vector<Mutation> mutations;
  Overlay records, ids, pending;
  // Counted once the write is durable.
  LabelJoinCounts delta;
  int64_t bytes = 0, records_added = 0, pending_added = 0;
  std::vector<std::string> dirty;

  void Reset() {
    mutations.clear();
    delta = LabelJoinCounts();
    bytes = records_added = pending_added = 0;
    dirty.clear();
  }
};

namespace {

template <typename T>
absl::StatusOr<std::optional<T>> Lookup(const Storage& storage, Table table,
                                        const std::string& key,
                                        const Overlay& overlay) {
  absl::StatusOr<std::string> value;
  if (auto it = overlay.find(key); it != overlay.end()) {
    if (!it->second.has_value()) return std::optional<T>();
    value = *it->second;
  } else {
    value = storage.Get(table, key);
  }
  if (absl::IsNotFound(value.status())) return std::optional<T>();
  if (!value.ok()) return value.status();
  if constexpr (std::is_same_v<T, std::string>) {
    return std::optional<T>(std::move(*value));
  } else {
    T parsed;
    if (!parsed.ParseFromString(*value)) {
      return absl::DataLossError(absl::StrCat(
          "label join: unparsable record in table ", static_cast<int>(table)));
    }
    return std::optional<T>(std::move(parsed));
  }
}

}  // namespace

LabelJoin::LabelJoin(Storage* storage, const Clock* clock,
                     LabelJoinOptions options)
    : storage_(storage),
      clock_(clock),
      options_(options),
      metrics_(std::make_unique<Metrics>()) {}

absl::StatusOr<std::unique_ptr<LabelJoin>> LabelJoin::Open(
    Storage* storage, const Clock* clock, LabelJoinOptions options,
    prometheus::Registry* registry) {
  std::unique_ptr<LabelJoin> join(new LabelJoin(storage, clock, options));
  if (registry != nullptr) {
    Metrics& m = *join->metrics_;
    auto gauge = [registry](const char* name, const char* help) {
      return &prometheus::BuildGauge()
                  .Name(name)
                  .Help(help)
                  .Register(*registry)
                  .Add({});
    };
    auto counter = [registry](const char* name, const char* help) {
      return &prometheus::BuildCounter()
                  .Name(name)
                  .Help(help)
                  .Register(*registry)
                  .Add({});
    };
    m.records = gauge("aims_collector_label_records",
                      "Join records of predictions awaiting or holding a "
                      "delayed label.");
    m.bytes = gauge("aims_collector_label_bytes",
                    "Bytes of the label join's records, ids and pending "
                    "labels (bounded by --label_join_max_bytes).");
    m.pending = gauge("aims_collector_label_pending",
                      "Labels waiting for their prediction's join record.");
    m.dirty = gauge("aims_collector_label_windows_dirty",
                    "Windows whose label report awaits recomputation.");
    m.joins = counter("aims_collector_label_joins_total",
                      "Delayed labels joined to their prediction.");
    m.corrections = counter("aims_collector_label_corrections_total",
                            "Labels that replaced an earlier label of the "
                            "same prediction.");
    m.repeated = counter("aims_collector_label_repeated_total",
                         "Labels received again with the same value "
                         "(counted once).");
    m.stale = counter("aims_collector_label_stale_total",
                      "Labels older (by their timestamp) than the label in "
                      "force for their prediction: not applied.");
    auto& evictions =
        prometheus::BuildCounter()
            .Name("aims_collector_label_evictions_total")
            .Help(
                "Predictions evicted from the join without a label, by "
                "reason (ttl: --label_ttl, bytes: --label_join_max_bytes).")
            .Register(*registry);
    m.evicted_ttl = &evictions.Add({{"reason", "ttl"}});
    m.evicted_bytes = &evictions.Add({{"reason", "bytes"}});
    auto& unmatched =
        prometheus::BuildCounter()
            .Name("aims_collector_label_unmatched_total")
            .Help(
                "Pending labels dropped before their prediction arrived, "
                "by reason (ttl: not within --label_ttl, bytes: the "
                "oldest, dropped to stay within --label_join_max_bytes).")
            .Register(*registry);
    m.unmatched_ttl = &unmatched.Add({{"reason", "ttl"}});
    m.unmatched_bytes = &unmatched.Add({{"reason", "bytes"}});
    m.reports = counter("aims_collector_label_reports_written_total",
                        "Label reports (re)written for changed windows.");
    m.ignored = counter("aims_collector_label_records_ignored_total",
                        "Join records refused: an invalid or already known "
                        "prediction_id, or a window past --label_ttl.");
  }
  absl::MutexLock lock(&join->mu_);
  if (absl::Status s = join->Load(); !s.ok()) return s;
  return join;
}

LabelJoin::~LabelJoin() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status LabelJoin::Load() {
  uint64_t records = 0, bytes = 0, pending = 0;
  absl::flat_hash_map<std::string, std::string> ids;
  absl::Status s = storage_->Scan(
      Table::kLabelIds, "", [&](absl::string_view key, absl::string_view) {
        bytes += key.size();
        return true;
      });
  if (s.ok()) {
    s = storage_->Scan(Table::kLabelRecords, "",
                       [&](absl::string_view key, absl::string_view value) {
                         ++records;
                         bytes += 2 * key.size() + value.size();
                         return true;
                       });
  }
  if (s.ok()) {
    s = storage_->Scan(Table::kLabelPending, "",
                       [&](absl::string_view key, absl::string_view value) {
                         ++pending;
                         bytes += key.size() + value.size();
                         return true;
                       });
  }
  // Collected first: the scan's callback is not seen holding mu_.
  std::vector<std::string> dirty;
  if (s.ok()) {
    s = storage_->Scan(Table::kLabelDirty, "",
                       [&](absl::string_view key, absl::string_view) {
                         dirty.emplace_back(key);
                         return true;
                       });
  }
  if (!s.ok()) return s;
  for (std::string& key : dirty) dirty_[std::move(key)] = ++generation_;
  counts_.records = records;
  counts_.bytes = bytes;
  counts_.pending = pending;
  PublishLocked();
  return absl::OkStatus();
}

absl::Status LabelJoin::StageLabel(const std::string& model_key,
                                   const v1::LabelEvent& in, absl::Time now,
                                   Staged* staged) {
  v1::LabelEvent label = in;
  if (!label.has_timestamp()) *label.mutable_timestamp() = ToProto(now);
  const std::string id_key = model_key + label.prediction_id();
  absl::StatusOr<std::optional<std::string>> record_key =
      Lookup<std::string>(*storage_, Table::kLabelIds, id_key, staged->ids);
  if (!record_key.ok()) return record_key.status();
  if (record_key->has_value()) {
    absl::StatusOr<std::optional<v1::JoinRecord>> record =
        Lookup<v1::JoinRecord>(*storage_, Table::kLabelRecords, **record_key,
                               staged->records);
    if (!record.ok()) return record.status();
    if (record->has_value()) {
      v1::JoinRecord& r = **record;
      if (r.has_label() && SameOutcome(r.label().label(), label.label())) {
        ++staged->delta.repeated;
        return absl::OkStatus();
      }
      if (r.has_label() && Older(label, r.label())) {
        ++staged->delta.stale;
        return absl::OkStatus();
      }
      ++(r.has_label() ? staged->delta.corrections : staged->delta.joins);
      const size_t old_bytes = r.ByteSizeLong();
      *r.mutable_label() = label;
      *r.mutable_labelled_at() = ToProto(now);
      std::string value = r.SerializeAsString();
      staged->bytes +=
          static_cast<int64_t>(value.size()) - static_cast<int64_t>(old_bytes);
      staged->records[**record_key] = value;
      staged->mutations.push_back(
          {Table::kLabelRecords, **record_key, std::move(value)});
      v1::ModelRef model;
      absl::Time start;
      size_t window_bytes = 0;
      if (ParseWindowKey(**record_key, &model, &start, &window_bytes)) {
        std::string window = record_key->value().substr(0, window_bytes);
        staged->mutations.push_back({Table::kLabelDirty, window, ""});
        staged->dirty.push_back(std::move(window));
      }
      return absl::OkStatus();
    }
  }
  // No record yet: the label waits for it.
  absl::StatusOr<std::optional<v1::PendingLabel>> pending =
      Lookup<v1::PendingLabel>(*storage_, Table::kLabelPending, id_key,
                               staged->pending);
  if (!pending.ok()) return pending.status();
  if (pending->has_value()) {
    if (SameOutcome((*pending)->label().label(), label.label())) {
      ++staged->delta.repeated;
      return absl::OkStatus();
    }
    if (Older(label, (*pending)->label())) {
      ++staged->delta.stale;
      return absl::OkStatus();
    }
    ++staged->delta.corrections;
    staged->bytes -= static_cast<int64_t>((*pending)->ByteSizeLong());
  } else {
    ++staged->pending_added;
    staged->bytes += static_cast<int64_t>(id_key.size());
  }
  v1::PendingLabel p;
  *p.mutable_label() = std::move(label);
  *p.mutable_received_at() = ToProto(now);
  std::string value = p.SerializeAsString();
  staged->bytes += static_cast<int64_t>(value.size());
  staged->pending[id_key] = value;
  staged->mutations.push_back({Table::kLabelPending, id_key, std::move(value)});
  return absl::OkStatus();
}

absl::Status LabelJoin::StageReport(const EncodedReport& report,
                                    const Carried& carried,
                                    const v1::ModelRef& model, absl::Time now,
                                    bool labels_follow, Staged* staged) {
  const std::string model_key = ModelKey(model.name(), model.environment());
  const absl::Time start = FromProto(report.window_start);
  const std::string window = WindowKey(model, start);
  // Past the TTL the window's records are gone (its report final).
  const bool expired = start + options_.ttl < now;
  // The ids of the records, those not staged already read together.
  std::vector<std::string> id_keys;
  std::vector<std::string> to_read;
  id_keys.reserve(carried.predictions.size());
  for (const CarriedPrediction& p : carried.predictions) {
    if (p.id.empty() || p.id.size() > kMaxPredictionIdBytes || expired) {
      id_keys.emplace_back();
      continue;
    }
    id_keys.push_back(absl::StrCat(model_key, p.id));
    if (!staged->ids.contains(id_keys.back()))
      to_read.push_back(id_keys.back());
  }
  absl::StatusOr<std::vector<std::optional<std::string>>> read =
      storage_->GetMany(Table::kLabelIds, to_read);
  if (!read.ok()) return read.status();
  absl::flat_hash_set<absl::string_view> stored;
  for (size_t i = 0; i < to_read.size(); ++i) {
    if ((*read)[i].has_value()) stored.insert(to_read[i]);
  }
  // A record is stored as its prediction's bytes as received, followed by
  // the report's version and window (and the label, if one waited): the
  // wire form of a JoinRecord, without parsing and serializing each.
  v1::JoinRecord suffix_fields;
  suffix_fields.set_version(model.version());
  *suffix_fields.mutable_window_start() = report.window_start;
  *suffix_fields.mutable_window_end() = report.window_end;
  const std::string suffix = suffix_fields.SerializeAsString();
  // No label waits at all (a backfill of predictions): nothing to look up.
  const bool none_pending = counts_.pending == 0 && staged->pending.empty();
  bool dirty = false;
  for (size_t i = 0; i < carried.predictions.size(); ++i) {
    const std::string& id_key = id_keys[i];
    if (id_key.empty()) {
      ++staged->delta.records_ignored;
      continue;
    }
    auto known = staged->ids.find(id_key);
    if ((known != staged->ids.end() && known->second.has_value()) ||
        (known == staged->ids.end() && stored.contains(id_key))) {
      ++staged->delta.records_ignored;
      continue;
    }
    const CarriedPrediction& p = carried.predictions[i];
    const std::string record_key = absl::StrCat(window, p.id);
    std::string value;
    value.reserve(p.bytes.size() + suffix.size() + 8);
    AppendLengthDelimited(v1::JoinRecord::kPredictionFieldNumber, p.bytes,
                          &value);
    value += suffix;
    absl::StatusOr<std::optional<v1::PendingLabel>> pending;
    if (none_pending) {
      pending = std::optional<v1::PendingLabel>();
    } else {
      pending = Lookup<v1::PendingLabel>(*storage_, Table::kLabelPending,
                                         id_key, staged->pending);
    }
    if (!pending.ok()) return pending.status();
    if (pending->has_value()) {
      v1::JoinRecord joined;
      *joined.mutable_label() = (*pending)->label();
      *joined.mutable_labelled_at() = (*pending)->received_at();
      joined.AppendToString(&value);
      ++staged->delta.joins;
      --staged->pending_added;
      staged->bytes -=
          static_cast<int64_t>(id_key.size() + (*pending)->ByteSizeLong());
      staged->mutations.push_back({Table::kLabelPending, id_key, std::nullopt});
      staged->pending[id_key] = std::nullopt;
      dirty = true;
    }
    staged->bytes += static_cast<int64_t>(
        RecordBytes(record_key.size(), value.size(), id_key.size()));
    ++staged->records_added;
    staged->ids[id_key] = record_key;
    staged->mutations.push_back({Table::kLabelIds, id_key, record_key});
    // Only a label of this batch would look the record up.
    if (labels_follow) staged->records[record_key] = value;
    staged->mutations.push_back(
        {Table::kLabelRecords, record_key, std::move(value)});
  }
  if (dirty) {
    staged->mutations.push_back({Table::kLabelDirty, window, ""});
    staged->dirty.push_back(window);
  }
  for (const v1::LabelEvent& label : carried.labels) {
    if (label.prediction_id().empty() ||
        label.prediction_id().size() > kMaxPredictionIdBytes ||
        label.label().value_case() == v1::Outcome::VALUE_NOT_SET) {
      continue;  // the agent validated it; never expected
    }
    if (absl::Status s = StageLabel(model_key, label, now, staged); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

void LabelJoin::Commit(const Staged& staged) {
  counts_.records += staged.records_added;
  counts_.pending += staged.pending_added;
  counts_.bytes = static_cast<uint64_t>(
      std::max<int64_t>(0, static_cast<int64_t>(counts_.bytes) + staged.bytes));
  counts_.joins += staged.delta.joins;
  counts_.corrections += staged.delta.corrections;
  counts_.repeated += staged.delta.repeated;
  counts_.stale += staged.delta.stale;
  counts_.records_ignored += staged.delta.records_ignored;
  for (const std::string& w : staged.dirty) dirty_[w] = ++generation_;
  Metrics& m = *metrics_;
  if (m.joins != nullptr) {
    m.joins->Increment(static_cast<double>(staged.delta.joins));
    m.corrections->Increment(static_cast<double>(staged.delta.corrections));
    m.repeated->Increment(static_cast<double>(staged.delta.repeated));
    m.stale->Increment(static_cast<double>(staged.delta.stale));
    m.ignored->Increment(static_cast<double>(staged.delta.records_ignored));
  }
  PublishLocked();
}

void LabelJoin::PublishLocked() {
  counts_.dirty_windows = dirty_.size();
  Metrics& m = *metrics_;
  if (m.records == nullptr) return;
  m.records->Set(static_cast<double>(counts_.records));
  m.bytes->Set(static_cast<double>(counts_.bytes));
  m.pending->Set(static_cast<double>(counts_.pending));
  m.dirty->Set(static_cast<double>(counts_.dirty_windows));
}

absl::Status LabelJoin::WriteReports(absl::Span<EncodedReport* const> reports,
                                     absl::Time now,
                                     std::vector<WriteOutcome>* outcomes) {
  std::vector<const EncodedReport*> view(reports.begin(), reports.end());
  bool carries = false;
  for (const EncodedReport* r : reports) carries |= !r->label_bytes.empty();
  if (!carries) return storage_->WriteEncodedReports(view, now, outcomes);
  std::vector<Carried> carried(reports.size());
  bool labels_follow = false;
  for (size_t i = 0; i < reports.size(); ++i) {
    if (!ReadCarried(reports[i]->label_bytes, &carried[i])) {
      return absl::DataLossError("label join: unparsable report labels");
    }
    labels_follow |= !carried[i].labels.empty();
  }
  absl::MutexLock lock(&mu_);
  Staged staged;
  std::vector<Staged> per_report(reports.size());
  for (size_t i = 0; i < reports.size(); ++i) {
    EncodedReport& r = *reports[i];
    if (r.label_bytes.empty()) continue;
    std::optional<v1::ModelRef> model = storage_->AgentModel(r.agent_id);
    if (!model.has_value()) continue;  // storage refuses the report
    staged.Reset();
    if (absl::Status s =
            StageReport(r, carried[i], *model, now, labels_follow, &staged);
        !s.ok()) {
      return s;
    }
    r.on_store = std::move(staged.mutations);
    per_report[i].delta = staged.delta;
    per_report[i].bytes = staged.bytes;
    per_report[i].records_added = staged.records_added;
    per_report[i].pending_added = staged.pending_added;
    per_report[i].dirty = std::move(staged.dirty);
  }
  absl::Status s = storage_->WriteEncodedReports(view, now, outcomes);
  if (!s.ok()) return s;
  for (size_t i = 0; i < reports.size(); ++i) {
    if ((*outcomes)[i] == WriteOutcome::kStored) Commit(per_report[i]);
  }
  return absl::OkStatus();
}

absl::Status LabelJoin::Submit(const v1::ModelRef& model,
                               const std::vector<LabelEvent>& labels,
                               absl::Time now) {
  const std::string model_key = ModelKey(model.name(), model.environment());
  absl::MutexLock lock(&mu_);
  Staged staged;
  for (const LabelEvent& l : labels) {
    v1::LabelEvent label;
    label.set_prediction_id(l.prediction_id);
    OutcomeToProto(l.label, label.mutable_label());
    if (l.timestamp != absl::InfinitePast()) {
      *label.mutable_timestamp() = ToProto(l.timestamp);
    }
    if (absl::Status s = StageLabel(model_key, label, now, &staged); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = storage_->Apply(staged.mutations); !s.ok()) return s;
  Commit(staged);
  return absl::OkStatus();
}

absl::Status LabelJoin::FlushWindow(const std::string& window_key, bool evict) {
  v1::ModelRef model;
  absl::Time start;
  size_t window_bytes = 0;
  if (!ParseWindowKey(window_key, &model, &start, &window_bytes)) {
    return storage_->Apply({{Table::kLabelDirty, window_key, std::nullopt}});
  }
  std::vector<std::string> keys;
  std::vector<v1::JoinRecord> records;
  uint64_t bytes = 0;
  absl::Status scan =
      storage_->Scan(Table::kLabelRecords, window_key,
                     [&](absl::string_view key, absl::string_view value) {
                       if (!absl::StartsWith(key, window_key)) return false;
                       keys.emplace_back(key);
                       records.emplace_back();
                       bytes += 2 * key.size() + value.size();
                       return records.back().ParseFromArray(
                           value.data(), static_cast<int>(value.size()));
                     });
  if (!scan.ok()) return scan;
  std::vector<Mutation> mutations = {
      {Table::kLabelDirty, window_key, std::nullopt}};
  if (records.empty()) {
    // Nothing to credit (a window evicted before): its report stays.
    if (absl::Status s = storage_->Apply(mutations); !s.ok()) return s;
    dirty_.erase(window_key);
    return absl::OkStatus();
  }
  const std::string model_key = ModelKey(model.name(), model.environment());
  for (const v1::JoinRecord& r : records) {
    bytes += model_key.size() + r.prediction().prediction_id().size();
  }
  std::vector<const v1::JoinRecord*> labelled, fresh, all;
  uint64_t unlabelled = 0;
  int64_t rewritten_bytes = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    v1::JoinRecord& r = records[i];
    all.push_back(&r);
    if (!r.has_label()) {
      ++unlabelled;
      continue;
    }
    labelled.push_back(&r);
    if (!r.has_credited()) fresh.push_back(&r);
    if (!evict &&
        !(r.has_credited() && SameOutcome(r.credited(), r.label().label()))) {
      const int64_t old_size = static_cast<int64_t>(r.ByteSizeLong());
      *r.mutable_credited() = r.label().label();
      mutations.push_back(
          {Table::kLabelRecords, keys[i], r.SerializeAsString()});
      rewritten_bytes +=
          static_cast<int64_t>(mutations.back().value->size()) - old_size;
    }
  }
  if (evict) {
    for (size_t i = 0; i < records.size(); ++i) {
      mutations.push_back({Table::kLabelRecords, keys[i], std::nullopt});
      mutations.push_back({Table::kLabelIds,
                           model_key + records[i].prediction().prediction_id(),
                           std::nullopt});
    }
  }
  absl::StatusOr<v1::ReferenceProfile> profile = storage_->GetProfile(model);
  std::shared_ptr<const v1::ReferenceProfile> shared;
  if (profile.ok()) {
    shared = std::make_shared<v1::ReferenceProfile>(std::move(*profile));
  }
  const uint64_t evicted = evict ? unlabelled : 0;
  v1::WindowReport report;
  report.set_agent_id(kLabelReportAgent);
  *report.mutable_window_start() = records.front().window_start();
  *report.mutable_window_end() = records.front().window_end();
  *report.mutable_summary() = FoldLabelReport(labelled, all, shared, evicted);
  const v1::WindowSummary delta = FoldLabelReport(fresh, all, shared, evicted);
  EncodedReport encoded = EncodeReport(report);
  absl::StatusOr<WriteOutcome> written =
      storage_->PutLabelReport(model, encoded, delta, mutations);
  if (!written.ok()) return written.status();
  dirty_.erase(window_key);
  if (options_.on_credit) {
    options_.on_credit(model, FromProto(report.window_start()),
                       FromProto(report.window_end()));
  }
  counts_.windows_written += 1;
  if (metrics_->reports != nullptr) metrics_->reports->Increment();
  counts_.bytes = static_cast<uint64_t>(std::max<int64_t>(
      0, static_cast<int64_t>(counts_.bytes) + rewritten_bytes));
  if (evict) {
    counts_.records -= std::min<uint64_t>(counts_.records, records.size());
    counts_.bytes -= std::min(counts_.bytes, bytes);
    counts_.evicted += evicted;
  }
  return absl::OkStatus();
}

absl::StatusOr<int> LabelJoin::Flush(size_t max_windows) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> windows;
  for (const auto& [key, generation] : dirty_) {
    if (windows.size() >= max_windows) break;
    windows.push_back(key);
  }
  int written = 0;
  for (const std::string& w : windows) {
    if (absl::Status s = FlushWindow(w, /*evict=*/false); !s.ok()) {
      PublishLocked();
      return s;
    }
    ++written;
  }
  PublishLocked();
  return written;
}

void LabelJoin::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void LabelJoin::Loop() {
  absl::Time next_expiry = clock_->Now();
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      const absl::Condition stop(&stopping_);
      if (clock_->AwaitWithDeadline(&mu_, stop,
                                    clock_->Now() + options_.flush_interval)) {
        break;
      }
    }
    if (absl::StatusOr<int> n = Flush(); !n.ok()) {
      LogWarn("label join: flush failed", {{"error", n.status().message()}});
    }
    if (clock_->Now() >= next_expiry) {
      next_expiry = clock_->Now() + options_.expire_interval;
      if (absl::StatusOr<int> n = Expire(clock_->Now()); !n.ok()) {
        LogWarn("label join: expiry failed", {{"error", n.status().message()}});
      }
    }
  }
  // A last flush, so that a clean stop leaves no window to recompute.
  (void)Flush();
}

LabelJoinCounts LabelJoin::counts() const {
  absl::MutexLock lock(&mu_);
  LabelJoinCounts c = counts_;
  c.dirty_windows = dirty_.size();
  return c;
}

}  // namespace aims::collector
