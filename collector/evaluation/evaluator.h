// Evaluator: evaluates the monitoring plan's objectives on a schedule (and
// when new data of their model arrives) and keeps each series' state with
// Prometheus alerting semantics plus insufficient evidence and possible
// breach (docs/monitoring-plan.md; the transition is
// collector/evaluation/transition.h):
//
//   inactive/resolved/insufficient --breach--> pending (active_since = now)
//   pending --breach, now - active_since >= for--> firing (nonconformity)
//   pending --holds--> inactive
//   firing --holds for keep_firing_for--> resolved (auto-resolution record)
//   any non-firing --too few samples--> insufficient evidence
//   firing --too few samples--> firing (recovery cannot be shown)
//   any non-firing --possible breach--> possible breach (no nonconformity)
//
// What a value says is the objective's decision (decision.h). Data is
// judged up to the model's watermark (watermark.h), the windows every live
// agent has delivered: point and interval objectives judge the last
// `window` before it; sequential objectives judge each step of `window`
// (aligned to multiples of `window` since the Unix epoch) once, when the
// watermark has passed its end, in order, and persist their statistic with
// the series so that a restart continues where it stopped.
//
// Catch-up (docs/monitoring-plan.md, "Catch-up"): a window whose data
// changes behind the watermark - a backfill, late events, labels credited
// to a past window - is queued (catch_up.h) and judged again "as if live":
// each pass judges, per model with queued spans, one chunk of them (the
// objective windows, aligned to multiples of `window`, that overlap it and
// end at or before the watermark, within the plan's catch_up_horizon). A
// breach found so opens a nonconformity whose evidence is that past window
// (Evidence.found_by), unless the series' record is still open (then only
// an audit record); it raises no alert and leaves the live series' state
// and value as they are (nothing fires now).
//
// min_label_coverage: a window whose label_coverage is below it is not
// judged (insufficient evidence, ObjectiveStatus.waiting_for "labels"); its
// labels, credited later, queue it for catch-up.
//
// State changes are written (with their audit records and notifications)
// atomically, so `for` progress and open alerts survive restarts; a drift
// objective over every feature raises one nonconformity per breach episode
// (objective_series.h: EpisodeSeries), which auto-resolves when its last
// feature holds again; each pass first reopens the risk acceptances whose
// date has passed; the
// changes of one pass that open or resolve no nonconformity are written
// together (one durable write instead of one per series), and take effect
// in memory only once written. A plan
// reload keeps the state of objectives whose definition is unchanged and
// records the new plan version in the audit trail.
//
// Thread-safety: safe. EvaluateDue() is called by one thread (the
// collector's loop, or a test with a FakeClock); queries may run at any time.
#ifndef AIMS_COLLECTOR_EVALUATION_EVALUATOR_H_
#define AIMS_COLLECTOR_EVALUATION_EVALUATOR_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/compliance/audit_trail.h"
#include "collector/compliance/nonconformities.h"
#include "collector/evaluation/catch_up.h"
#include "collector/evaluation/watermark.h"
#include "collector/notify/notifier.h"
#include "collector/plan/plan.h"
#include "collector/storage/storage.h"
#include "common/base/clock.h"

namespace aims::collector {

struct EvaluatorCounters {
  std::atomic<uint64_t> evaluations{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> nonconformities_opened{0};
};

class Evaluator {
 public:
  Evaluator(Storage* storage, AuditTrail* audit,
            Nonconformities* nonconformities, Notifier* notifier,
            const Clock* clock);
  ~Evaluator();

  // Loads persisted series state (between passes; fleet mode calls it
  // again when it takes over models with replicated state).
  absl::Status Load();
  // Returns once no evaluation pass is under way (a pass that began before
  // the call has ended): what it wrote is in storage.
  void AwaitPass() ABSL_LOCKS_EXCLUDED(eval_mu_);
  // Installs `plan` (recording its version); returns how many objectives kept
  // their state.
  absl::StatusOr<int> SetPlan(Plan plan, const std::string& actor);
  bool has_plan() const;
  v1::PlanInfo plan_info() const;
  // The plan in force; null before the first SetPlan.
  std::shared_ptr<const Plan> plan() const;

