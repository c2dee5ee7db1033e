// The verdict simulator's result tables (see verdict_simulator.h).
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "tests/bench/verdict_simulator.h"

namespace aims::bench {
namespace {

// What a row reports, summed or collected over its runs.
struct Totals {
  int runs = 0;
  double days = 0;
  int64_t windows = 0;
  int false_firings = 0;
  uint64_t opened = 0;
  int64_t false_firing_windows = 0;
  int64_t drift_windows = 0;
  int64_t insufficient_windows = 0;
  int64_t possible_breach_windows = 0;  // the evaluator's new state, if any
  std::vector<double> delays;           // seconds, runs that raised the shift
  int not_raised = 0;                   // shift runs that never raised it
  bool shift = false;
  double psi = 0;  // mean population PSI
  double wall = 0;
  uint64_t errors = 0;
  uint64_t storage_bytes = 0;  // the largest store at a run's end
};

Totals TotalsOf(const ScenarioResults& row) {
  Totals t;
  for (const SimulationResult& r : row.runs) {
    ++t.runs;
    t.days += absl::ToDoubleHours(r.simulated) / 24;
    t.windows += r.windows;
    t.false_firings += r.false_drift_firings;
    t.opened += r.nonconformities_opened;
    t.false_firing_windows += r.windows_false_firing;
    for (const auto& [state, n] : r.drift_state_windows) {
      t.drift_windows += n;
      if (state == "OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE" ||
          state == "NO_SERIES")
        t.insufficient_windows += n;
      if (absl::StrContains(state, "POSSIBLE_BREACH"))
        t.possible_breach_windows += n;
    }
    t.shift = r.scenario.kind == ScenarioKind::kShift;
    if (t.shift && r.detection_delay) {
      t.delays.push_back(absl::ToDoubleSeconds(*r.detection_delay));
    } else if (t.shift) {
      ++t.not_raised;
    }
    t.psi += r.population_psi / row.runs.size();
    t.wall += r.wall_seconds;
    t.errors += r.evaluation_errors;
    t.storage_bytes = std::max(t.storage_bytes, r.storage_bytes);
  }
  std::sort(t.delays.begin(), t.delays.end());
  return t;
}

// "40s", "12m10s", "1h15m".
std::string Short(double seconds) {
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

double Median(const std::vector<double>& sorted) {
  const size_t n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

std::string DelayCell(const Totals& t, bool max) {
  if (!t.shift) return "-";
  if (t.delays.empty()) return "never";
  return Short(max ? t.delays.back() : Median(t.delays));
}

double Share(int64_t part, int64_t whole) {
  return whole > 0 ? 100.0 * part / whole : 0.0;
}

}  // namespace

std::string MarkdownTable(const std::vector<ScenarioResults>& rows) {
  std::string out =
      "| plan | scenario | population PSI | runs | simulated days | windows "
      "| false drift firings | per 30 days | NCs opened "
      "| time a false alarm fires | drift series without evidence "
      "| possible breach | detection delay median | max | not raised "
      "| wall s |\n"
      "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
      "| ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const ScenarioResults& row : rows) {
    if (row.runs.empty()) continue;
    const Totals t = TotalsOf(row);
    absl::StrAppendFormat(
        &out,
        "| %s | %s | %.4f | %d | %.2f | %d | %d | %.1f | %d | %.1f %% "
        "| %.1f %% | %.1f %% | %s | %s | %s | %.0f |\n",
        row.plan_label, row.runs[0].scenario.name, t.psi, t.runs, t.days,
        t.windows, t.false_firings,
        t.days > 0 ? t.false_firings * 30 / t.days : 0.0, t.opened,
        Share(t.false_firing_windows, t.windows),
        Share(t.insufficient_windows, t.drift_windows),
        Share(t.possible_breach_windows, t.drift_windows), DelayCell(t, false),
        DelayCell(t, true), t.shift ? absl::StrCat(t.not_raised) : "-", t.wall);
  }
  return out;
}

std::string JsonLines(const std::vector<ScenarioResults>& rows) {
  std::string out;
  for (const ScenarioResults& row : rows) {
    if (row.runs.empty()) continue;
    const Totals t = TotalsOf(row);
    std::vector<std::string> delays;
    for (double d : t.delays) delays.push_back(absl::StrCat(d));
    absl::StrAppendFormat(
        &out,
        "{\"benchmark\": \"verdicts/%s\", \"plan\": \"%s\", "
        "\"population_psi\": %.6f, \"runs\": %d, \"simulated_days\": %.3f, "
        "\"windows\": %d, \"false_drift_firings\": %d, "
        "\"false_drift_firings_per_30d\": %.3f, \"nonconformities_opened\": "
        "%d, \"false_alarm_time_share\": %.5f, "
        "\"drift_insufficient_share\": %.5f, "
        "\"drift_possible_breach_share\": %.5f, \"detection_delay_s\": [%s], "
        "\"not_raised\": %d, \"evaluation_errors\": %d, "
        "\"storage_mib\": %.1f, \"wall_seconds\": %.1f}\n",
        row.runs[0].scenario.name, row.plan_label, t.psi, t.runs, t.days,
        t.windows, t.false_firings,
        t.days > 0 ? t.false_firings * 30 / t.days : 0.0, t.opened,
        Share(t.false_firing_windows, t.windows) / 100,
        Share(t.insufficient_windows, t.drift_windows) / 100,
        Share(t.possible_breach_windows, t.drift_windows) / 100,
        absl::StrJoin(delays, ", "), t.not_raised, t.errors,
        t.storage_bytes / 1048576.0, t.wall);
  }
  return out;
}

}  // namespace aims::bench
