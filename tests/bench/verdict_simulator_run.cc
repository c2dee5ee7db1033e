// The verdict simulator's driving of the real evaluator and its result
// tables (see verdict_simulator.h).
#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "collector/compliance/audit_trail.h"
#include "collector/compliance/nonconformities.h"
#include "collector/evaluation/evaluator.h"
#include "collector/notify/notifier.h"
#include "collector/plan/plan.h"
#include "collector/storage/rocks_storage.h"
#include "common/base/clock.h"
#include "common/base/time_util.h"
#include "tests/bench/verdict_simulator.h"
#include "tests/testing/test_util.h"

namespace aims::bench {
namespace {

using collector::Plan;

// A UTC midnight: windows and rollup buckets align.
const absl::Time kStart = absl::FromUnixSeconds(1'700'006'400);
constexpr char kAgentId[] = "sim-agent-1";
constexpr char kNoSeries[] = "NO_SERIES";

// The evaluation side of a collector, as tests/collector/evaluation/
// evaluator_test.cc builds it.
struct Stack {
  std::unique_ptr<collector::RocksStorage> storage;
  std::unique_ptr<collector::AuditTrail> audit;
  std::unique_ptr<collector::Nonconformities> ncs;
  std::unique_ptr<collector::Notifier> notifier;
  std::unique_ptr<collector::Evaluator> evaluator;
};

// With `retention`, the collector's default retention deletes what ages out
// at each maintenance pass; without it nothing is deleted, and 30 days of
// 25-feature windows are a few hundred MB. Either way evaluations read
// rollups as the collector's do.
collector::RocksStorageOptions StorageOptions(const std::string& dir,
                                              bool retention) {
  collector::RocksStorageOptions options;
  options.path = dir;
  options.sync_writes = false;
  if (!retention) {
    options.raw_retention = absl::ZeroDuration();
    for (absl::Duration& keep : options.rollup_retention)
      keep = absl::ZeroDuration();
  }
  options.min_free_disk_bytes = 0;
  return options;
}

absl::StatusOr<Stack> OpenStack(const std::string& dir, const Plan& plan,
                                const v1::ModelRef& model,
                                const v1::ReferenceProfile& profile,
                                bool retention, FakeClock* clock) {
  Stack s;
  absl::StatusOr<std::unique_ptr<collector::RocksStorage>> storage =
      collector::RocksStorage::Open(StorageOptions(dir, retention));
  if (!storage.ok()) return storage.status();
  s.storage = std::move(*storage);
  s.audit = std::make_unique<collector::AuditTrail>(s.storage.get(), clock);
  if (absl::Status st = s.audit->Load(); !st.ok()) return st;
  s.ncs = std::make_unique<collector::Nonconformities>(s.storage.get(),
                                                       s.audit.get());
  if (absl::Status st = s.ncs->Load(); !st.ok()) return st;
  s.notifier = std::make_unique<collector::Notifier>(
      s.storage.get(), clock, collector::NotifierOptions());
  s.evaluator = std::make_unique<collector::Evaluator>(
      s.storage.get(), s.audit.get(), s.ncs.get(), s.notifier.get(), clock);
  if (absl::Status st = s.evaluator->Load(); !st.ok()) return st;
  if (absl::StatusOr<int> set = s.evaluator->SetPlan(plan, "simulator");
      !set.ok()) {
    return set.status();
  }
  v1::Hello hello;
  hello.mutable_agent()->set_agent_id(kAgentId);
  *hello.mutable_model() = model;
  if (absl::StatusOr<uint64_t> r =
          s.storage->RegisterAgent(hello, clock->Now());
      !r.ok()) {
    return r.status();
  }
  bool created = false;
  if (absl::StatusOr<v1::ReferenceProfile> p =
          s.storage->PutProfile(profile, false, &created);
      !p.ok()) {
    return p.status();
  }
  return s;
}

bool IsDriftMetric(const std::string& metric) {
  absl::StatusOr<collector::MetricScope> scope =
      collector::ScopeOfMetric(metric);
  return metric == "drifted_feature_share" ||
         (scope.ok() && *scope == collector::MetricScope::kFeature);
}

// Follows the series' states after each evaluation: firings, and once per
// window the drift series' states.
class Observer {
 public:
  Observer(const Plan& plan, const Scenario& scenario,
           const std::vector<FeatureSpec>& features, SimulationResult* out)
      : scenario_(scenario), out_(out) {
    for (const FeatureSpec& f : features) features_.insert(f.name);
    for (const collector::Objective& o : plan.objectives) {
      metric_of_[o.id] = o.metric;
      if (!IsDriftMetric(o.metric)) continue;
      const bool every = o.feature.empty() || o.feature == "*";
      expected_series_ +=
          o.metric == "drifted_feature_share" || !every ? 1 : features_.size();
    }
  }

  void Observe(const std::vector<v1::ObjectiveStatus>& states,
               absl::Duration at, bool sample) {
    bool false_firing = false;
    int64_t drift_series = 0;
    for (const v1::ObjectiveStatus& st : states) {
      const std::string& metric = metric_of_[st.objective_id()];
      const bool drift = IsDriftMetric(metric);
      const bool shifted = scenario_.kind == ScenarioKind::kShift &&
                           st.feature() == scenario_.shifted_feature &&
                           at >= scenario_.shift_start;
      const bool firing = st.state() == v1::OBJECTIVE_STATE_FIRING;
      v1::ObjectiveState& last =
          last_[absl::StrCat(st.objective_id(), "\x1f", st.series())];
      if (firing && last != v1::OBJECTIVE_STATE_FIRING)
        Record(st, metric, at, drift, drift && shifted);
      last = st.state();
      // Series of features the traffic does not have (the profile's
      // __prediction__) never have evidence; they are left out.
      if (!drift || (!st.feature().empty() && !features_.count(st.feature())))
        continue;
      ++drift_series;
      if (sample)
        ++out_->drift_state_windows[v1::ObjectiveState_Name(st.state())];
      false_firing |= firing && !shifted;
    }
    if (!sample) return;
    if (false_firing) ++out_->windows_false_firing;
    // Series the plan asks for that the evaluator has not created: nothing
    // was ever judged for them (e.g. a window no report ever falls in).
    if (drift_series < expected_series_)
      out_->drift_state_windows[kNoSeries] += expected_series_ - drift_series;
  }

 private:
  void Record(const v1::ObjectiveStatus& st, const std::string& metric,
              absl::Duration at, bool drift, bool true_detection) {
    out_->firings.push_back({at, st.objective_id(), metric, st.series(),
                             st.feature(), drift, true_detection});
    if (!drift) {
      ++out_->other_firings;
    } else if (!true_detection) {
      ++out_->false_drift_firings;
    } else {
      ++out_->true_drift_firings;
      if (!out_->detection_delay)
        out_->detection_delay = at - scenario_.shift_start;
    }
  }

  const Scenario& scenario_;
  SimulationResult* out_;
  std::map<std::string, std::string> metric_of_;
  std::set<std::string> features_;
  std::map<std::string, v1::ObjectiveState> last_;
  int64_t expected_series_ = 0;
};

// The populations of `scenario` before and after its shift start (the
// same for stationary and negligible), and their population PSI.
struct Populations {
  std::vector<FeatureSpec> before, after;
  double psi = 0;
};

Populations PopulationsOf(const Scenario& scenario,
                          const v1::ReferenceProfile& profile) {
  Populations p;
  p.before = DefaultFeatures();
  auto profile_of = [&](const std::string& name) -> const v1::FeatureProfile& {
    for (const v1::FeatureProfile& fp : profile.features())
      if (fp.name() == name) return fp;
    return profile.features(0);
  };
  double sum = 0;
  for (FeatureSpec& f : p.before) {
    if (scenario.kind == ScenarioKind::kNegligible)
      f = ShiftedToPsi(f, profile_of(f.name), scenario.target_psi);
    sum += PopulationPsi(f, profile_of(f.name));
  }
  p.psi = sum / p.before.size();
  p.after = p.before;
  if (scenario.kind != ScenarioKind::kShift) return p;
  for (FeatureSpec& f : p.after) {
    if (f.name != scenario.shifted_feature) continue;
    f = ShiftedToPsi(f, profile_of(f.name), scenario.target_psi);
    p.psi = PopulationPsi(f, profile_of(f.name));
  }
  return p;
}

v1::WindowReport ReportOf(uint64_t sequence, absl::Time start,
                          absl::Duration window, v1::WindowSummary summary) {
  v1::WindowReport r;
  r.set_agent_id(kAgentId);
  r.set_sequence(sequence);
  *r.mutable_window_start() = ToProto(start);
  *r.mutable_window_end() = ToProto(start + window);
  *r.mutable_summary() = std::move(summary);
  return r;
}

// Bytes of the files under `dir` (RocksDB's tables, logs and write-ahead
// log).
uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir, error)) {
    if (entry.is_regular_file(error)) bytes += entry.file_size(error);
  }
  return bytes;
}