  // Evaluates every objective whose interval has elapsed, and those of a
  // model with new data (OnNewData) last evaluated at least
  // kMinDataTriggeredInterval ago; returns how many series were evaluated.
  int EvaluateDue();
  // New data of `model` is stored: its objectives are due on the next
  // EvaluateDue (at most once per kMinDataTriggeredInterval), so a breach is
  // judged within a tick of the collector's loop whatever the objective's
  // evaluation interval, which remains the longest time between two
  // evaluations.
  void OnNewData(const v1::ModelRef& model);
  static constexpr absl::Duration kMinDataTriggeredInterval = absl::Seconds(1);
  // A report of `model` for the window [start, end) is durable (called on
  // the ingest's threads): OnNewData(model), and the window is queued for
  // catch-up when it is a backfill or late, or ends at or before the
  // model's watermark. The queue is persisted by the next pass.
  void OnWindowStored(const v1::ModelRef& model, absl::Time start,
                      absl::Time end, WindowOrigin origin);
  // Objective windows judged per objective and model in one catch-up
  // chunk: a chunk spans the longer of the model's longest objective window
  // and this many of its shortest.
  static constexpr int kMaxCatchUpWindows = 360;

  std::vector<v1::ObjectiveStatus> States(
      const v1::ListObjectiveStatesRequest& request) const;

  // A person's lifecycle step on a nonconformity (checks effectiveness
  // against the objective's series state).
  absl::StatusOr<v1::Nonconformity> Transition(
      const v1::TransitionRequest& request);
  // A person's change of owner, due date or ticket link.
  absl::StatusOr<v1::Nonconformity> Update(
      const v1::UpdateNonconformityRequest& request);

  // Every plan version loaded, newest first: who loaded it and when from
  // the audit trail's plan_version records, the text from Table::kPlans
  // (where SetPlan keeps each version's text).
  v1::ListPlanVersionsResponse PlanVersions() const;

  // Runs EvaluateDue() every `tick` on a thread until Stop().
  void Start(absl::Duration tick);
  // Called on that thread after each pass that evaluated a series (fleet
  // mode: the series state goes to the peer at once). Set before Start().
  void OnPassDone(std::function<void()> hook) {
    on_pass_done_ = std::move(hook);
  }
  void Stop();

  const EvaluatorCounters& counters() const { return counters_; }

  // Fleet mode: only models `evaluates` accepts are evaluated and have
  // their alerts renewed (the others belong to another collector). Set
  // before Start(); unset: every model.
  void EvaluateOnly(std::function<bool(const v1::ModelRef&)> evaluates) {
    evaluates_ = std::move(evaluates);
  }

  // Evaluation passes, per model name and version, in which the windows were
  // binned on another profile than the stored one, so that drift was not
  // applicable (aims_collector_profile_mismatch_total).
  std::map<std::pair<std::string, std::string>, uint64_t> ProfileMismatches()
      const;

 private:
  struct Series {
    v1::ObjectiveStatus status;
    absl::Time last_sent = absl::InfinitePast();
  };

  // What one evaluation pass reads once and shares between objectives.
  struct PassCache;
  // What a judgement rests on: the span of data, when it is judged, the
  // reports, and for a sequential step the statistic's threshold h and the
  // number of series it was set for.
  struct Judged {
    absl::Time from;
    absl::Time to;
    absl::Time at;   // the state change's time (a step's end, or now)
    absl::Time now;  // the pass
    const std::vector<std::string>* report_ids = nullptr;
    // The window's label_coverage is below min_label_coverage.
    bool waiting_for_labels = false;
    bool sequential = false;
    double h = 0;
    int series = 0;
  };
  // What installing a plan changes in the series in force.
  struct PlanChange;

