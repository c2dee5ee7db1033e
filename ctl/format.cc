#include "ctl/format.h"

#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/base/time_util.h"

namespace aims::ctl {

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProto(t),
                          absl::UTCTimeZone());
}

std::string Number(double v) {
  if (std::isnan(v)) return "-";
  return absl::StrFormat("%.4g", v);
}

std::string Latency(double seconds) {
  if (std::isnan(seconds)) return "-";
  const double a = std::fabs(seconds);
  // Each unit up to the value that %.3g would round to 1000 of it.
  if (a < 999.5e-6) return absl::StrFormat("%.3gus", seconds * 1e6);
  if (a < 999.5e-3) return absl::StrFormat("%.3gms", seconds * 1e3);
  if (a < 999.5) return absl::StrFormat("%.3gs", seconds);
  return absl::StrFormat("%.0fs", seconds);
}

std::string MetricNumber(absl::string_view metric, double v) {
  return absl::StartsWith(metric, "latency_") ? Latency(v) : Number(v);
}

std::string DecisionText(const v1::Evidence& e) {
  const v1::MetricValue& v = e.value();
  if (e.decision() == "point")
    return "point: the value is beyond the threshold";
  if (e.decision() == "interval") {
    if (e.confidence() <= 0) {
      return "interval: the value has no interval, decided on the value";
    }
    return absl::StrFormat(
        "interval: %g%% CI [%s, %s] wholly beyond the "
        "threshold",
        e.confidence() * 100, Number(v.ci_low()), Number(v.ci_high()));
  }
  if (e.decision() == "sequential") {
    return absl::StrFormat(
        "sequential: CUSUM %s > %s after %d steps (false-alarm budget %s "
        "over %d series)",
        Number(e.statistic()), Number(e.statistic_threshold()), e.steps(),
        e.false_alarm_budget(), e.series_compared());
  }
  return "";
}

std::string ModelText(const v1::ModelRef& model) {
  return absl::StrCat(model.name(), "/", model.version(), "/",
                      model.environment());
}

std::string UnansweredText(
    const google::protobuf::RepeatedPtrField<std::string>& unanswered) {
  if (unanswered.empty()) return "";
  return absl::StrCat("INCOMPLETE: collector ", absl::StrJoin(unanswered, ", "),
                      " did not answer; this list lacks the entries ",
                      unanswered.size() == 1 ? "it holds" : "they hold", "\n");
}

}  // namespace aims::ctl
