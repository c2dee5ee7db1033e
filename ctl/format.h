// How aimsctl's tables write times, numbers, models, the decision behind a
// nonconformity's evidence, and a fleet listing that lacks a collector.
//
// Thread-safety: stateless.
#ifndef AIMS_CTL_FORMAT_H_
#define AIMS_CTL_FORMAT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "aims/v1/identity.pb.h"
#include "aims/v1/nonconformity.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "google/protobuf/timestamp.pb.h"

namespace aims::ctl {

// RFC 3339 in UTC to the second; "-" for an unset timestamp.
std::string Time(const google::protobuf::Timestamp& t);

// Four significant digits; "-" for NaN (no value).
std::string Number(double v);

// A latency in seconds with the unit that keeps it readable, three
// significant digits: "2.96us", "20.4ms", "1.25s"; "-" for NaN.
std::string Latency(double seconds);

// A value of `metric` as tables show it: the latency_* metrics (seconds)
// as Latency(), the others as Number().
std::string MetricNumber(absl::string_view metric, double v);

// name/version/environment.
std::string ModelText(const v1::ModelRef& model);

// How the evidence shows the breach, e.g. "interval: 95% CI [0.31, 0.44]
// wholly beyond the threshold" or "sequential: CUSUM 15.2 > 13.8 after 12
// steps (false-alarm budget 1/30d over 25 series)"; empty for evidence
// recorded before decisions were named.
std::string DecisionText(const v1::Evidence& evidence);

// Fleet mode: after a listing's table, the line naming the collectors that
// did not answer (the list lacks their entries); nothing when all did.
std::string UnansweredText(
    const google::protobuf::RepeatedPtrField<std::string>& unanswered);

}  // namespace aims::ctl

#endif  // AIMS_CTL_FORMAT_H_
