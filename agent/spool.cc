#include "agent/spool.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
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

// Items: 'r' + first sequence (big-endian, common/rocks/keys.h) ->
// serialized IngestRequest holding either a report or a gap.
constexpr char kItemPrefix = 'r';
constexpr char kLastSequenceKey[] = "m:last_sequence";
// End of the newest window appended (sortable milliseconds), written with
// it: the agent's intake log replays only windows after it.
constexpr char kLastWindowEndKey[] = "m:last_window_end";
constexpr char kLastSegmentKey[] = "m:last_segment";
constexpr char kAgentIdKey[] = "m:agent_id";
constexpr char kProfileKey[] = "m:profile";

std::string ItemKey(uint64_t seq) {
  std::string key(1, kItemPrefix);
  AppendUint64BigEndian(seq, &key);
  return key;
}

// The sequence of an item key (or of the stored last sequence).
uint64_t SeqOf(absl::string_view key) { return ReadUint64BigEndian(key, 1); }

bool IsItem(const rocksdb::Slice& key) {
  return key.size() == 1 + kEncodedUint64Bytes && key[0] == kItemPrefix;
}

rocksdb::WriteOptions Durable() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return wo;
}

std::string NewUuid() {
  std::ifstream in("/proc/sys/kernel/random/uuid");
  std::string uuid;
  std::getline(in, uuid);
  return uuid.empty() ? absl::StrCat("agent-", ::getpid()) : uuid;
}

// Bytes a stored item counts against the bound: reports only.
uint64_t ReportBytes(const v1::IngestRequest& item, size_t stored_size) {
  return item.has_report() ? stored_size : 0;
}

v1::GapNotice GapFor(const v1::WindowReport& r, absl::string_view reason) {
  v1::GapNotice gap;
  gap.set_agent_id(r.agent_id());
  gap.set_first_sequence(r.sequence());
  gap.set_last_sequence(r.sequence());
  *gap.mutable_window_start() = r.window_start();
  *gap.mutable_window_end() = r.window_end();
  gap.set_reason(std::string(reason));
  gap.set_event_count(r.summary().operational().event_count());
  return gap;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(
    const SpoolOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--data_dir ", options.dir, ": cannot create: ", ec.message()));
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  // A sidecar: keep RocksDB's footprint small.
  db_options.write_buffer_size = 4 << 20;
  db_options.max_write_buffer_number = 2;
  db_options.max_background_jobs = 1;
  // No preallocated WAL: a full disk then fails the next write, which
  // the agent retries, instead of a later one after megabytes (tested in
  // DeliveryTest.AgentDiskFullRecoversByItself).
  db_options.allow_fallocate = false;
  db_options.info_log = NewRocksDbLogger("spool");
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.dir + "/spool", &raw);
  if (!s.ok()) {
    return FromRocksDbStatus(
        s, absl::StrCat("spool open ", options.dir, "/spool"));
  }
  std::unique_ptr<Spool> spool(new Spool(options));
  spool->db_.reset(raw);
  if (absl::Status st = spool->Load(); !st.ok()) return st;
  return spool;
}

Spool::Spool(SpoolOptions options) : options_(std::move(options)) {}

Spool::~Spool() {
  if (db_) db_->Close();
}

absl::Status Spool::Load() {
  absl::MutexLock lock(&mu_);
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), kLastSequenceKey, &value);
  if (s.ok() && value.size() == 9) last_sequence_ = SeqOf(value);
  s = db_->Get(rocksdb::ReadOptions(), kLastWindowEndKey, &value);
  if (s.ok() && value.size() == 8) last_window_end_ = ReadSortableMillis(value);
  s = db_->Get(rocksdb::ReadOptions(), kLastSegmentKey, &value);
  if (s.ok() && value.size() == 8) last_segment_ = ReadSortableMillis(value);
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ItemKey(0)); it->Valid() && IsItem(it->key()); it->Next()) {
    v1::IngestRequest item;
    if (!item.ParseFromArray(it->value().data(), it->value().size())) {
      return absl::DataLossError(absl::StrCat("spool: unreadable item ",
                                              SeqOf(ToStringView(it->key()))));
    }
    if (item.has_report()) {
      ++pending_reports_;
      pending_bytes_ += it->value().size();
    } else {
      ++pending_gaps_;
    }
  }
  return FromRocksDbStatus(it->status(), "spool scan");
}

