// Verdict simulator (issue 23): drives the real evaluator (RocksStorage,
// AuditTrail, Nonconformities, Notifier, Evaluator, the real plan parser)
// with a FakeClock over simulated days of synthetic 10-second windows of a
// 25-feature model, and counts what it raises: false drift nonconformities
// on stationary traffic and on traffic with a negligible difference from the
// reference, and the detection delay of a shift that starts at a known time.
// Not part of the product: the verdict_simulator benchmark
// (verdict_simulator_main.cc) and tests/collector/evaluation/
// verdict_simulation_test.cc use it.
//
// Traffic: 20 numeric normal features ("income", "num_01" .. "num_19") and 5
// categorical ones ("cat_0" .. "cat_4", 3 to 7 categories with Zipf-like
// probabilities). The reference profile is built by the real ProfileBuilder
// from `reference_rows` rows of the unshifted population (so it carries the
// sampling error a real training set has). A window's summary is either
//  - folded from drawn events by the real WindowAccumulator
//    (WindowSource::kEvents), or
//  - built directly (WindowSource::kDirect): each feature's histogram is a
//    multinomial draw of the window's values on the reference profile's bins,
//    with the population's probability of each bin - the counts the
//    accumulator would produce. event_count, the data-quality counts
//    (out_of_range = under- and overflow bins), n and the moments (from the
//    bins' conditional means, which no metric reads) are filled to match;
//    there is no quantile sketch (no metric reads feature sketches and the
//    evaluator's merge drops them). The suite checks that the drift metrics
//    of a direct summary equal those of folding the same values.
//
// Simulation: each window's report is stored as an agent's would be
// (Storage::WriteReports at window end + report_delay, then
// Evaluator::OnNewData as the ingest path does), EvaluateDue() runs then and
// on every `tick` until the next report (as the collector's loop), and
// storage maintenance (rollup building) runs every `maintain_every`.
// Retention is off unless asked for (SimulationOptions::retention): 30 days
// of one model's windows are a few hundred MB in a temporary directory; the
// evaluator reads rollups over long windows as the collector's does.
// Series states are read after each evaluation (Evaluator::States).
//
// Counting: a "firing" is a series entering FIRING - a nonconformity opened,
// or recurring while not closed (nobody closes nonconformities here). Drift
// objectives are those of per-feature metrics and drifted_feature_share. In
// a shift scenario a drift firing is true when its series is the shifted
// feature's and it comes at or after the shift start; every other drift
// firing (other features, model-level drift objectives, anything before the
// shift) is false.
//
// Determinism: every draw comes from std::mt19937_64 (specified by the C++
// standard) through this file's own uniform and normal conversions, so a
// seed gives the same windows with any standard library.
//
// Thread-safety: none; one simulation per thread.
#ifndef AIMS_TESTS_BENCH_VERDICT_SIMULATOR_H_
#define AIMS_TESTS_BENCH_VERDICT_SIMULATOR_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "aims/v1/identity.pb.h"
#include "aims/v1/profile.pb.h"
#include "aims/v1/summary.pb.h"
#include "common/summary/event.h"

