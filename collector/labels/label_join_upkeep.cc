// LabelJoin's upkeep: the label TTL and the byte bound (Expire), and a
// window's records as a report carried them, for a copy to a peer
// collector (CarriedBytes).
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "collector/labels/label_join.h"
#include "collector/labels/label_join_internal.h"
#include "collector/storage/wire_filter.h"
#include "common/base/time_util.h"

namespace aims::collector {

absl::Status LabelJoin::ExpirePending(absl::Time now) {
  struct Entry {
    absl::Time received;
    std::string key;
    uint64_t bytes;
  };
  // The unexpired ones only when the bound may need them.
  const bool over_bound = counts_.bytes > options_.max_bytes;
  std::vector<Entry> kept;
  std::vector<Mutation> expired;
  uint64_t expired_bytes = 0;
  absl::Status s = storage_->Scan(
      Table::kLabelPending, "",
      [&](absl::string_view key, absl::string_view value) {
        v1::PendingLabel p;
        if (!p.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          return true;
        }
        const absl::Time received = FromProto(p.received_at());
        if (received + options_.ttl < now) {
          expired.push_back(
              {Table::kLabelPending, std::string(key), std::nullopt});
          expired_bytes += key.size() + value.size();
        } else if (over_bound) {
          kept.push_back(
              {received, std::string(key), key.size() + value.size()});
        }
        return true;
      });
  if (!s.ok()) return s;
  // Over the bound after the TTL: the oldest pending labels go before any
  // prediction's record (a label with no prediction yet is the cheaper
  // loss, and a flood of them must not evict real predictions).
  std::vector<Mutation> over;
  uint64_t over_bytes = 0;
  const uint64_t remaining =
      counts_.bytes - std::min(counts_.bytes, expired_bytes);
  if (remaining > options_.max_bytes) {
    std::sort(kept.begin(), kept.end(), [](const Entry& a, const Entry& b) {
      return a.received < b.received;
    });
    for (const Entry& e : kept) {
      if (remaining - over_bytes <= options_.max_bytes) break;
      over.push_back({Table::kLabelPending, e.key, std::nullopt});
      over_bytes += e.bytes;
    }
  }
  // Each drop written, then counted (no lambda: the lock annotations must
  // see counts_ written under mu_).
  const struct {
    const std::vector<Mutation>* dropped;
    uint64_t bytes;
    prometheus::Counter* counter;
  } drops[] = {{&expired, expired_bytes, metrics_->unmatched_ttl},
               {&over, over_bytes, metrics_->unmatched_bytes}};
  for (const auto& d : drops) {
    if (d.dropped->empty()) continue;
    if (absl::Status w = storage_->Apply(*d.dropped); !w.ok()) return w;
    const uint64_t n = d.dropped->size();
    counts_.pending -= std::min<uint64_t>(counts_.pending, n);
    counts_.bytes -= std::min(counts_.bytes, d.bytes);
    counts_.unmatched += n;
    if (d.dropped == &over) counts_.pending_evicted += n;
    if (d.counter != nullptr) d.counter->Increment(static_cast<double>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> LabelJoin::Expire(absl::Time now) {
  absl::MutexLock lock(&mu_);
  // Pending labels past the TTL (their prediction never came), then the
  // oldest while over the byte bound.
  if (absl::Status s = ExpirePending(now); !s.ok()) {
    PublishLocked();
    return s;
  }
  // Windows by start: those past the TTL, then the oldest while over the
  // byte bound.
  std::vector<std::pair<absl::Time, std::string>> windows;
  std::string last;
  absl::Status s = storage_->Scan(
      Table::kLabelRecords, "", [&](absl::string_view key, absl::string_view) {
        v1::ModelRef model;
        absl::Time start;
        size_t n = 0;
        if (!ParseWindowKey(key, &model, &start, &n)) {
          return true;
        }
        if (key.substr(0, n) != last) {
          last = std::string(key.substr(0, n));
          windows.emplace_back(start, last);
        }
        return true;
      });
  if (!s.ok()) return s;
  std::sort(windows.begin(), windows.end());
  int evicted_windows = 0;
  for (const auto& [start, key] : windows) {
    const bool expired = start + options_.ttl < now;
    const bool over = counts_.bytes > options_.max_bytes;
    if (!expired && !over) break;
    const uint64_t before = counts_.evicted;
    if (absl::Status f = FlushWindow(key, /*evict=*/true); !f.ok()) {
      PublishLocked();
      return f;
    }
    ++evicted_windows;
    prometheus::Counter* c =
        expired ? metrics_->evicted_ttl : metrics_->evicted_bytes;
    if (c != nullptr)
      c->Increment(static_cast<double>(counts_.evicted - before));
  }
  PublishLocked();
  return evicted_windows;
}

absl::StatusOr<std::string> LabelJoin::CarriedBytes(const v1::ModelRef& model,
                                                    absl::Time start) const {
  const std::string window = WindowKey(model, start);
  std::string out;
  bool parsed = true;
  absl::Status scan = storage_->Scan(
      Table::kLabelRecords, window,
      [&](absl::string_view key, absl::string_view value) {
        if (!absl::StartsWith(key, window)) return false;
        v1::JoinRecord r;
        parsed = r.ParseFromArray(value.data(), static_cast<int>(value.size()));
        if (!parsed) return false;
        AppendLengthDelimited(v1::WindowReport::kPredictionsFieldNumber,
                              r.prediction().SerializeAsString(), &out);
        if (r.has_label()) {
          AppendLengthDelimited(v1::WindowReport::kLabelsFieldNumber,
                                r.label().SerializeAsString(), &out);
        }
        return true;
      });
  if (!scan.ok()) return scan;
  if (!parsed) {
    return absl::DataLossError("label join: unparsable join record");
  }
  return out;
}

}  // namespace aims::collector