absl::StatusOr<std::string> Spool::AgentId(const std::string& configured) {
  std::string stored;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kAgentIdKey, &stored);
  if (!s.ok() && !s.IsNotFound()) {
    return FromRocksDbStatus(s, "spool read agent id");
  }
  if (s.ok() && (configured.empty() || configured == stored)) return stored;
  const std::string id = configured.empty() ? NewUuid() : configured;
  if (absl::Status st = FromRocksDbStatus(db_->Put(Durable(), kAgentIdKey, id),
                                          "spool write agent id");
      !st.ok()) {
    return st;
  }
  return id;
}

absl::Status Spool::SaveProfile(const v1::ReferenceProfile& profile) {
  // Under the lock like every other write, so that writes from the sender's
  // and the tick loop's threads are ordered where ThreadSanitizer sees it
  // (RocksDB's own group commit is invisible to it).
  absl::MutexLock lock(&mu_);
  rocksdb::WriteBatch batch;
  batch.Put(kProfileKey, profile.SerializeAsString());
  return WriteResuming(db_.get(), Durable(), &batch, "spool save profile");
}

absl::StatusOr<v1::ReferenceProfile> Spool::LoadProfile() const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kProfileKey, &value);
  if (s.IsNotFound()) return absl::NotFoundError("no profile saved");
  if (!s.ok()) return FromRocksDbStatus(s, "spool load profile");
  v1::ReferenceProfile profile;
  if (!profile.ParseFromString(value)) {
    return absl::DataLossError("spool: unreadable profile");
  }
  return profile;
}

absl::StatusOr<uint64_t> Spool::MakeRoomLocked(uint64_t needed) {
  uint64_t dropped = 0;
  rocksdb::WriteBatch batch;
  uint64_t freed = 0;
  size_t reports = 0;
  // The gap grows from the first dropped report; an existing gap record at
  // the head absorbs reports that directly follow it.
  std::optional<v1::GapNotice> gap;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ItemKey(0));
       it->Valid() && IsItem(it->key()) &&
       pending_bytes_ - freed + needed > options_.max_bytes;
       it->Next()) {
    v1::IngestRequest item;
    if (!item.ParseFromArray(it->value().data(), it->value().size())) {
      return absl::DataLossError("spool: unreadable item");
    }
    if (item.has_gap()) {
      if (!gap) {
        gap = item.gap();
        batch.Delete(it->key());
        --pending_gaps_;
      } else if (gap->last_sequence() + 1 == item.gap().first_sequence()) {
        gap->set_last_sequence(item.gap().last_sequence());
        *gap->mutable_window_end() = item.gap().window_end();
        gap->set_event_count(gap->event_count() + item.gap().event_count());
        batch.Delete(it->key());
        --pending_gaps_;
      } else {
        break;  // keep gaps contiguous; the next Append continues
      }
      continue;
    }
    const v1::WindowReport& r = item.report();
    if (gap && gap->last_sequence() + 1 == r.sequence()) {
      gap->set_last_sequence(r.sequence());
      *gap->mutable_window_end() = r.window_end();
      gap->set_event_count(gap->event_count() +
                           r.summary().operational().event_count());
    } else if (!gap) {
      gap = GapFor(r, "spool_full");
    } else {
      break;
    }
    batch.Delete(it->key());
    freed += it->value().size();
    ++reports;
    ++dropped;
  }
  if (!gap) return 0;
  v1::IngestRequest gap_item;
  *gap_item.mutable_gap() = *gap;
  batch.Put(ItemKey(gap->first_sequence()), gap_item.SerializeAsString());
  if (absl::Status s =
          WriteResuming(db_.get(), Durable(), &batch, "spool drop");
      !s.ok()) {
    return s;
  }
  ++pending_gaps_;
  pending_reports_ -= reports;
  pending_bytes_ -= freed;
  return dropped;
}

