#include "agent/label_store.h"

#include <algorithm>
#include <filesystem>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "aims/v1/event.pb.h"
#include "common/base/time_util.h"
#include "common/rocks/keys.h"
#include "common/rocks/resuming_write.h"
#include "common/rocks/rocksdb_logger.h"
#include "common/rocks/rocksdb_status.h"
#include "common/rocks/slice.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace aims::agent {
namespace {

// "p" + prediction_id -> InferenceEvent (prediction, score, attributes,
// timestamp = arrival). "t" + arrival nanos + prediction_id -> "" orders
// entries for expiry and eviction. The nanos are stored unsigned (as they
// always were, common/rocks/keys.h), which sorts them because arrival times
// on the agent's clock are after 1970.
std::string PredictionKey(absl::string_view id) {
  return absl::StrCat("p", id);
}

std::string OrderKey(absl::Time at, absl::string_view id) {
  std::string key = "t";
  AppendUint64BigEndian(static_cast<uint64_t>(absl::ToUnixNanos(at)), &key);
  key.append(id.data(), id.size());
  return key;
}

absl::Time OrderTime(const rocksdb::Slice& key) {
  return absl::FromUnixNanos(
      static_cast<int64_t>(ReadUint64BigEndian(ToStringView(key), 1)));
}

void ToOutcome(const Outcome& in, v1::Outcome* out) {
  if (in.kind == Outcome::Kind::kClass) out->set_class_label(in.class_label);
  if (in.kind == Outcome::Kind::kNumber) out->set_number(in.number);
}

Outcome FromOutcome(const v1::Outcome& in) {
  Outcome out;
  if (in.value_case() == v1::Outcome::kClassLabel) {
    out.kind = Outcome::Kind::kClass;
    out.class_label = in.class_label();
  } else if (in.value_case() == v1::Outcome::kNumber) {
    out.kind = Outcome::Kind::kNumber;
    out.number = in.number();
  }
  return out;
}

}  // namespace

std::string EncodeJoinedLabels(const std::vector<JoinedLabel>& labels) {
  v1::SubmitEventsRequest out;
  for (const JoinedLabel& j : labels) {
    v1::InferenceEvent* e = out.add_events();
    e->set_prediction_id(j.event.prediction_id);
    ToOutcome(j.event.prediction, e->mutable_prediction());
    ToOutcome(j.event.label, e->mutable_label());
    if (j.event.score) e->set_score(*j.event.score);
    for (const auto& [k, v] : j.event.attributes)
      (*e->mutable_attributes())[k] = v;
    *e->mutable_timestamp() = ToProto(j.predicted_at);
  }
  return out.SerializeAsString();
}

absl::StatusOr<std::vector<JoinedLabel>> DecodeJoinedLabels(
    absl::string_view bytes, absl::Time labelled_at) {
  v1::SubmitEventsRequest in;
  if (!in.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("joined labels: unreadable record");
  }
  std::vector<JoinedLabel> out;
  for (const v1::InferenceEvent& e : in.events()) {
    JoinedLabel j;
    j.event.prediction_id = e.prediction_id();
    j.event.prediction = FromOutcome(e.prediction());
    j.event.label = FromOutcome(e.label());
    if (e.has_score()) j.event.score = e.score();
    for (const auto& [k, v] : e.attributes())
      j.event.attributes.emplace_back(k, v);
    std::sort(j.event.attributes.begin(), j.event.attributes.end());
    j.predicted_at = FromProto(e.timestamp());
    j.labelled_at = labelled_at;
    out.push_back(std::move(j));
  }
  return out;
}

LabelStore::LabelStore(LabelStoreOptions options)
    : options_(std::move(options)) {}

LabelStore::~LabelStore() {
  if (db_) db_->Close();
}

absl::StatusOr<std::unique_ptr<LabelStore>> LabelStore::Open(
    const LabelStoreOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.write_buffer_size = 4 << 20;
  db_options.max_write_buffer_number = 2;
  db_options.max_background_jobs = 1;
  // No preallocated WAL: a full disk then fails the next write, which
  // the agent retries, instead of a later one after megabytes (tested in
  // DeliveryTest.AgentDiskFullRecoversByItself).
  db_options.allow_fallocate = false;
  db_options.info_log = NewRocksDbLogger("label_store");
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.dir + "/labels", &raw);
  if (!s.ok()) {
    return FromRocksDbStatus(
        s, absl::StrCat("label store open ", options.dir, "/labels"));
  }
  std::unique_ptr<LabelStore> store(new LabelStore(options));
  store->db_.reset(raw);
  if (absl::Status st = store->Load(); !st.ok()) return st;
  return store;
}

absl::Status LabelStore::Load() {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("p"); it->Valid() && it->key().starts_with("p"); it->Next())
    ++size_;
  return FromRocksDbStatus(it->status(), "label store scan");
}

