#include "collector/api/http_params.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/time_util.h"

namespace aims::collector {

absl::Status ParseTimeParam(const HttpRequest& req, const std::string& name,
                            absl::Time fallback, absl::Time* out) {
  if (!req.HasParam(name.c_str())) {
    *out = fallback;
    return absl::OkStatus();
  }
  const std::string text = req.Param(name.c_str());
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

absl::Status ParseRange(const HttpRequest& req, v1::ModelRef* model,
                        google::protobuf::Timestamp* from_out,
                        google::protobuf::Timestamp* to_out,
                        google::protobuf::Duration* step_out) {
  model->set_name(req.Param("name"));
  model->set_version(req.Param("version"));
  model->set_environment(req.HasParam("environment") ? req.Param("environment")
                                                     : "default");
  const absl::Time now = absl::Now();
  absl::Time from, to;
  if (absl::Status s = ParseTimeParam(req, "from", now - absl::Hours(1), &from);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ParseTimeParam(req, "to", now, &to); !s.ok()) return s;
  if (req.HasParam("step")) {
    absl::Duration step;
    if (!absl::ParseDuration(req.Param("step"), &step)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "step: '", req.Param("step"), "' is not a duration such as 10s"));
    }
    *step_out = ToProtoDuration(step);
  }
  *from_out = ToProto(from);
  *to_out = ToProto(to);
  return absl::OkStatus();
}

absl::Status ParseReportParams(const HttpRequest& req,
                               v1::ComplianceReportRequest* request) {
  for (const char* name : {"from", "to"}) {
    if (!req.HasParam(name)) continue;
    absl::Time t;
    if (absl::Status s = ParseTimeParam(req, name, absl::Now(), &t); !s.ok())
      return s;
    *(std::string(name) == "from" ? request->mutable_from()
                                  : request->mutable_to()) = ToProto(t);
  }
  if (req.HasParam("bucket")) {
    absl::Duration bucket;
    if (!absl::ParseDuration(req.Param("bucket"), &bucket)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bucket: '", req.Param("bucket"), "' is not a duration such as 1h"));
    }
    *request->mutable_bucket() = ToProtoDuration(bucket);
  }
  return absl::OkStatus();
}

}  // namespace aims::collector