namespace aims::bench {

// ---------------------------------------------------------------- traffic

// One feature of the synthetic population.
struct FeatureSpec {
  std::string name;
  bool numeric = true;
  double mean = 0;  // numeric: normal(mean, stddev)
  double stddev = 1;
  std::vector<std::string> categories;  // categorical
  std::vector<double> probabilities;    // categorical; sums to 1
};

// The population of issue 23: 20 numeric and 5 categorical features.
std::vector<FeatureSpec> DefaultFeatures();

// A deterministic random source (see the file comment).
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  double Uniform();  // [0, 1)
  double Normal();   // standard normal (Marsaglia's polar method)

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// One event carrying a value of every feature (no prediction or label).
Event DrawEvent(const std::vector<FeatureSpec>& features, Rng* rng);

// The reference profile of `rows` events of `features`, by ProfileBuilder.
absl::StatusOr<v1::ReferenceProfile> BuildReferenceProfile(
    const std::vector<FeatureSpec>& features, int rows,
    const v1::ModelRef& model, Rng* rng);

// The probability of each bin of `profile` (its reference_counts' bins,
// under- and overflow or "other" included) under `feature`.
std::vector<double> BinProbabilities(const FeatureSpec& feature,
                                     const v1::FeatureProfile& profile);

// PSI of the population `feature` (its bin probabilities, no sampling)
// against the profile's reference counts, by the metric engine's formula
// and default smoothing.
double PopulationPsi(const FeatureSpec& feature,
                     const v1::FeatureProfile& profile);

// `feature` changed so that PopulationPsi() is `target_psi` (to 1e-9
// relative): a numeric feature's mean moves up by a multiple of its
// stddev; a categorical feature moves probability from its most to its
// least frequent category. Unchanged when the PSI is already at least the
// target.
FeatureSpec ShiftedToPsi(const FeatureSpec& feature,
                         const v1::FeatureProfile& profile, double target_psi);

enum class WindowSource { kDirect, kEvents };

// Window summaries of a population, binned on a profile.
class WindowSynthesizer {
 public:
  // Every feature must be in `profile` under its name, of the same kind.
  WindowSynthesizer(std::shared_ptr<const v1::ReferenceProfile> profile,
                    std::vector<FeatureSpec> features);

  v1::WindowSummary Make(WindowSource source, int events, Rng* rng) const;
  // Multinomial bin counts (see the file comment).
  v1::WindowSummary Direct(int events, Rng* rng) const;
  // Drawn events folded by WindowAccumulator.
  v1::WindowSummary Folded(int events, Rng* rng) const;

  // Exposed for the test that compares the two: each feature's (in
  // features() order) counts on its profile bins, for `events`, and the
  // direct summary of such counts.
  std::vector<std::vector<uint64_t>> BinCountsOf(
      const std::vector<Event>& events) const;
  v1::WindowSummary FromBinCounts(
      const std::vector<std::vector<uint64_t>>& counts, uint64_t events) const;

  const std::vector<FeatureSpec>& features() const { return features_; }

 private:
  struct Bins {
    const v1::FeatureProfile* profile = nullptr;
    std::vector<double> cdf;  // cumulative bin probabilities
    // Numeric: each bin's conditional mean and mean square (moments).
    std::vector<double> mean, mean_square;
    // Categorical: the bin of each of the spec's categories.
    std::vector<size_t> category_bin;
  };

  std::shared_ptr<const v1::ReferenceProfile> profile_;
  std::vector<FeatureSpec> features_;
  std::vector<Bins> bins_;
};

// ---------------------------------------------------------------- scenarios

enum class ScenarioKind {
  kStationary,  // the reference population, exactly
  kNegligible,  // every feature shifted to PSI target_psi from the start
  kShift,       // one feature shifted to target_psi from shift_start on
};

struct Scenario {
  std::string name;
  ScenarioKind kind = ScenarioKind::kStationary;
  double target_psi = 0;
  std::string shifted_feature = "income";
  absl::Duration shift_start = absl::ZeroDuration();  // from the start
  absl::Duration duration = absl::Hours(24);          // simulated time
};

// Issue 23's four: "stationary" and "negligible" (every feature at PSI
// 0.005) for `days`; "shift_0.2" and "shift_0.05" (income) starting at
// `shift_start` and simulated for `shift_horizon` after it.
std::vector<Scenario> StandardScenarios(absl::Duration days,
                                        absl::Duration shift_start,
                                        absl::Duration shift_horizon);

// ---------------------------------------------------------------- running

struct SimulationOptions {
  std::string plan_yaml;  // the monitoring plan, as YAML text
  std::string plan_name = "plan.yaml";
  // Drop the plan's objectives that are neither drift nor coverage ones
  // after parsing. The traffic has no labels or predictions, so they only
  // ever lack evidence; the drift series are judged exactly as with them,
  // and a plan's 24 h accuracy window costs most of the evaluation time.
  bool drift_only = false;
  // Run the collector's default retention at each maintenance pass.
  bool retention = false;
  v1::ModelRef model;  // default: credit-scoring / v1 / prod
  absl::Duration window = absl::Seconds(10);
  int events_per_window = 500;
  int reference_rows = 20000;
  WindowSource source = WindowSource::kDirect;
  // From a window's end to its report being stored and evaluated.
  absl::Duration report_delay = absl::Milliseconds(50);
  // The collector's evaluation tick; zero: evaluate only on new data.
  absl::Duration tick = absl::Seconds(1);
  absl::Duration maintain_every = absl::Minutes(1);
  uint64_t seed = 1;
  // Storage directory (must not exist or be empty); empty: a temp dir.
  std::string dir;
  // Called every `progress_every` of simulated time with the result so far.
  absl::Duration progress_every = absl::Hours(24);
  std::function<void(const struct SimulationResult&)> progress;
  // When set and true, the run stops after the current window and returns
  // what it has (SimulationResult::stopped); its store is removed.
  const std::atomic<bool>* stop = nullptr;

