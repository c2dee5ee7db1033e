#include "agent/intake_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace aims::agent {
namespace {

constexpr size_t kHeader = 4 + 4 + 1 + 8;  // length, crc, kind, arrival

void PutLittle(uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i)
    out->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetLittle(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

uint32_t Crc(absl::string_view bytes) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()),
            static_cast<uInt>(bytes.size())));
}

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat("intake log: ", what, " ", path,
                                             ": ", std::strerror(errno)));
}

// "<ms>.log" (generation 0) or "<ms>.<generation>.log".
bool ParseSegmentName(absl::string_view name, int64_t* ms,
                      uint64_t* generation) {
  if (!absl::ConsumeSuffix(&name, ".log")) return false;
  *generation = 0;
  const size_t dot = name.find('.');
  if (dot != absl::string_view::npos) {
    if (!absl::SimpleAtoi(name.substr(dot + 1), generation)) return false;
    name = name.substr(0, dot);
  }
  return absl::SimpleAtoi(name, ms);
}

std::string EncodeRecord(IntakeRecord::Kind kind, absl::Time arrival,
                         absl::string_view payload) {
  std::string record;
  record.reserve(kHeader + payload.size());
  PutLittle(kHeader - 4 + payload.size(), 4, &record);  // from crc on
  PutLittle(0, 4, &record);                             // crc, below
  record.push_back(static_cast<char>(kind));
  PutLittle(static_cast<uint64_t>(absl::ToUnixMicros(arrival)), 8, &record);
  record.append(payload.data(), payload.size());
  const uint32_t crc = Crc(absl::string_view(record).substr(8));
  for (int i = 0; i < 4; ++i) record[4 + i] = static_cast<char>(crc >> (8 * i));
  return record;
}

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  std::string bytes;
  char buf[1 << 16];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return Errno("cannot read", path);
    }
    bytes.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return bytes;
}

// Appends the whole records of `bytes` to `records`; a checkpoint record
// replaces what is there. Stops at the first torn record.
void ParseRecords(absl::string_view bytes, std::vector<IntakeRecord>* records) {
  size_t at = 0;
  while (bytes.size() - at >= kHeader) {
    const uint64_t length = GetLittle(bytes.data() + at, 4);
    if (length < kHeader - 4 || bytes.size() - at - 4 < length) break;
    const absl::string_view body = bytes.substr(at + 8, length - 4);
    if (Crc(body) != GetLittle(bytes.data() + at + 4, 4)) break;
    IntakeRecord r;
    r.kind = static_cast<IntakeRecord::Kind>(body[0]);
    r.arrival = absl::FromUnixMicros(
        static_cast<int64_t>(GetLittle(body.data() + 1, 8)));
    r.payload = std::string(body.substr(9));
    if (r.kind == IntakeRecord::Kind::kCheckpoint ||
        r.kind == IntakeRecord::Kind::kCheckpointReport) {
      records->clear();
    }
    records->push_back(std::move(r));
    at += 4 + length;
  }
}

}  // namespace

IntakeLog::IntakeLog(std::string dir, uint64_t max_bytes)
    : dir_(std::move(dir)), max_bytes_(max_bytes) {}

IntakeLog::~IntakeLog() {
  absl::MutexLock lock(&mu_);
  for (auto& [start, segment] : segments_) {
    if (segment.fd >= 0) close(segment.fd);
  }
}

absl::StatusOr<std::unique_ptr<IntakeLog>> IntakeLog::Open(std::string dir,
                                                           uint64_t max_bytes) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Errno("cannot create", dir);
  }
  std::unique_ptr<IntakeLog> log(new IntakeLog(std::move(dir), max_bytes));
  DIR* d = opendir(log->dir_.c_str());
  if (d == nullptr) return Errno("cannot read", log->dir_);
  absl::MutexLock lock(&log->mu_);
  while (dirent* e = readdir(d)) {
    int64_t ms = 0;
    uint64_t generation = 0;
    if (!ParseSegmentName(e->d_name, &ms, &generation)) continue;
    struct stat st;
    const std::string path = absl::StrCat(log->dir_, "/", e->d_name);
    if (stat(path.c_str(), &st) != 0) continue;
    Segment& s = log->segments_[absl::FromUnixMillis(ms)];
    s.generations[generation] = static_cast<uint64_t>(st.st_size);
    s.bytes += static_cast<uint64_t>(st.st_size);
    log->bytes_ += static_cast<uint64_t>(st.st_size);
  }
  closedir(d);
  return log;
}

std::string IntakeLog::PathOf(absl::Time window_start,
                              uint64_t generation) const {
  const int64_t ms = absl::ToUnixMillis(window_start);
  if (generation == 0) return absl::StrCat(dir_, "/", ms, ".log");
  return absl::StrCat(dir_, "/", ms, ".", generation, ".log");
}

absl::Status IntakeLog::RoomLocked(size_t record_bytes) const {
  if (bytes_ + record_bytes <= max_bytes_) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("intake log: ", bytes_,
                   " bytes of accepted events not yet spooled, "
                   "limit ",
                   max_bytes_, " (--intake_log_max_bytes); retry later"));
}

