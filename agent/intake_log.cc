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
    absl::string_view name = e->d_name;
    int64_t ms = 0;
    if (!absl::ConsumeSuffix(&name, ".log") || !absl::SimpleAtoi(name, &ms)) {
      continue;
    }
    struct stat st;
    const std::string path = absl::StrCat(log->dir_, "/", e->d_name);
    if (stat(path.c_str(), &st) != 0) continue;
    Segment& s = log->segments_[absl::FromUnixMillis(ms)];
    s.bytes = static_cast<uint64_t>(st.st_size);
    log->bytes_ += s.bytes;
  }
  closedir(d);
  return log;
}

std::string IntakeLog::PathOf(absl::Time window_start) const {
  return absl::StrCat(dir_, "/", absl::ToUnixMillis(window_start), ".log");
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

absl::Status IntakeLog::Append(absl::Time window_start, IntakeRecord::Kind kind,
                               absl::Time arrival, absl::string_view payload) {
  std::string record;
  record.reserve(kHeader + payload.size());
  PutLittle(kHeader - 4 + payload.size(), 4, &record);  // from crc on
  PutLittle(0, 4, &record);                             // crc, below
  record.push_back(static_cast<char>(kind));
  PutLittle(static_cast<uint64_t>(absl::ToUnixMicros(arrival)), 8, &record);
  record.append(payload.data(), payload.size());
  const uint32_t crc = Crc(absl::string_view(record).substr(8));
  for (int i = 0; i < 4; ++i) record[4 + i] = static_cast<char>(crc >> (8 * i));

  absl::MutexLock lock(&mu_);
  if (absl::Status room = RoomLocked(record.size()); !room.ok()) return room;
  Segment& segment = segments_[window_start];
  if (segment.fd < 0) {
    const std::string path = PathOf(window_start);
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
    if (n <= 0) return Errno("cannot append to", PathOf(window_start));
    done += static_cast<size_t>(n);
  }
  segment.bytes += record.size();
  bytes_ += record.size();
  return absl::OkStatus();
}

void IntakeLog::Trim(absl::Time end) {
  absl::MutexLock lock(&mu_);
  for (auto it = segments_.begin(); it != segments_.end() && it->first < end;) {
    if (it->second.fd >= 0) close(it->second.fd);
    unlink(PathOf(it->first).c_str());
    bytes_ -= it->second.bytes;
    it = segments_.erase(it);
  }
}

std::vector<absl::Time> IntakeLog::Segments() const {
  absl::MutexLock lock(&mu_);
  std::vector<absl::Time> out;
  for (const auto& [start, segment] : segments_) out.push_back(start);
  return out;
}

absl::StatusOr<std::vector<IntakeRecord>> IntakeLog::Read(
    absl::Time window_start) const {
  const std::string path = PathOf(window_start);
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
  std::vector<IntakeRecord> records;
  size_t at = 0;
  while (bytes.size() - at >= kHeader) {
    const uint64_t length = GetLittle(bytes.data() + at, 4);
    if (length < kHeader - 4 || bytes.size() - at - 4 < length) break;
    const absl::string_view body(bytes.data() + at + 8, length - 4);
    if (Crc(body) != GetLittle(bytes.data() + at + 4, 4)) break;
    IntakeRecord r;
    r.kind = static_cast<IntakeRecord::Kind>(body[0]);
    r.arrival = absl::FromUnixMicros(
        static_cast<int64_t>(GetLittle(body.data() + 1, 8)));
    r.payload = std::string(body.substr(9));
    records.push_back(std::move(r));
    at += 4 + length;
  }
  return records;
}

uint64_t IntakeLog::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace aims::agent