  SimulationOptions();
};

struct Firing {
  absl::Duration at;  // from the simulation start
  std::string objective, metric, series, feature;
  bool drift = false;
  bool true_detection = false;  // see the file comment
};

struct SimulationResult {
  Scenario scenario;
  uint64_t seed = 0;
  int64_t windows = 0;
  absl::Duration simulated;
  // PopulationPsi of the shifted feature (shift), of each feature averaged
  // (negligible), 0 (stationary).
  double population_psi = 0;
  std::vector<Firing> firings;
  int false_drift_firings = 0;
  int true_drift_firings = 0;
  int other_firings = 0;  // non-drift objectives (coverage, ...)
  std::optional<absl::Duration> detection_delay;  // shift scenarios
  // Windows in which some drift series was firing falsely.
  int64_t windows_false_firing = 0;
  // Drift series x windows in each state (enum name, e.g.
  // "OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE"), sampled after each window's
  // evaluation; new states of the evaluator appear under their names, and
  // series the plan asks for (a feature-scoped objective without a
  // feature: one per feature of the traffic) that the evaluator never
  // created under "NO_SERIES".
  std::map<std::string, int64_t> drift_state_windows;
  uint64_t nonconformities_opened = 0;  // counter: first occurrences
  uint64_t evaluation_errors = 0;
  double wall_seconds = 0;
  bool stopped = false;        // by SimulationOptions::stop, before the end
  uint64_t storage_bytes = 0;  // of the storage directory at the end
};

// Runs `scenario` (see the file comment). Fails when the plan does not
// parse or storage fails.
absl::StatusOr<SimulationResult> Simulate(const Scenario& scenario,
                                          const SimulationOptions& options);

// ---------------------------------------------------------------- output

// Results of the repetitions (seeds) of one scenario under one plan.
struct ScenarioResults {
  std::string plan_label;
  std::vector<SimulationResult> runs;
};

// A markdown table, one row per entry: plan, scenario, shift PSI, runs,
// simulated days, windows, false drift firings (and per 30 days),
// nonconformities opened, share of time a false drift alarm is firing, the
// drift series' share of windows with insufficient evidence or no series
// at all, and in a state named *POSSIBLE_BREACH* (the evaluator branch's
// point-beyond, interval-straddling state), detection delay (median, max,
// runs that never raised it), wall time.
std::string MarkdownTable(const std::vector<ScenarioResults>& rows);
// One JSON object per entry ("benchmark": "verdicts/<scenario>"), one line
// each, for scripts/bench.sh.
std::string JsonLines(const std::vector<ScenarioResults>& rows);

}  // namespace aims::bench

#endif  // AIMS_TESTS_BENCH_VERDICT_SIMULATOR_H_