absl::Status Maintain(collector::RocksStorage* storage, absl::Time now) {
  for (;;) {
    absl::StatusOr<collector::MaintenanceStats> stats = storage->Maintain(now);
    if (!stats.ok()) return stats.status();
    if (!stats->budget_exhausted) return absl::OkStatus();
  }
}

// One window: its report stored as an agent's, evaluated then and on every
// tick until the next window ends, maintenance when due.
absl::Status RunWindow(int64_t w, const SimulationOptions& o,
                       const WindowSynthesizer& synth, Rng* rng, Stack* stack,
                       FakeClock* clock, Observer* observer) {
  const absl::Time start = kStart + w * o.window;
  const absl::Time stored = start + o.window + o.report_delay;
  clock->Set(stored);
  v1::WindowReport report = ReportOf(
      w + 1, start, o.window, synth.Make(o.source, o.events_per_window, rng));
  std::vector<const v1::WindowReport*> batch = {&report};
  std::vector<collector::WriteOutcome> outcomes;
  if (absl::Status s = stack->storage->WriteReports(batch, stored, &outcomes);
      !s.ok()) {
    return s;
  }
  stack->evaluator->OnNewData(o.model);
  stack->evaluator->EvaluateDue();
  observer->Observe(stack->evaluator->States({}), stored - kStart, true);
  if (o.tick > absl::ZeroDuration()) {
    for (absl::Time t = stored + o.tick; t < stored + o.window; t += o.tick) {
      clock->Set(t);
      if (stack->evaluator->EvaluateDue() > 0)
        observer->Observe(stack->evaluator->States({}), t - kStart, false);
    }
  }
  const int64_t every = std::max<int64_t>(1, o.maintain_every / o.window);
  if ((w + 1) % every == 0) return Maintain(stack->storage.get(), stored);
  return absl::OkStatus();
}

}  // namespace