absl::StatusOr<uint64_t> LabelStore::EvictLocked(size_t keep_below,
                                                 absl::Time cutoff) {
  uint64_t evicted = 0;
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("t"); it->Valid() && it->key().starts_with("t"); it->Next()) {
    const bool too_many = size_ - evicted > keep_below;
    const absl::Time at = OrderTime(it->key());
    if (!too_many && at >= cutoff) break;
    const std::string id = it->key().ToString().substr(1 + kEncodedUint64Bytes);
    batch.Delete(it->key());
    // The prediction may have been replaced (same id, later arrival): only
    // an entry that this order key describes counts as evicted.
    std::string value;
    if (db_->Get(rocksdb::ReadOptions(), PredictionKey(id), &value).ok()) {
      v1::InferenceEvent stored;
      if (stored.ParseFromString(value) &&
          FromProto(stored.timestamp()) == at) {
        batch.Delete(PredictionKey(id));
        ++evicted;
      }
    }
  }
  if (batch.Count() == 0) return 0;
  if (absl::Status s = WriteResuming(db_.get(), rocksdb::WriteOptions(), &batch,
                                     "label store evict");
      !s.ok()) {
    return s;
  }
  size_ -= evicted;
  return evicted;
}

absl::StatusOr<LabelStore::Remembered> LabelStore::Remember(
    const std::vector<Event>& events, absl::Time arrived) {
  absl::MutexLock lock(&mu_);
  Remembered out;
  rocksdb::WriteBatch batch;
  size_t added = 0;
  absl::flat_hash_set<absl::string_view> seen;
  std::string existing;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (e.prediction_id.empty()) continue;
    const bool waiting = !seen.insert(e.prediction_id).second ||
                         db_->Get(rocksdb::ReadOptions(),
                                  PredictionKey(e.prediction_id), &existing)
                             .ok();
    if (waiting) {
      out.duplicates.push_back(i);
      continue;
    }
    if (e.label.present()) continue;
    v1::InferenceEvent stored;
    ToOutcome(e.prediction, stored.mutable_prediction());
    if (e.score) stored.set_score(*e.score);
    for (const auto& [k, v] : e.attributes)
      (*stored.mutable_attributes())[k] = v;
    *stored.mutable_timestamp() = ToProto(arrived);
    batch.Put(PredictionKey(e.prediction_id), stored.SerializeAsString());
    batch.Put(OrderKey(arrived, e.prediction_id), "");
    ++added;
  }
  if (batch.Count() == 0) return out;
  if (absl::Status s = WriteResuming(db_.get(), rocksdb::WriteOptions(), &batch,
                                     "label store write");
      !s.ok()) {
    return s;
  }
  size_ += added;
  if (size_ <= options_.max_entries) return out;
  absl::StatusOr<uint64_t> evicted =
      EvictLocked(options_.max_entries, absl::InfinitePast());
  if (!evicted.ok()) return evicted.status();
  out.evicted = *evicted;
  return out;
}

absl::Status LabelStore::Join(const std::vector<LabelEvent>& labels,
                              absl::Time now, std::vector<JoinedLabel>* joined,
                              uint64_t* unmatched) {
  absl::MutexLock lock(&mu_);
  *unmatched = 0;
  rocksdb::WriteBatch batch;
  absl::flat_hash_set<std::string> seen;  // a batch may repeat an id
  for (const LabelEvent& label : labels) {
    if (!seen.insert(label.prediction_id).second) {
      ++*unmatched;
      continue;
    }
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(),
                                 PredictionKey(label.prediction_id), &value);
    v1::InferenceEvent stored;
    if (s.IsNotFound() || (s.ok() && !stored.ParseFromString(value))) {
      ++*unmatched;
      continue;
    }
    if (!s.ok()) return FromRocksDbStatus(s, "label store read");
    JoinedLabel j;
    j.predicted_at = FromProto(stored.timestamp());
    // Both ends on the agent's clock: model servers' clocks may differ.
    j.labelled_at = now;
    j.event.prediction_id = label.prediction_id;
    j.event.prediction = FromOutcome(stored.prediction());
    if (stored.has_score()) j.event.score = stored.score();
    for (const auto& [k, v] : stored.attributes())
      j.event.attributes.emplace_back(k, v);
    std::sort(j.event.attributes.begin(), j.event.attributes.end());
    j.event.label = label.label;
    batch.Delete(PredictionKey(label.prediction_id));
    batch.Delete(OrderKey(j.predicted_at, label.prediction_id));
    joined->push_back(std::move(j));
    --size_;
  }
  if (batch.Count() == 0) return absl::OkStatus();
  return WriteResuming(db_.get(), rocksdb::WriteOptions(), &batch,
                       "label store join");
}

absl::StatusOr<uint64_t> LabelStore::Expire(absl::Time now) {
  absl::MutexLock lock(&mu_);
  return EvictLocked(options_.max_entries, now - options_.ttl);
}

size_t LabelStore::size() const {
  absl::MutexLock lock(&mu_);
  return size_;
}

}  // namespace aims::agent
