#include "collector/api/http_params.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/plan/names.h"
#include "common/base/time_util.h"
#include "common/base/utf8.h"
#include "google/protobuf/util/json_util.h"

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

absl::Status ParseScope(const HttpRequest& req, CallScope* scope) {
  const std::string value = req.Param("scope");
  if (value.empty() || value == "fleet") {
    *scope = CallScope::kFleet;
  } else if (value == "collector") {
    *scope = CallScope::kCollector;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "scope: '", CutUtf8(value, 32), "' is not fleet or collector"));
  }
  return absl::OkStatus();
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

absl::Status ParseNonconformityFilters(
    const HttpRequest& req, v1::ListNonconformitiesRequest* request) {
  for (absl::string_view name :
       absl::StrSplit(req.Param("stage"), ',', absl::SkipEmpty())) {
    const v1::NonconformityStage stage = StageFromName(name);
    if (stage == v1::NONCONFORMITY_STAGE_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(
          "stage: '", name,
          "' is not one of open, acknowledged, cause_analysed, "
          "action_recorded, effectiveness_reviewed, closed, invalid, "
          "risk_accepted"));
    }
    request->add_stages(stage);
  }
  if (req.HasParam("severity")) {
    std::optional<v1::Severity> s = SeverityFromText(req.Param("severity"));
    if (!s.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("severity: '", req.Param("severity"),
                       "' is not one of info, warning, critical"));
    }
    request->set_min_severity(*s);
  }
  request->set_owner(req.Param("owner"));
  request->set_objective_id(req.Param("objective"));
  absl::Time t;
  if (req.HasParam("from")) {
    if (absl::Status s = ParseTimeParam(req, "from", absl::Now(), &t); !s.ok())
      return s;
    *request->mutable_opened_after() = ToProto(t);
  }
  if (req.HasParam("to")) {
    if (absl::Status s = ParseTimeParam(req, "to", absl::Now(), &t); !s.ok())
      return s;
    *request->mutable_opened_before() = ToProto(t);
  }
  return absl::OkStatus();
}

absl::Status ParseAuditParams(const HttpRequest& req,
                              v1::ListAuditRequest* request) {
  uint64_t from = 0;
  if (req.HasParam("from_index") &&
      !absl::SimpleAtoi(req.Param("from_index"), &from)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "from_index: '", req.Param("from_index"), "' is not a record index"));
  }
  uint32_t limit = 1000;
  if (req.HasParam("limit") && (!absl::SimpleAtoi(req.Param("limit"), &limit) ||
                                limit == 0 || limit > 10000)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit: '", req.Param("limit"), "' is not a number in 1..10000"));
  }
  request->set_from_index(from);
  request->set_limit(limit);
  request->set_collector(req.Param("collector"));
  return absl::OkStatus();
}

absl::Status ParseJsonBody(const HttpRequest& req,
                           google::protobuf::Message* message) {
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      req.body.empty() ? "{}" : req.body, message);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("body: not a ", message->GetDescriptor()->name(),
                     " in JSON: ", std::string(parsed.message())));
  }
  return absl::OkStatus();
}

}  // namespace aims::collector
