#include "collector/api/http_params.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/time_util.h"

namespace aims::collector {

absl::Status ParseTimeParam(const httplib::Request& req,
                            const std::string& name, absl::Time fallback,
                            absl::Time* out) {
  if (!req.has_param(name.c_str())) {
    *out = fallback;
    return absl::OkStatus();
  }
  const std::string text = req.get_param_value(name.c_str());
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    // google.protobuf.Timestamp's range; also keeps the conversion to
    // microseconds defined (inf, nan and 1e300 parse as numbers).
    constexpr double kMinSeconds = -62135596800;  // 0001-01-01T00:00:00Z
    constexpr double kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
    if (!(seconds >= kMinSeconds && seconds <= kMaxSeconds)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": '", text,
                       "' is out of range (Unix seconds of years 1 to 9999)"));
    }
    *out = absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6));
    return absl::OkStatus();
  }
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, text, out, &err))
    return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      name, ": '", text, "' is neither RFC 3339 nor Unix seconds"));
}

absl::Status ParseRange(const httplib::Request& req, v1::ModelRef* model,
                        google::protobuf::Timestamp* from_out,
                        google::protobuf::Timestamp* to_out,
                        google::protobuf::Duration* step_out) {
  model->set_name(req.get_param_value("name"));
  model->set_version(req.get_param_value("version"));
  model->set_environment(req.has_param("environment")
                             ? req.get_param_value("environment")
                             : "default");
  const absl::Time now = absl::Now();
  absl::Time from, to;
  if (absl::Status s = ParseTimeParam(req, "from", now - absl::Hours(1), &from);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseTimeParam(req, "to", now, &to); !s.ok()) return s;
  if (req.has_param("step")) {
    absl::Duration step;
    if (!absl::ParseDuration(req.get_param_value("step"), &step)) {
      return absl::InvalidArgumentError(
          absl::StrCat("step: '", req.get_param_value("step"),
                       "' is not a duration such as 10s"));
    }
    *step_out = ToProtoDuration(step);
  }
  *from_out = ToProto(from);
  *to_out = ToProto(to);
  return absl::OkStatus();
}

absl::Status ParseReportParams(const httplib::Request& req,
                               v1::ComplianceReportRequest* request) {
  for (const char* name : {"from", "to"}) {
    if (!req.has_param(name)) continue;
    absl::Time t;
    if (absl::Status s = ParseTimeParam(req, name, absl::Now(), &t); !s.ok())
      return s;
    *(std::string(name) == "from" ? request->mutable_from()
                                  : request->mutable_to()) = ToProto(t);
  }
  if (req.has_param("bucket")) {
    absl::Duration bucket;
    if (!absl::ParseDuration(req.get_param_value("bucket"), &bucket)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bucket: '", req.get_param_value("bucket"),
                       "' is not a duration such as 1h"));
    }
    *request->mutable_bucket() = ToProtoDuration(bucket);
  }
  return absl::OkStatus();
}

}  // namespace aims::collector
