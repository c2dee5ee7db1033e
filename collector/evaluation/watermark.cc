#include "collector/evaluation/watermark.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

// The agent's longest --window.
constexpr absl::Duration kLongestAgentWindow = absl::Hours(1);

// An agent's full windows are aligned to multiples of their length since
// the Unix epoch; its first and last (shutdown) windows may be shorter.
bool FullWindow(absl::Time start, absl::Time end) {
  const absl::Duration length = end - start;
  if (length <= absl::ZeroDuration()) return false;
  return (start - absl::UnixEpoch()) % length == absl::ZeroDuration() &&
         (end - absl::UnixEpoch()) % length == absl::ZeroDuration();
}

}  // namespace

absl::StatusOr<Watermarks::Mark> Watermarks::Advance(
    const v1::ModelRef& model, absl::Time now, absl::Duration silent_after) {
  absl::MutexLock lock(&mu_);
  const std::string key = absl::StrCat(model.name(), "/", model.version(), "/",
                                       model.environment());
  Model& m = models_[key];
  if (!m.scanned) m.cursor = now - silent_after - kLongestAgentWindow;
  absl::Status read = storage_->ScanReportHeaders(
      model, m.cursor, now + kLongestAgentWindow,
      [&](const StoredReport& stored) {
        const v1::WindowReport& r = stored.report;
        const absl::Time start = FromProto(r.window_start());
        const absl::Time end = FromProto(r.window_end());
        Agent& agent = m.agents[r.agent_id()];
        agent.end = std::max(agent.end, end);
        if (FullWindow(start, end)) agent.window = end - start;
        return true;
      });
  if (!read.ok()) return read;
  m.scanned = true;
  v1::ModelSelector exactly;
  exactly.set_name(model.name());
  exactly.set_version(model.version());
  exactly.set_environment(model.environment());
  absl::Time least = absl::InfiniteFuture();
  absl::Duration longest = absl::ZeroDuration();
  for (const v1::AgentInfo& info : storage_->ListAgents(exactly)) {
    // Left agents (deregistered, replaced, expired) hold nothing back.
    if (FromProto(info.last_seen()) < now - silent_after ||
        info.has_left_at()) {
      continue;
    }
    auto it = m.agents.find(info.agent().agent_id());
    if (it == m.agents.end()) continue;  // nothing delivered yet
    least = std::min(least, it->second.end);
    longest = std::max(longest, it->second.window);
  }
  // New reports of the live agents start at or after their progress.
  m.cursor = std::min(least, now);
  m.mark = std::max(m.mark, std::min(least, now));
  {
    absl::MutexLock marks(&marks_mu_);
    marks_[key] = m.mark;
  }
  return Mark{m.mark, longest};
}

absl::Time Watermarks::Current(const v1::ModelRef& model) const {
  absl::MutexLock lock(&marks_mu_);
  auto it = marks_.find(absl::StrCat(model.name(), "/", model.version(), "/",
                                     model.environment()));
  return it == marks_.end() ? absl::InfinitePast() : it->second;
}

}  // namespace aims::collector