absl::StatusOr<Spool::AppendResult> Spool::Append(v1::WindowReport report,
                                                  absl::Time segment) {
  absl::MutexLock lock(&mu_);
  AppendResult result;
  result.sequence = last_sequence_ + 1;
  report.set_sequence(result.sequence);
  v1::IngestRequest item;
  *item.mutable_report() = std::move(report);
  std::string bytes = item.SerializeAsString();
  const bool fits = pending_bytes_ + bytes.size() <= options_.max_bytes;
  bool store_report = true;
  if (!fits) {
    if (options_.policy == SpoolOptions::FullPolicy::kDropOldest &&
        bytes.size() <= options_.max_bytes) {
      absl::StatusOr<uint64_t> dropped = MakeRoomLocked(bytes.size());
      if (!dropped.ok()) return dropped.status();
      result.dropped_windows = *dropped;
      store_report = pending_bytes_ + bytes.size() <= options_.max_bytes;
    } else {
      store_report = false;
    }
  }
  if (!store_report) {
    // Record the new window as lost instead.
    v1::IngestRequest gap;
    *gap.mutable_gap() = GapFor(item.report(), "spool_full");
    bytes = gap.SerializeAsString();
    result.dropped_windows += 1;
  }
  rocksdb::WriteBatch batch;
  batch.Put(ItemKey(result.sequence), bytes);
  batch.Put(kLastSequenceKey, ItemKey(result.sequence));
  const absl::Time window_end = FromProto(item.report().window_end());
  // The newest end: a late report of an earlier window does not lower it.
  std::string end_key;
  AppendSortableMillis(std::max(last_window_end_, window_end), &end_key);
  batch.Put(kLastWindowEndKey, end_key);
  if (segment != absl::InfinitePast()) {
    std::string segment_key;
    AppendSortableMillis(segment, &segment_key);
    batch.Put(kLastSegmentKey, segment_key);
  }
  if (absl::Status s =
          WriteResuming(db_.get(), Durable(), &batch, "spool append");
      !s.ok()) {
    return s;
  }
  last_sequence_ = result.sequence;
  last_window_end_ = std::max(last_window_end_, window_end);
  if (segment != absl::InfinitePast()) last_segment_ = segment;
  if (store_report) {
    ++pending_reports_;
    pending_bytes_ += bytes.size();
  } else {
    ++pending_gaps_;
  }
  dropped_windows_ += result.dropped_windows;
  return result;
}

absl::StatusOr<std::vector<v1::IngestRequest>> Spool::ReadAfter(
    uint64_t after, size_t max) const {
  std::vector<v1::IngestRequest> out;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ItemKey(after + 1));
       it->Valid() && IsItem(it->key()) && out.size() < max; it->Next()) {
    v1::IngestRequest item;
    if (!item.ParseFromArray(it->value().data(), it->value().size())) {
      return absl::DataLossError(absl::StrCat("spool: unreadable item ",
                                              SeqOf(ToStringView(it->key()))));
    }
    out.push_back(std::move(item));
  }
  if (absl::Status s = FromRocksDbStatus(it->status(), "spool read"); !s.ok()) {
    return s;
  }
  return out;
}

absl::Status Spool::AckThrough(uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  uint64_t bytes = 0;
  size_t reports = 0, gaps = 0;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ItemKey(0)); it->Valid() && IsItem(it->key()) &&
                             SeqOf(ToStringView(it->key())) <= sequence;
       it->Next()) {
    v1::IngestRequest item;
    if (item.ParseFromArray(it->value().data(), it->value().size()) &&
        item.has_gap()) {
      ++gaps;
    } else {
      ++reports;
      bytes += it->value().size();
    }
  }
  if (reports + gaps == 0) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  batch.DeleteRange(ItemKey(0), ItemKey(sequence + 1));
  if (absl::Status s = WriteResuming(db_.get(), Durable(), &batch, "spool ack");
      !s.ok()) {
    return s;
  }
  pending_reports_ -= reports;
  pending_gaps_ -= gaps;
  pending_bytes_ -= bytes;
  return absl::OkStatus();
}

absl::Status Spool::Remove(uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), ItemKey(sequence), &value);
  if (s.IsNotFound()) return absl::OkStatus();
  if (!s.ok()) return FromRocksDbStatus(s, "spool remove");
  rocksdb::WriteBatch batch;
  batch.Delete(ItemKey(sequence));
  if (absl::Status st =
          WriteResuming(db_.get(), Durable(), &batch, "spool remove");
      !st.ok()) {
    return st;
  }
  v1::IngestRequest item;
  if (item.ParseFromString(value) && item.has_gap()) {
    --pending_gaps_;
  } else {
    --pending_reports_;
    pending_bytes_ -= ReportBytes(item, value.size());
  }
  return absl::OkStatus();
}

size_t Spool::pending_reports() const {
  absl::MutexLock lock(&mu_);
  return pending_reports_;
}

size_t Spool::pending_gaps() const {
  absl::MutexLock lock(&mu_);
  return pending_gaps_;
}

uint64_t Spool::pending_bytes() const {
  absl::MutexLock lock(&mu_);
  return pending_bytes_;
}

absl::Time Spool::last_segment() const {
  absl::MutexLock lock(&mu_);
  return last_segment_;
}

absl::Time Spool::last_window_end() const {
  absl::MutexLock lock(&mu_);
  return last_window_end_;
}

uint64_t Spool::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

uint64_t Spool::dropped_windows() const {
  absl::MutexLock lock(&mu_);
  return dropped_windows_;
}

}  // namespace aims::agent