  // SetPlan's parts: the series of changed or removed objectives start over
  // (deleted, on record, firing alerts resolved), and once that is
  // committed the plan is put in force.
  PlanChange RetireChangedSeries(const Plan& next, const std::string& actor)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the resolution of the alert of a firing `status` whose objective
  // left the plan; its definition comes from the plan version it fired
  // under (`old_plans`, read from storage when absent).
  void ResolveRetiredAlert(
      const v1::ObjectiveStatus& status,
      std::map<std::string, std::shared_ptr<const Plan>>* old_plans,
      std::vector<Mutation>* mutations);
  void PutPlanInForce(const std::shared_ptr<const Plan>& next,
                      const std::vector<std::string>& dropped, int unchanged)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  void EvaluateObjective(const Plan& plan, const Objective& o, absl::Time now,
                         PassCache* cache)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Judges the series of a non-coverage objective for `model` on the data
  // up to its watermark.
  void EvaluateOnData(const Plan& plan, const Objective& o,
                      const v1::ModelRef& model, absl::Time now,
                      PassCache* cache) ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Judges the steps of sequential `o` for `model` that ended by `mark` and
  // are not judged yet, oldest first (evaluator_steps.cc). `usable` false:
  // the data cannot fill a step, every series lacks evidence.
  void JudgeSteps(const Plan& plan, const Objective& o,
                  const v1::ModelRef& model, absl::Time mark, bool usable,
                  PassCache* cache) ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // The end of the first step of `o` for `model` no series has judged, at
  // most `last` (the latest complete step): the step after the earliest
  // last_step_end of the series in force, or `last` when none has one.
  absl::Time FirstUnjudgedStep(const Objective& o, const v1::ModelRef& model,
                               absl::Time last) const ABSL_LOCKS_EXCLUDED(mu_);
  // How many series `o` has for `model`: those with a value in `values`
  // and those in force (at least 1).
  int SeriesCount(const Objective& o, const v1::ModelRef& model,
                  const std::vector<v1::MetricValue>& values) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Judges one chunk of every model's catch-up queue (evaluator_catch_up.cc).
  void CatchUp(const Plan& plan, PassCache* cache)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Judges the windows of `o` that overlap `span`, end at or before `mark`;
  // false when the data could not be read (the span is kept).
  bool CatchUpObjective(const Plan& plan, const Objective& o,
                        const v1::ModelRef& model,
                        const CatchUpQueue::Span& span, absl::Time mark,
                        PassCache* cache)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // A breach of `value` in the past window [from, to) established by
  // catch-up: opens a nonconformity on that evidence, or records it on the
  // series' open one.
  void RecordPastBreach(const Plan& plan, const Objective& o,
                        const v1::ModelRef& model, const v1::MetricValue& value,
                        absl::Time from, absl::Time to,
                        const std::vector<std::string>& report_ids,
                        bool backfilled)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Counts the pass' profile mismatches and logs each (model, windows'
  // profile, stored profile) once.
  void NoteProfileMismatches(const PassCache& cache)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Logs once per objective and model why its data cannot be judged.
  void WarnOnce(const Objective& o, const v1::ModelRef& model,
                const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Steps every series of `o` for `model`: those with a value in `values`,
  // those in force without one, and the series `o` names if it has none.
  void JudgeSeries(const Plan& plan, const Objective& o,
                   const v1::ModelRef& model,
                   const std::vector<v1::MetricValue>& values,
                   const Judged& judged)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Values with insufficient evidence for the series of `o` and `model` in
  // force that are not among `judged` (series names).
  std::vector<v1::MetricValue> SeriesWithoutValue(
      const Objective& o, const v1::ModelRef& model,
      const std::set<std::string>& judged) const ABSL_LOCKS_EXCLUDED(mu_);
  void AddFreshLocked(const v1::ModelRef& model)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-sends the Alertmanager alert of every firing series whose lease was
  // last sent a minute or more ago, whatever the objective's interval.
  void RenewLeases(const Plan& plan, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Judges one series' value (decision.h, transition.h) and applies the
  // step: a nonconformity opened or resolved with its state change now,
  // other changes (and every sequential step) queued for FlushPending, an
  // unchanged state kept in memory only. A sequential step the series has
  // judged already is skipped.
  void Step(const Plan& plan, const Objective& o, const v1::ModelRef& model,
            const v1::MetricValue& value, const Judged& judged)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // The series' state: queued in this pass, else in force, else a new
  // unevaluated one.
  Series SeriesInForce(const Objective& o, const v1::ModelRef& model,
                       const v1::MetricValue& value, const std::string& key,
                       const std::string& series_name) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Commit a nonconformity step with the series' new state (`series`) and
  // its `audit` records, and queue its alert and webhook: a firing opens a
  // nonconformity or records a recurrence, a resolution auto-resolves it.
  // On success `series` is what to keep in memory.
  absl::Status OpenNonconformity(const Plan& plan, const Objective& o,
                                 const std::string& key,
                                 const v1::MetricValue& value,
                                 const Judged& judged,
                                 std::vector<AuditEntry> audit, Series* series)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Whether a series other than `key` of `nonconformity_id` fires (a drift
  // episode's record resolves with its last feature).
  bool OthersFiring(const std::string& key,
                    const std::string& nonconformity_id) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Reopens the risk acceptances whose date has passed (every pass).
  void ReopenExpiredRiskAcceptances(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  absl::Status ResolveNonconformity(const Objective& o, const std::string& key,
                                    absl::Time now,
                                    std::vector<AuditEntry> audit,
                                    Series* series)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Queues a state change for FlushPending (flushing when kMaxPending are
  // queued).
  void QueueChange(const std::string& key, Series series,
                   std::vector<AuditEntry> audit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);
  // Writes the pending state changes (and their audit records) in one
  // atomic, durable commit, then puts them in force in memory; on failure
  // they stay as they were and the next evaluation retries them.
  void FlushPending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(eval_mu_);

  Storage* const storage_;
  AuditTrail* const audit_;
  Nonconformities* const nonconformities_;
  Notifier* const notifier_;
  const Clock* const clock_;
  EvaluatorCounters counters_;
  std::function<bool(const v1::ModelRef&)> evaluates_;  // set before Start
  std::function<void()> on_pass_done_;                  // set before Start

  absl::Mutex eval_mu_;  // one evaluation pass at a time
  // State changes without a nonconformity step, written together by
  // FlushPending() (at the end of a pass, every kMaxPending changes, and
  // before a nonconformity commit so that audit records keep their order).
  struct PendingChange {
    std::string key;
    Series series;
    std::vector<AuditEntry> audit;
  };
  static constexpr size_t kMaxPending = 1000;
  std::vector<PendingChange> pending_ ABSL_GUARDED_BY(eval_mu_);
  absl::flat_hash_set<std::string> pending_keys_ ABSL_GUARDED_BY(eval_mu_);
  Watermarks watermarks_;
  CatchUpQueue catch_up_;
  // Objective and model pairs whose data could not be judged, logged once.
  std::set<std::string> warned_ ABSL_GUARDED_BY(eval_mu_);
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> profile_mismatches_
      ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Plan> plan_ ABSL_GUARDED_BY(mu_);
  absl::Time plan_loaded_at_ ABSL_GUARDED_BY(mu_);
  int plan_unchanged_ ABSL_GUARDED_BY(mu_) = 0;
  // By objective id + "\x1f" + series.
  std::map<std::string, Series> series_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> last_evaluated_ ABSL_GUARDED_BY(mu_);
  // Models with data not yet evaluated (bounded by the number of models).
  std::vector<v1::ModelRef> fresh_models_ ABSL_GUARDED_BY(mu_);

  absl::Mutex run_mu_;
  bool stop_ ABSL_GUARDED_BY(run_mu_) = false;
  std::thread thread_;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_EVALUATION_EVALUATOR_H_
