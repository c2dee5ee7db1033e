#include "agent/spool.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace aims::agent {
namespace {

constexpr char kReportPrefix = 'r';
constexpr char kLastSequenceKey[] = "m:last_sequence";
constexpr char kAgentIdKey[] = "m:agent_id";

std::string ReportKey(uint64_t seq) {
  std::string key(1, kReportPrefix);
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((seq >> shift) & 0xff));
  }
  return key;
}

uint64_t SeqOf(const rocksdb::Slice& key) {
  uint64_t v = 0;
  for (int i = 1; i <= 8; ++i) v = (v << 8) | static_cast<uint8_t>(key[i]);
  return v;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat("spool ", what, ": ", s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  return absl::UnavailableError(msg);
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

}  // namespace

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("--data_dir ", dir, ": cannot create: ", ec.message()));
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  // A sidecar: keep RocksDB's footprint small.
  options.write_buffer_size = 4 << 20;
  options.max_write_buffer_number = 2;
  options.max_background_jobs = 1;
  options.keep_log_file_num = 2;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir + "/spool", &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open ", dir, "/spool"));
  std::unique_ptr<Spool> spool(new Spool());
  spool->db_.reset(raw);
  if (absl::Status st = spool->Load(); !st.ok()) return st;
  return spool;
}

Spool::~Spool() {
  if (db_) db_->Close();
}

absl::Status Spool::Load() {
  absl::MutexLock lock(&mu_);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kLastSequenceKey, &value);
  if (s.ok() && value.size() == 9) last_sequence_ = SeqOf(value);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  bool first = true;
  for (it->Seek(std::string(1, kReportPrefix));
       it->Valid() && it->key()[0] == kReportPrefix; it->Next()) {
    if (first) {
      first_pending_ = SeqOf(it->key());
      first = false;
    }
    ++pending_reports_;
    pending_bytes_ += it->value().size();
  }
  if (first) first_pending_ = last_sequence_ + 1;
  return FromRocks(it->status(), "scan");
}

absl::StatusOr<std::string> Spool::AgentId(const std::string& configured) {
  std::string stored;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kAgentIdKey, &stored);
  if (!s.ok() && !s.IsNotFound()) return FromRocks(s, "read agent id");
  if (s.ok() && (configured.empty() || configured == stored)) return stored;
  const std::string id = configured.empty() ? NewUuid() : configured;
  if (absl::Status st = FromRocks(db_->Put(Durable(), kAgentIdKey, id),
                                  "write agent id");
      !st.ok()) {
    return st;
  }
  return id;
}

absl::StatusOr<uint64_t> Spool::Append(v1::WindowReport report) {
  absl::MutexLock lock(&mu_);
  const uint64_t seq = last_sequence_ + 1;
  report.set_sequence(seq);
  const std::string bytes = report.SerializeAsString();
  rocksdb::WriteBatch batch;
  batch.Put(ReportKey(seq), bytes);
  batch.Put(kLastSequenceKey, ReportKey(seq));
  if (absl::Status s = FromRocks(db_->Write(Durable(), &batch), "append");
      !s.ok()) {
    return s;
  }
  last_sequence_ = seq;
  ++pending_reports_;
  pending_bytes_ += bytes.size();
  return seq;
}

absl::StatusOr<std::vector<v1::WindowReport>> Spool::ReadAfter(
    uint64_t after, size_t max) const {
  std::vector<v1::WindowReport> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ReportKey(after + 1));
       it->Valid() && it->key()[0] == kReportPrefix && out.size() < max;
       it->Next()) {
    v1::WindowReport r;
    if (!r.ParseFromArray(it->value().data(), it->value().size())) {
      return absl::DataLossError(
          absl::StrCat("spool: unreadable report ", SeqOf(it->key())));
    }
    out.push_back(std::move(r));
  }
  if (absl::Status s = FromRocks(it->status(), "read"); !s.ok()) return s;
  return out;
}

absl::Status Spool::AckThrough(uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  if (sequence < first_pending_) return absl::OkStatus();
  // Count what goes, then delete the range in one durable write.
  uint64_t bytes = 0;
  size_t reports = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(ReportKey(first_pending_));
       it->Valid() && it->key()[0] == kReportPrefix && SeqOf(it->key()) <= sequence;
       it->Next()) {
    bytes += it->value().size();
    ++reports;
  }
  if (reports > 0) {
    rocksdb::WriteBatch batch;
    batch.DeleteRange(ReportKey(first_pending_), ReportKey(sequence + 1));
    if (absl::Status s = FromRocks(db_->Write(Durable(), &batch), "ack");
        !s.ok()) {
      return s;
    }
  }
  first_pending_ = sequence + 1;
  pending_reports_ -= reports;
  pending_bytes_ -= bytes;
  return absl::OkStatus();
}

absl::Status Spool::Remove(uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ReportKey(sequence), &value);
  if (s.IsNotFound()) return absl::OkStatus();
  if (!s.ok()) return FromRocks(s, "remove");
  if (absl::Status st =
          FromRocks(db_->Delete(Durable(), ReportKey(sequence)), "remove");
      !st.ok()) {
    return st;
  }
  --pending_reports_;
  pending_bytes_ -= value.size();
  return absl::OkStatus();
}

size_t Spool::pending_reports() const {
  absl::MutexLock lock(&mu_);
  return pending_reports_;
}

uint64_t Spool::pending_bytes() const {
  absl::MutexLock lock(&mu_);
  return pending_bytes_;
}

uint64_t Spool::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

}  // namespace aims::agent
