#include "collector/evaluation/catch_up.h"

#include <algorithm>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/log.h"

namespace aims::collector {
namespace {

constexpr absl::string_view kPrefix = "catch_up\x1f";

void Merge(std::vector<CatchUpQueue::Span>* spans) {
  std::sort(spans->begin(), spans->end(),
            [](const auto& a, const auto& b) { return a.from < b.from; });
  std::vector<CatchUpQueue::Span> out;
  for (const CatchUpQueue::Span& s : *spans) {
    if (!out.empty() && s.from <= out.back().to) {
      out.back().to = std::max(out.back().to, s.to);
      out.back().backfilled |= s.backfilled;
    } else {
      out.push_back(s);
    }
  }
  // Bounded: the two closest spans become one (more is judged again,
  // nothing is left out).
  while (out.size() > CatchUpQueue::kMaxSpans) {
    size_t best = 0;
    absl::Duration gap = absl::InfiniteDuration();
    for (size_t i = 0; i + 1 < out.size(); ++i) {
      if (out[i + 1].from - out[i].to < gap) {
        gap = out[i + 1].from - out[i].to;
        best = i;
      }
    }
    out[best].to = out[best + 1].to;
    out[best].backfilled |= out[best + 1].backfilled;
    out.erase(out.begin() + static_cast<ptrdiff_t>(best) + 1);
  }
  *spans = std::move(out);
}

}  // namespace

std::string CatchUpQueue::Key(const v1::ModelRef& model) {
  return absl::StrCat(kPrefix, model.name(), "\x1f", model.version(), "\x1f",
                      model.environment());
}

std::string CatchUpQueue::Encode(const Queue& queue) {
  std::string out;
  for (const Span& s : queue.spans) {
    absl::StrAppend(&out, absl::ToUnixMillis(s.from), " ",
                    absl::ToUnixMillis(s.to), " ", s.backfilled ? 1 : 0, "\n");
  }
  return out;
}

bool CatchUpQueue::Decode(const std::string& text, Queue* queue) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    int64_t from = 0, to = 0;
    int backfilled = 0;
    if (f.size() != 3 || !absl::SimpleAtoi(f[0], &from) ||
        !absl::SimpleAtoi(f[1], &to) || !absl::SimpleAtoi(f[2], &backfilled)) {
      return false;
    }
    queue->spans.push_back({absl::FromUnixMillis(from),
                            absl::FromUnixMillis(to), backfilled != 0});
  }
  return true;
}

absl::Status CatchUpQueue::Load() {
  std::map<std::string, Queue> loaded;
  absl::Status s = storage_->Scan(
      Table::kMeta, kPrefix, [&](absl::string_view key, absl::string_view v) {
        if (!absl::StartsWith(key, kPrefix)) return false;
        std::vector<std::string> parts =
            absl::StrSplit(key.substr(kPrefix.size()), '\x1f');
        Queue q;
        if (parts.size() != 3 || !Decode(std::string(v), &q)) {
          LogWarn("catch-up queue record cannot be read; dropped",
                  {{"key", absl::CHexEscape(key)}});
          return true;
        }
        q.model.set_name(parts[0]);
        q.model.set_version(parts[1]);
        q.model.set_environment(parts[2]);
        loaded[std::string(key)] = std::move(q);
        return true;
      });
  if (!s.ok()) return s;
  absl::MutexLock lock(&mu_);
  queues_ = std::move(loaded);
  return absl::OkStatus();
}

void CatchUpQueue::MarkDirty(const std::string& key) { dirty_.insert(key); }

void CatchUpQueue::Note(const v1::ModelRef& model, absl::Time from,
                        absl::Time to, WindowOrigin origin) {
  if (to <= from) return;
  const std::string key = Key(model);
  absl::MutexLock lock(&mu_);
  Queue& q = queues_[key];
  if (q.spans.empty()) q.model = model;
  q.spans.push_back({from, to, origin == WindowOrigin::kBackfill});
  Merge(&q.spans);
  MarkDirty(key);
}

absl::Status CatchUpQueue::Persist() {
  std::vector<Mutation> mutations;
  std::set<std::string> written;
  {
    absl::MutexLock lock(&mu_);
    if (dirty_.empty()) return absl::OkStatus();
    for (const std::string& key : dirty_) {
      auto it = queues_.find(key);
      if (it == queues_.end() || it->second.spans.empty()) {
        mutations.push_back({Table::kMeta, key, std::nullopt});
      } else {
        mutations.push_back({Table::kMeta, key, Encode(it->second)});
      }
    }
    written.swap(dirty_);
  }
  absl::Status s = storage_->Apply(mutations);
  if (!s.ok()) {
    // Written again next time.
    absl::MutexLock lock(&mu_);
    dirty_.insert(written.begin(), written.end());
  }
  return s;
}

std::vector<v1::ModelRef> CatchUpQueue::Models() const {
  std::vector<v1::ModelRef> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [key, q] : queues_) {
    if (!q.spans.empty()) out.push_back(q.model);
  }
  return out;
}

std::optional<CatchUpQueue::Span> CatchUpQueue::Next(const v1::ModelRef& model,
                                                     absl::Time oldest,
                                                     absl::Time until,
                                                     absl::Duration max_length,
                                                     int* dropped) {
  *dropped = 0;
  const std::string key = Key(model);
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(key);
  if (it == queues_.end()) return std::nullopt;
  std::vector<Span>& spans = it->second.spans;
  while (!spans.empty() && spans.front().to <= oldest) {
    spans.erase(spans.begin());
    ++*dropped;
    MarkDirty(key);
  }
  if (spans.empty()) return std::nullopt;
  Span next = spans.front();
  if (next.from < oldest) {
    next.from = oldest;
    ++*dropped;
  }
  if (next.from >= until) return std::nullopt;  // waits for the watermark
  next.to = std::min({next.to, until, next.from + max_length});
  return next;
}

void CatchUpQueue::Done(const v1::ModelRef& model, const Span& span) {
  const std::string key = Key(model);
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(key);
  if (it == queues_.end()) return;
  std::vector<Span> rest;
  for (const Span& s : it->second.spans) {
    if (s.to <= span.from || s.from >= span.to) {
      rest.push_back(s);
      continue;
    }
    if (s.from < span.from) rest.push_back({s.from, span.from, s.backfilled});
    if (s.to > span.to) rest.push_back({span.to, s.to, s.backfilled});
  }
  it->second.spans = std::move(rest);
  MarkDirty(key);
}

void CatchUpQueue::Clear(const v1::ModelRef& model) {
  const std::string key = Key(model);
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(key);
  if (it == queues_.end() || it->second.spans.empty()) return;
  it->second.spans.clear();
  MarkDirty(key);
}

}  // namespace aims::collector