absl::Status IntakeLog::CheckRoom(size_t payload_bytes) const {
  absl::MutexLock lock(&mu_);
  return RoomLocked(kHeader + payload_bytes);
}

absl::Status IntakeLog::WriteLocked(absl::Time window_start, Segment& segment,
                                    absl::string_view record) {
  if (segment.generations.empty()) segment.generations[0] = 0;
  const uint64_t generation = segment.generations.rbegin()->first;
  const std::string path = PathOf(window_start, generation);
  if (segment.fd < 0) {
    segment.fd =
        open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (segment.fd < 0) return Errno("cannot open", path);
  }
  // One write(2): the record is in the kernel when it returns, whatever
  // happens to this process next.
  size_t done = 0;
  while (done < record.size()) {
    const ssize_t n =
        write(segment.fd, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("cannot append to", path);
    done += static_cast<size_t>(n);
  }
  segment.generations.rbegin()->second += record.size();
  segment.bytes += record.size();
  bytes_ += record.size();
  return absl::OkStatus();
}

absl::Status IntakeLog::Append(absl::Time window_start, IntakeRecord::Kind kind,
                               absl::Time arrival, absl::string_view payload) {
  const std::string record = EncodeRecord(kind, arrival, payload);
  absl::MutexLock lock(&mu_);
  if (absl::Status room = RoomLocked(record.size()); !room.ok()) return room;
  return WriteLocked(window_start, segments_[window_start], record);
}

absl::Status IntakeLog::Checkpoint(absl::Time window_start, absl::Time now,
                                   absl::string_view report) {
  const std::string record =
      EncodeRecord(IntakeRecord::Kind::kCheckpointReport, now, report);
  absl::MutexLock lock(&mu_);
  Segment& segment = segments_[window_start];
  const std::map<uint64_t, uint64_t> older = segment.generations;
  const uint64_t next = older.empty() ? 1 : older.rbegin()->first + 1;
  if (segment.fd >= 0) close(segment.fd);
  segment.fd = -1;
  segment.generations[next] = 0;
  if (absl::Status s = WriteLocked(window_start, segment, record); !s.ok()) {
    // The older generations still hold every record: drop the new one.
    if (segment.fd >= 0) close(segment.fd);
    segment.fd = -1;
    unlink(PathOf(window_start, next).c_str());
    segment.bytes -= segment.generations[next];
    bytes_ -= segment.generations[next];
    segment.generations.erase(next);
    return s;
  }
  for (const auto& [generation, bytes] : older) {
    unlink(PathOf(window_start, generation).c_str());
    segment.generations.erase(generation);
    segment.bytes -= bytes;
    bytes_ -= bytes;
  }
  return absl::OkStatus();
}

void IntakeLog::Trim(absl::Time end) {
  absl::MutexLock lock(&mu_);
  for (auto it = segments_.begin(); it != segments_.end() && it->first < end;) {
    it = DeleteLocked(it);
  }
}

void IntakeLog::Drop(absl::Time window_start) {
  absl::MutexLock lock(&mu_);
  if (auto it = segments_.find(window_start); it != segments_.end()) {
    DeleteLocked(it);
  }
}

std::map<absl::Time, IntakeLog::Segment>::iterator IntakeLog::DeleteLocked(
    std::map<absl::Time, Segment>::iterator it) {
  if (it->second.fd >= 0) close(it->second.fd);
  for (const auto& [generation, bytes] : it->second.generations) {
    unlink(PathOf(it->first, generation).c_str());
  }
  bytes_ -= it->second.bytes;
  return segments_.erase(it);
}

std::vector<absl::Time> IntakeLog::Segments() const {
  absl::MutexLock lock(&mu_);
  std::vector<absl::Time> out;
  for (const auto& [start, segment] : segments_) out.push_back(start);
  return out;
}

absl::StatusOr<std::vector<IntakeRecord>> IntakeLog::Read(
    absl::Time window_start) const {
  std::vector<uint64_t> generations;
  {
    absl::MutexLock lock(&mu_);
    auto it = segments_.find(window_start);
    if (it == segments_.end()) return std::vector<IntakeRecord>();
    for (const auto& [generation, bytes] : it->second.generations) {
      generations.push_back(generation);
    }
  }
  std::vector<IntakeRecord> records;
  for (uint64_t generation : generations) {
    const std::string path = PathOf(window_start, generation);
    absl::StatusOr<std::string> bytes = ReadWhole(path);
    if (!bytes.ok()) return bytes.status();
    // A checkpoint holds everything before it.
    ParseRecords(*bytes, &records);
  }
  return records;
}

uint64_t IntakeLog::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

uint64_t IntakeLog::SegmentBytes(absl::Time window_start) const {
  absl::MutexLock lock(&mu_);
  auto it = segments_.find(window_start);
  return it == segments_.end() ? 0 : it->second.bytes;
}

}  // namespace aims::agent