SimulationOptions::SimulationOptions() {
  model.set_name("credit-scoring");
  model.set_version("v1");
  model.set_environment("prod");
}

absl::StatusOr<SimulationResult> Simulate(const Scenario& scenario,
                                          const SimulationOptions& o) {
  const absl::Time wall_start = absl::Now();
  absl::StatusOr<Plan> plan = collector::ParsePlan(o.plan_yaml, o.plan_name);
  if (!plan.ok()) return plan.status();
  if (o.drift_only) {
    std::erase_if(plan->objectives, [](const collector::Objective& obj) {
      return !obj.builtin && !IsDriftMetric(obj.metric);
    });
  }
  Rng profile_rng(o.seed);
  absl::StatusOr<v1::ReferenceProfile> built = BuildReferenceProfile(
      DefaultFeatures(), o.reference_rows, o.model, &profile_rng);
  if (!built.ok()) return built.status();
  auto profile = std::make_shared<const v1::ReferenceProfile>(*built);
  const Populations pop = PopulationsOf(scenario, *profile);
  const WindowSynthesizer before(profile, pop.before);
  const WindowSynthesizer after(profile, pop.after);

  std::optional<testing::TempDir> temp;
  if (o.dir.empty()) temp.emplace();
  FakeClock clock(kStart);
  absl::StatusOr<Stack> stack =
      OpenStack(o.dir.empty() ? temp->path() : o.dir, *plan, o.model, *profile,
                o.retention, &clock);
  if (!stack.ok()) return stack.status();

  SimulationResult out;
  out.scenario = scenario;
  out.seed = o.seed;
  out.population_psi = pop.psi;
  Observer observer(*plan, scenario, pop.before, &out);
  Rng rng(o.seed ^ 0x9E3779B97F4A7C15ull);
  const int64_t windows = scenario.duration / o.window;
  const int64_t progress_every =
      std::max<int64_t>(1, o.progress_every / o.window);
  for (int64_t w = 0; w < windows; ++w) {
    const bool shifted = scenario.kind == ScenarioKind::kShift &&
                         w * o.window >= scenario.shift_start;
    if (absl::Status s = RunWindow(w, o, shifted ? after : before, &rng,
                                   &*stack, &clock, &observer);
        !s.ok()) {
      return s;
    }
    out.windows = w + 1;
    out.simulated = out.windows * o.window;
    if (o.stop != nullptr && o.stop->load() && out.windows < windows) {
      out.stopped = true;
      break;
    }
    if (o.progress && out.windows % progress_every == 0) {
      out.wall_seconds = absl::ToDoubleSeconds(absl::Now() - wall_start);
      o.progress(out);
    }
  }
  out.nonconformities_opened =
      stack->evaluator->counters().nonconformities_opened.load();
  out.evaluation_errors = stack->evaluator->counters().errors.load();
  out.storage_bytes = DirectoryBytes(o.dir.empty() ? temp->path() : o.dir);
  out.wall_seconds = absl::ToDoubleSeconds(absl::Now() - wall_start);
  return out;
}

}  // namespace aims::bench
