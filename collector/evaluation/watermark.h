// Watermarks: per model, the time up to which every live agent of the model
// has delivered its windows, so that the evaluator judges complete windows
// only (docs/monitoring-plan.md, "Evaluation").
//
// An agent's progress is the latest end of the windows it has delivered
// (an agent sends its windows in order). A model's watermark is the least
// progress among its live agents: those seen (AgentInfo.last_seen) within
// `silent_after`. An agent silent for longer no longer holds the watermark
// back (the coverage objectives report it), nor does one that has delivered
// nothing yet; with no agent holding it, the watermark is `now`. It never
// passes `now` and never moves back: data delivered behind it (an agent
// back from a long silence, late events and labels, a backfill) is judged
// by catch-up instead (catch_up.h).
//
// Agents do not send empty windows: an agent without traffic holds its
// model's watermark back until it has been silent for `silent_after`.
//
// Storage keeps no agent's last window end, so a tracker reads it from the
// stored reports: at first those whose window started within `silent_after`
// plus the longest agent window (1 h) before now, then only those starting
// at or after the least progress of the live agents (normally each agent's
// newest report).
//
// Thread-safety: safe (one mutex); the evaluator calls it from its pass.
#ifndef AIMS_COLLECTOR_EVALUATION_WATERMARK_H_
#define AIMS_COLLECTOR_EVALUATION_WATERMARK_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aims/v1/query.pb.h"
#include "collector/storage/storage.h"

namespace aims::collector {

class Watermarks {
 public:
  explicit Watermarks(const Storage* storage) : storage_(storage) {}

  struct Mark {
    // Windows ending at or before it are complete.
    absl::Time end;
    // The longest agent window among the live agents holding the mark (the
    // length of their latest full window; zero when none).
    absl::Duration agent_window;
  };

  // The watermark of `model` at `now`, after reading the reports stored
  // since the last call.
  absl::StatusOr<Mark> Advance(const v1::ModelRef& model, absl::Time now,
                               absl::Duration silent_after);
  // The watermark of `model` as the last Advance() left it (InfinitePast
  // before the first); cheap, for the ingest's threads.
  absl::Time Current(const v1::ModelRef& model) const;

 private:
  struct Agent {
    absl::Time end = absl::InfinitePast();  // progress
    absl::Duration window;                  // latest full window's length
  };
  struct Model {
    bool scanned = false;
    // Reports starting before it were read already.
    absl::Time cursor = absl::InfinitePast();
    absl::Time mark = absl::InfinitePast();
    std::map<std::string, Agent> agents;
  };

  const Storage* const storage_;
  absl::Mutex mu_;
  // By "name/version/environment".
  std::map<std::string, Model> models_ ABSL_GUARDED_BY(mu_);
  // Model::mark by the same key, under its own mutex so that Current()
  // never waits for a scan.
  mutable absl::Mutex marks_mu_;
  std::map<std::string, absl::Time> marks_ ABSL_GUARDED_BY(marks_mu_);
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_EVALUATION_WATERMARK_H_
