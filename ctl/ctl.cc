#include "ctl/ctl.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "aims/v1/compliance_report.grpc.pb.h"
#include "aims/v1/nonconformity.grpc.pb.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/auth/authorizer.h"
#include "collector/plan/names.h"
#include "collector/plan/plan.h"
#include "common/base/time_util.h"
#include "common/net/bearer_token.h"
#include "common/summary/profile_builder.h"
#include "common/summary/quantile_sketch.h"
#include "ctl/profile_csv.h"
#include "ctl/report_render.h"
#include "ctl/table.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"

namespace aims::ctl {
namespace {

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", FromProto(t),
                          absl::UTCTimeZone());
}

std::string ModelText(const v1::ModelRef& m) {
  return absl::StrCat(m.name(), "/", m.version(), "/", m.environment());
}

int RpcFailed(const grpc::Status& s, const CtlOptions& options,
              std::ostream& err) {
  err << "aimsctl: collector " << options.collector << ": "
      << (s.error_code() == grpc::StatusCode::UNAVAILABLE ? "unreachable: "
                                                          : "")
      << s.error_message() << "\n";
  return 1;
}

std::shared_ptr<grpc::Channel> ChannelTo(const CtlOptions& options) {
  if (options.channel != nullptr) return options.channel;
  return grpc::CreateChannel(options.collector,
                             grpc::InsecureChannelCredentials());
}

std::unique_ptr<v1::QueryService::Stub> Connect(const CtlOptions& options) {
  return v1::QueryService::NewStub(ChannelTo(options));
}

void SetDeadline(grpc::ClientContext* ctx, const CtlOptions& options) {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
}

v1::ModelSelector Selector(const CtlOptions& options) {
  v1::ModelSelector s;
  s.set_name(options.model);
  s.set_version(options.version);
  s.set_environment(options.environment);
  return s;
}

// RFC 3339 date-time, a date (midnight UTC) or Unix seconds.
absl::StatusOr<absl::Time> ParseTimeArg(const std::string& flag,
                                        const std::string& text) {
  absl::Time t;
  double seconds = 0;
  std::string err;
  if (absl::SimpleAtod(text, &seconds))
    return absl::FromUnixMicros(static_cast<int64_t>(seconds * 1e6));
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &err)) return t;
  if (absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &err))
    return t;
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, ": '", text,
                   "' is not RFC 3339 (2026-11-01T00:00:00Z), a date "
                   "(2026-11-01) or Unix seconds"));
}

int Models(const CtlOptions& options, std::ostream& out, std::ostream& err) {
  v1::ListModelsRequest request;
  *request.mutable_selector() = Selector(options);
  v1::ListModelsResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s = Connect(options)->ListModels(&ctx, request, &response);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(response) << "\n";
    return 0;
  }
  Table table({"MODEL", "VERSION", "ENVIRONMENT", "AGENTS", "REPORTS", "EVENTS",
               "LAST_SEEN", "LAST_WINDOW_END"});
  for (const v1::ModelInfo& m : response.models()) {
    table.AddRow({m.model().name(), m.model().version(),
                  m.model().environment(), absl::StrCat(m.agent_count()),
                  absl::StrCat(m.report_count()), absl::StrCat(m.event_count()),
                  Time(m.last_seen()), Time(m.last_window_end())});
  }
  table.Print(out);
  return 0;
}

int Agents(const CtlOptions& options, std::ostream& out, std::ostream& err) {
  v1::ListAgentsRequest request;
  *request.mutable_selector() = Selector(options);
  v1::ListAgentsResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s = Connect(options)->ListAgents(&ctx, request, &response);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(response) << "\n";
    return 0;
  }
  Table table({"AGENT", "MODEL", "POD", "CONNECTED", "REPORTS", "DUPLICATES",
               "DURABLE_SEQ", "EVENTS", "LAST_SEEN"});
  for (const v1::AgentInfo& a : response.agents()) {
    table.AddRow({a.agent().agent_id(), ModelText(a.model()),
                  a.agent().pod().empty() ? "-" : a.agent().pod(),
                  a.connected() ? "yes" : "no", absl::StrCat(a.report_count()),
                  absl::StrCat(a.duplicate_count()),
                  absl::StrCat(a.durable_sequence()),
                  absl::StrCat(a.event_count()), Time(a.last_seen())});
  }
  table.Print(out);
  return 0;
}

std::string Quantile(const v1::QuantileSketch& sketch, double q) {
  absl::StatusOr<QuantileSketch> s = QuantileSketch::FromProto(sketch);
  if (!s.ok() || s->empty()) return "-";
  return absl::StrFormat("%.1fms", s->Quantile(q) * 1e3);
}

int Windows(const CtlOptions& options, std::ostream& out, std::ostream& err) {
  if (options.model.empty() || options.version.empty()) {
    err << "aimsctl windows: --model and --version are required "
           "(--environment defaults to 'default')\n";
    return 2;
  }
  v1::GetSummariesRequest request;
  request.mutable_model()->set_name(options.model);
  request.mutable_model()->set_version(options.version);
  request.mutable_model()->set_environment(
      options.environment.empty() ? "default" : options.environment);
  const absl::Time now = absl::Now();
  *request.mutable_from() = ToProto(now - options.since);
  *request.mutable_to() = ToProto(now + absl::Minutes(1));
  if (options.step > absl::ZeroDuration()) {
    *request.mutable_step() = ToProtoDuration(options.step);
  } else {
    *request.mutable_step() = ToProtoDuration(absl::Seconds(1));
  }
  v1::GetSummariesResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s = Connect(options)->GetSummaries(&ctx, request, &response);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(response) << "\n";
    return 0;
  }
  Table table({"START", "END", "REPORTS", "EVENTS", "ERRORS", "LABELLED",
               "FEATURES", "LATENCY_P50", "LATENCY_P99"});
  for (const v1::SummaryBucket& b : response.buckets()) {
    const v1::WindowSummary& w = b.summary();
    table.AddRow({Time(b.start()), Time(b.end()),
                  absl::StrCat(b.report_count()),
                  absl::StrCat(w.operational().event_count()),
                  absl::StrCat(w.operational().error_count()),
                  absl::StrCat(w.performance().labelled_count()),
                  absl::StrCat(w.features_size()),
                  Quantile(w.operational().latency_seconds(), 0.5),
                  Quantile(w.operational().latency_seconds(), 0.99)});
  }
  table.Print(out);
  return 0;
}

}  // namespace

absl::StatusOr<v1::TaskType> ParseTask(const std::string& task) {
  if (task == "binary") return v1::TASK_TYPE_BINARY;
  if (task == "multiclass") return v1::TASK_TYPE_MULTICLASS;
  if (task == "regression") return v1::TASK_TYPE_REGRESSION;
  return absl::InvalidArgumentError(
      "--task: must be binary, multiclass or regression");
}

int ProfileBuild(const CtlOptions& options, std::ostream& out,
                 std::ostream& err) {
  if (options.input.empty() || options.model.empty() ||
      options.version.empty()) {
    err << "aimsctl profile build: --input, --model and --version are "
           "required\n";
    return 2;
  }
  absl::StatusOr<v1::TaskType> task = ParseTask(options.task);
  if (!task.ok()) {
    err << "aimsctl profile build: " << task.status().message() << "\n";
    return 2;
  }
  std::ifstream in(options.input);
  if (!in) {
    err << "aimsctl profile build: --input: cannot read " << options.input
        << "\n";
    return 2;
  }
  ProfileBuildOptions build;
  build.task = *task;
  build.positive_class = options.positive_class;
  build.numeric_bins = options.bins;
  build.top_k = options.top_k;
  ProfileBuilder builder(build);
  ProfileCsvColumns columns;
  columns.label = options.label_column;
  columns.score = options.score_column;
  columns.prediction = options.prediction_column;
  columns.sensitive = options.sensitive;
  columns.ignore = options.ignore;
  std::vector<std::string> header;
  absl::Status read = AddCsvRows(in, columns, &builder, &header);
  if (!read.ok()) {
    err << "aimsctl profile build: " << options.input << ": " << read.message()
        << "\n";
    return 2;
  }
  for (const std::string& s : options.sensitive) {
    if (std::find(header.begin(), header.end(), s) == header.end()) {
      err << "aimsctl profile build: --sensitive: no column '" << s << "' in "
          << options.input << "\n";
      return 2;
    }
  }
  v1::ModelRef model;
  model.set_name(options.model);
  model.set_version(options.version);
  model.set_environment(options.environment.empty() ? "any"
                                                    : options.environment);
  absl::StatusOr<v1::ReferenceProfile> profile = builder.Build(
      model, v1::PROFILE_SOURCE_TRAINING_DATA,
      absl::StrCat("aimsctl profile build --input=", options.input));
  if (!profile.ok()) {
    err << "aimsctl profile build: " << profile.status().message() << "\n";
    return 2;
  }
  if (builder.truncated()) {
    err << "aimsctl profile build: warning: only the first " << builder.rows()
        << " rows were used\n";
  }
  const std::string json = Json(*profile);
  if (!options.output.empty()) {
    std::ofstream file(options.output, std::ios::trunc);
    file << json << "\n";
    if (!file.good()) {
      err << "aimsctl profile build: --output: cannot write " << options.output
          << "\n";
      return 1;
    }
  }
  if (options.put) {
    v1::PutProfileRequest request;
    *request.mutable_profile() = *profile;
    v1::PutProfileResponse response;
    grpc::ClientContext ctx;
    SetDeadline(&ctx, options);
    grpc::Status s = Connect(options)->PutProfile(&ctx, request, &response);
    if (!s.ok()) return RpcFailed(s, options, err);
    out << "stored profile " << response.profile_id() << " for "
        << options.model << "/" << options.version << " ("
        << profile->row_count() << " rows, " << profile->features_size()
        << " features)\n";
  } else if (options.output.empty()) {
    out << json << "\n";
  } else {
    out << "wrote profile " << profile->profile_id() << " to " << options.output
        << " (" << profile->row_count() << " rows, " << profile->features_size()
        << " features)\n";
  }
  return 0;
}

int ProfilePut(const std::string& path, const CtlOptions& options,
               std::ostream& out, std::ostream& err) {
  std::ifstream in(path);
  if (!in) {
    err << "aimsctl profile put: cannot read " << path << "\n";
    return 2;
  }
  std::stringstream text;
  text << in.rdbuf();
  v1::PutProfileRequest request;
  auto parsed = google::protobuf::util::JsonStringToMessage(
      text.str(), request.mutable_profile());
  if (!parsed.ok()) {
    err << "aimsctl profile put: " << path
        << ": not a profile: " << parsed.message() << "\n";
    return 2;
  }
  v1::PutProfileResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s = Connect(options)->PutProfile(&ctx, request, &response);
  if (!s.ok()) return RpcFailed(s, options, err);
  out << "stored profile " << response.profile_id() << " for "
      << response.profile().model().name() << "/"
      << response.profile().model().version() << "\n";
  return 0;
}

int ProfileShow(const CtlOptions& options, std::ostream& out,
                std::ostream& err) {
  if (options.model.empty() || options.version.empty()) {
    err << "aimsctl profile show: --model and --version are required\n";
    return 2;
  }
  v1::GetProfileRequest request;
  request.mutable_model()->set_name(options.model);
  request.mutable_model()->set_version(options.version);
  v1::ReferenceProfile profile;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s = Connect(options)->GetProfile(&ctx, request, &profile);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(profile) << "\n";
    return 0;
  }
  out << "profile " << profile.profile_id() << "\nsource "
      << v1::ProfileSource_Name(profile.source()) << ", " << profile.row_count()
      << " rows, created " << Time(profile.created_at()) << "\n\n";
  Table table({"FEATURE", "KIND", "BINS", "MIN", "MAX", "MEAN"});
  for (const v1::FeatureProfile& f : profile.features()) {
    const bool numeric = f.kind() == v1::FeatureProfile::KIND_NUMERIC;
    table.AddRow(
        {f.name(), numeric ? "numeric" : "categorical",
         absl::StrCat(numeric ? f.edges_size() + 1 : f.categories_size() + 1),
         numeric ? absl::StrFormat("%g", f.min()) : "-",
         numeric ? absl::StrFormat("%g", f.max()) : "-",
         numeric ? absl::StrFormat("%g", f.mean()) : "-"});
  }
  table.Print(out);
  return 0;
}

std::string Number(double v) {
  if (std::isnan(v)) return "-";
  return absl::StrFormat("%.4g", v);
}

int Metrics(const CtlOptions& options, std::ostream& out, std::ostream& err) {
  if (options.model.empty() || options.version.empty()) {
    err << "aimsctl metrics: --model and --version are required "
           "(--environment defaults to 'default')\n";
    return 2;
  }
  v1::QueryMetricsRequest request;
  request.mutable_model()->set_name(options.model);
  request.mutable_model()->set_version(options.version);
  request.mutable_model()->set_environment(
      options.environment.empty() ? "default" : options.environment);
  const absl::Time now = absl::Now();
  *request.mutable_from() = ToProto(now - options.since);
  *request.mutable_to() = ToProto(now + absl::Minutes(1));
  if (options.step > absl::ZeroDuration()) {
    *request.mutable_step() = ToProtoDuration(options.step);
  }
  for (const std::string& m : options.metrics) request.add_metrics(m);
  v1::QueryMetricsResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s = Connect(options)->QueryMetrics(&ctx, request, &response);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(response) << "\n";
    return 0;
  }
  Table table(
      {"START", "METRIC", "SCOPE", "VALUE", "CI_95", "P_VALUE", "N", "STATE"});
  for (const v1::MetricPoint& point : response.points()) {
    for (const v1::MetricValue& v : point.values()) {
      std::string scope = v.feature();
      if (!v.attribute().empty()) {
        scope = v.attribute() + (v.group().empty() ? "" : "=" + v.group());
      }
      const char* state = v.state() == v1::EVIDENCE_STATE_OK ? "ok"
                          : v.state() == v1::EVIDENCE_STATE_INSUFFICIENT
                              ? "insufficient"
                              : "n/a";
      table.AddRow(
          {Time(point.start()), v.metric(), scope.empty() ? "-" : scope,
           Number(v.value()),
           std::isnan(v.ci_low()) ? "-"
                                  : absl::StrCat("[", Number(v.ci_low()), ", ",
                                                 Number(v.ci_high()), "]"),
           v.has_p_value() ? absl::StrFormat("%.3g", v.p_value()) : "-",
           absl::StrCat(v.sample_size()), state});
    }
  }
  table.Print(out);
  return 0;
}

std::unique_ptr<v1::NonconformityService::Stub> ConnectNc(
    const CtlOptions& options) {
  return v1::NonconformityService::NewStub(ChannelTo(options));
}

std::string StageText(v1::NonconformityStage stage) {
  return collector::StageName(stage);
}

// The evaluator's state names, shortened for tables.
std::string ObjectiveStateText(v1::ObjectiveState s) {
  if (s == v1::OBJECTIVE_STATE_UNSPECIFIED) return "-";
  if (s == v1::OBJECTIVE_STATE_INSUFFICIENT_EVIDENCE) return "insufficient";
  return collector::ObjectiveStateName(s);
}

int PlanValidate(const std::string& path, const CtlOptions& options,
                 std::ostream& out, std::ostream& err) {
  absl::StatusOr<collector::Plan> plan = collector::LoadPlanFile(path);
  if (!plan.ok()) {
    err << plan.status().message() << "\n";
    return 2;
  }
  if (options.json) {
    out << "{\"version\":\"" << plan->version
        << "\",\"objectives\":" << plan->objectives.size() << "}\n";
    return 0;
  }
  out << path << ": valid, version " << plan->version.substr(0, 16) << ", "
      << plan->objectives.size() << " objectives\n";
  Table table({"ID", "METRIC", "SCOPE", "MUST_HOLD", "WINDOW", "FOR",
               "SEVERITY", "ISO"});
  for (const collector::Objective& o : plan->objectives) {
    std::string scope = o.feature.empty() ? "" : "feature=" + o.feature;
    if (!o.attribute.empty())
      scope = o.attribute + (o.group.empty() ? "" : "=" + o.group);
    table.AddRow({o.id, o.metric, scope.empty() ? "*" : scope,
                  absl::StrCat(collector::ComparatorText(o.comparator), " ",
                               o.threshold),
                  absl::FormatDuration(o.window),
                  absl::FormatDuration(o.for_duration),
                  collector::SeverityText(o.severity),
                  absl::StrJoin(o.iso_references, ",")});
  }
  table.Print(out);
  return 0;
}

int PlanReload(const CtlOptions& options, std::ostream& out,
               std::ostream& err) {
  v1::PlanInfo info;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s =
      ConnectNc(options)->ReloadPlan(&ctx, v1::ReloadPlanRequest(), &info);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(info) << "\n";
  } else {
    out << "plan " << info.version().substr(0, 16) << " from " << info.source()
        << ": " << info.objectives() << " objectives, " << info.unchanged()
        << " unchanged\n";
  }
  return 0;
}

int Objectives(const CtlOptions& options, std::ostream& out,
               std::ostream& err) {
  v1::ListObjectiveStatesRequest request;
  *request.mutable_selector() = Selector(options);
  request.set_objective_id(options.objective);
  v1::ListObjectiveStatesResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s =
      ConnectNc(options)->ListObjectiveStates(&ctx, request, &response);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(response) << "\n";
    return 0;
  }
  Table table({"OBJECTIVE", "SERIES", "STATE", "VALUE", "N", "SINCE", "NC"});
  for (const v1::ObjectiveStatus& st : response.states()) {
    const bool active = st.state() == v1::OBJECTIVE_STATE_PENDING ||
                        st.state() == v1::OBJECTIVE_STATE_FIRING;
    table.AddRow({st.objective_id(), st.series(),
                  ObjectiveStateText(st.state()),
                  Number(st.last_value().value()),
                  absl::StrCat(st.last_value().sample_size()),
                  active ? Time(st.active_since()) : "-",
                  st.nonconformity_id().empty() ? "-" : st.nonconformity_id()});
  }
  table.Print(out);
  return 0;
}

int NcList(const CtlOptions& options, std::ostream& out, std::ostream& err) {
  v1::ListNonconformitiesRequest request;
  *request.mutable_selector() = Selector(options);
  request.set_objective_id(options.objective);
  for (const std::string& stage : options.stages) {
    bool found = false;
    for (int i = v1::NONCONFORMITY_STAGE_OPEN;
         i <= v1::NONCONFORMITY_STAGE_CLOSED; ++i) {
      if (StageText(static_cast<v1::NonconformityStage>(i)) == stage) {
        request.add_stages(static_cast<v1::NonconformityStage>(i));
        found = true;
      }
    }
    if (!found) {
      err << "--stage: '" << stage
          << "' is not one of open, acknowledged, cause_analysed, "
             "action_recorded, "
             "effectiveness_reviewed, closed\n";
      return 2;
    }
  }
  if (!options.severity.empty()) {
    v1::Severity min = v1::SEVERITY_UNSPECIFIED;
    for (v1::Severity s :
         {v1::SEVERITY_INFO, v1::SEVERITY_WARNING, v1::SEVERITY_CRITICAL}) {
      if (collector::SeverityText(s) == options.severity) min = s;
    }
    if (min == v1::SEVERITY_UNSPECIFIED) {
      err << "--severity: '" << options.severity
          << "' is not one of info, warning, critical\n";
      return 2;
    }
    request.set_min_severity(min);
  }
  request.set_owner(options.owner);
  if (!options.from.empty()) {
    absl::StatusOr<absl::Time> from = ParseTimeArg("from", options.from);
    if (!from.ok()) {
      err << from.status().message() << "\n";
      return 2;
    }
    *request.mutable_opened_after() = ToProto(*from);
  }
  v1::ListNonconformitiesResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s =
      ConnectNc(options)->ListNonconformities(&ctx, request, &response);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(response) << "\n";
    return 0;
  }
  Table table({"ID", "OPENED", "SEVERITY", "STAGE", "OBJECTIVE", "SERIES",
               "VALUE", "N", "OCCURRED", "RESOLVED"});
  for (const v1::Nonconformity& nc : response.nonconformities()) {
    table.AddRow({nc.id(), Time(nc.opened_at()),
                  collector::SeverityText(nc.severity()), StageText(nc.stage()),
                  nc.objective_id(), nc.series(),
                  Number(nc.evidence().value().value()),
                  absl::StrCat(nc.evidence().value().sample_size()),
                  absl::StrCat(nc.occurrences()),
                  nc.auto_resolved() ? Time(nc.resolved_at()) : "-"});
  }
  table.Print(out);
  return 0;
}

void PrintNonconformity(const v1::Nonconformity& nc, std::ostream& out) {
  const v1::Evidence& e = nc.evidence();
  const v1::MetricValue& v = e.value();
  out << nc.id() << "  " << nc.title() << "\n"
      << "  stage:        " << StageText(nc.stage())
      << (nc.auto_resolved()
              ? absl::StrCat(" (auto-resolved ", Time(nc.resolved_at()), ")")
              : "")
      << "\n"
      << "  severity:     " << collector::SeverityText(nc.severity()) << "\n"
      << "  owner:        " << (nc.owner().empty() ? "-" : nc.owner()) << "\n"
      << "  objective:    " << nc.objective_id() << " (plan "
      << nc.plan_version().substr(0, 16) << ")\n"
      << "  model:        " << ModelText(nc.model()) << "\n"
      << "  series:       " << nc.series() << "\n"
      << "  iso:          " << absl::StrJoin(nc.iso_references(), ", ") << "\n"
      << "  opened:       " << Time(nc.opened_at()) << ", occurrences "
      << nc.occurrences() << ", last fired " << Time(nc.last_fired_at()) << "\n"
      << (nc.recurrence_of().empty()
              ? ""
              : "  recurrence of " + nc.recurrence_of() + "\n")
      << "  evidence:     " << v.metric() << " = " << Number(v.value())
      << " (must be " << e.comparator() << " " << e.threshold()
      << "), n = " << v.sample_size();
  if (!std::isnan(v.ci_low()))
    out << ", 95% CI [" << Number(v.ci_low()) << ", " << Number(v.ci_high())
        << "]";
  if (v.has_p_value()) out << ", p = " << absl::StrFormat("%.3g", v.p_value());
  out << "\n  window:       " << Time(e.window_start()) << " .. "
      << Time(e.window_end()) << "\n"
      << "  reports:      "
      << (e.report_ids().empty() ? "-" : absl::StrJoin(e.report_ids(), " "))
      << "\n  history:\n";
  for (const v1::Transition& t : nc.history()) {
    out << "    " << Time(t.at()) << "  " << t.actor() << "  "
        << StageText(t.from()) << " -> " << StageText(t.to())
        << (t.comment().empty() ? "" : "  " + t.comment()) << "\n";
  }
}

int NcShow(const std::string& id, const CtlOptions& options, std::ostream& out,
           std::ostream& err) {
  v1::GetNonconformityRequest request;
  request.set_id(id);
  v1::Nonconformity nc;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s = ConnectNc(options)->GetNonconformity(&ctx, request, &nc);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(nc) << "\n";
  } else {
    PrintNonconformity(nc, out);
  }
  return 0;
}

int NcStep(const std::string& verb, const std::string& id,
           const CtlOptions& options, std::ostream& out, std::ostream& err) {
  static const std::map<std::string, v1::NonconformityStage> kVerbs = {
      {"ack", v1::NONCONFORMITY_STAGE_ACKNOWLEDGED},
      {"analyse", v1::NONCONFORMITY_STAGE_CAUSE_ANALYSED},
      {"act", v1::NONCONFORMITY_STAGE_ACTION_RECORDED},
      {"review", v1::NONCONFORMITY_STAGE_EFFECTIVENESS_REVIEWED},
      {"close", v1::NONCONFORMITY_STAGE_CLOSED}};
  v1::TransitionRequest request;
  request.set_id(id);
  request.set_to(kVerbs.at(verb));
  request.set_comment(options.comment);
  request.set_actor(options.actor);
  v1::Nonconformity nc;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s =
      ConnectNc(options)->TransitionNonconformity(&ctx, request, &nc);
  if (!s.ok()) {
    if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
        s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
        s.error_code() == grpc::StatusCode::NOT_FOUND) {
      err << "aimsctl nc " << verb << ": " << s.error_message() << "\n";
      return 1;
    }
    return RpcFailed(s, options, err);
  }
  if (options.json) {
    out << Json(nc) << "\n";
  } else {
    out << nc.id() << " is now " << StageText(nc.stage()) << " (by "
        << options.actor << ")\n";
  }
  return 0;
}

int AuditVerify(const CtlOptions& options, std::ostream& out,
                std::ostream& err) {
  v1::VerifyAuditResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s = ConnectNc(options)->VerifyAudit(
      &ctx, v1::VerifyAuditRequest(), &response);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(response) << "\n";
  } else if (response.intact()) {
    out << "audit trail intact: " << response.records_checked()
        << " records, hash chain verified\n";
  } else {
    out << "audit trail BROKEN at record " << response.first_broken_index()
        << ": " << response.detail() << " (" << response.records_checked()
        << " records before it verified)\n";
  }
  return response.intact() ? 0 : 3;
}

int AuditList(const CtlOptions& options, std::ostream& out, std::ostream& err) {
  v1::ListAuditRequest request;
  request.set_from_index(options.from_index);
  request.set_limit(options.limit);
  v1::ListAuditResponse response;
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  grpc::Status s = ConnectNc(options)->ListAudit(&ctx, request, &response);
  if (!s.ok()) return RpcFailed(s, options, err);
  if (options.json) {
    out << Json(response) << "\n";
    return 0;
  }
  Table table({"INDEX", "AT", "ACTOR", "KIND", "BODY", "HASH"});
  for (const v1::AuditRecord& r : response.records()) {
    table.AddRow({absl::StrCat(r.index()), Time(r.at()), r.actor(), r.kind(),
                  r.body(), r.hash().substr(0, 12)});
  }
  table.Print(out);
  return 0;
}

int Report(const CtlOptions& options, std::ostream& out, std::ostream& err) {
  if (options.format != "markdown" && options.format != "html" &&
      options.format != "csv") {
    err << "aimsctl report: --format: '" << options.format
        << "' is not markdown, html or csv\n";
    return 2;
  }
  v1::ComplianceReportRequest request;
  *request.mutable_selector() = Selector(options);
  for (const char* flag : {"from", "to"}) {
    const bool is_from = std::string_view(flag) == "from";
    const std::string& text = is_from ? options.from : options.to;
    if (text.empty()) continue;
    absl::StatusOr<absl::Time> t = ParseTimeArg(flag, text);
    if (!t.ok()) {
      err << "aimsctl report: " << t.status().message() << "\n";
      return 2;
    }
    *(is_from ? request.mutable_from() : request.mutable_to()) = ToProto(*t);
  }
  if (options.bucket != absl::ZeroDuration())
    *request.mutable_bucket() = ToProtoDuration(options.bucket);
  auto stub = v1::ComplianceReportService::NewStub(ChannelTo(options));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, options);
  v1::ComplianceReport report;
  grpc::Status s = stub->GetComplianceReport(&ctx, request, &report);
  if (!s.ok()) return RpcFailed(s, options, err);
  std::string text;
  if (options.json) {
    text = Json(report) + "\n";
  } else {
    const ReportDocument doc = BuildReportDocument(report);
    if (options.format == "markdown") {
      text = RenderMarkdown(doc);
    } else if (options.format == "html") {
      text = RenderHtml(doc);
    } else {
      absl::StatusOr<std::string> csv = RenderCsv(doc, options.table);
      if (!csv.ok()) {
        err << "aimsctl report: " << csv.status().message() << "\n";
        return 2;
      }
      text = *csv;
    }
  }
  if (options.output.empty()) {
    out << text;
    return 0;
  }
  std::ofstream file(options.output, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    err << "aimsctl report: --output: cannot write " << options.output << "\n";
    return 1;
  }
  out << "wrote " << options.output << " (" << text.size() << " bytes, "
      << report.objectives_size() << " objectives, "
      << report.nonconformities_size() << " nonconformities)\n";
  return 0;
}

std::string CommandHelp() {
  return "Commands:\n"
         "  models    models known to the collector, with agent, report and "
         "event counts\n"
         "  agents    agents with last-seen time, connection and sequence "
         "state\n"
         "  windows   stored windows of one model merged across its agents "
         "(--model, --version, [--environment], [--since], [--step])\n"
         "  metrics   performance, drift and fairness metrics of one model per "
         "step (--model, --version, [--environment], [--since], [--step], "
         "[--metric=a,b])\n"
         "  objectives      evaluation state of every objective series "
         "([--model ...] [--objective])\n"
         "  nc list         nonconformities ([--model ...] [--objective] "
         "[--stage=open,acknowledged,...] [--severity=warning (and above)] "
         "[--owner] [--from=opened since])\n"
         "  nc show ID      one nonconformity with evidence and history\n"
         "  nc ack|analyse|act|review|close ID --comment=TEXT [--actor=NAME]\n"
         "                  the clause 10.2 steps, in this order; analyse, "
         "act, "
         "review and close need a comment\n"
         "  plan validate FILE   check a monitoring plan (errors name "
         "file:line:column "
         "and field)\n"
         "  plan reload     make the collector re-read its --plan file\n"
         "  audit verify    check the audit trail's hash chain (exit 3 if "
         "broken)\n"
         "  audit list      audit records ([--from_index] [--limit])\n"
         "  report          compliance evidence for a period: 9.1 results per "
         "objective, 9.3 nonconformity and corrective-action trend, open "
         "items ([--from] [--to] [--bucket] [--format=markdown|html|csv] "
         "[--table=results|objectives|trend|open|nonconformities|plan|"
         "summary] [--output=FILE] [--model ...])\n"
         "  profile build   reference profile from training data: --input=CSV "
         "--model --version [--task] [--label_column] [--score_column] "
         "[--prediction_column] [--sensitive=a,b] [--ignore=c] [--bins] "
         "[--top_k] [--output=FILE] [--put]\n"
         "  profile put FILE   store a profile (JSON) at the collector\n"
         "  profile show      the profile of --model --version\n"
         "  token create    a new bearer token (printed once) and its entry "
         "for the collector's --auth_tokens_file: --name --role=agent|viewer|"
         "compliance|admin [--models=a,b for agent tokens]; no collector "
         "needed\n";
}

// Makes a token locally (no collector involved): the token is printed once,
// the collector's tokens file gets only its SHA-256.
int TokenCreate(const CtlOptions& options, std::ostream& out,
                std::ostream& err) {
  const std::string& role = options.token_role;
  if (!collector::ValidTokenName(options.token_name)) {
    err << "aimsctl token create: --name: '" << options.token_name
        << "': 1..64 of A-Z a-z 0-9 . _ - @ (required)\n";
    return 2;
  }
  if (role != "agent" && role != "viewer" && role != "compliance" &&
      role != "admin") {
    err << "aimsctl token create: --role: '" << role
        << "' is not agent, viewer, compliance or admin\n";
    return 2;
  }
  if (!options.token_models.empty() && role != "agent") {
    err << "aimsctl token create: --models: only agent tokens name models\n";
    return 2;
  }
  // Names are plain (checked above), so the JSON needs no escaping.
  std::vector<std::string> models = options.token_models;
  if (role == "agent" && models.empty()) models.push_back("*");
  std::string entry = absl::StrCat("  - name: ", options.token_name,
                                   "\n    role: ", role, "\n");
  if (!models.empty()) {
    std::vector<std::string> quoted;
    for (const std::string& m : models)
      quoted.push_back(absl::StrCat("'", m, "'"));
    absl::StrAppend(&entry, "    models: [", absl::StrJoin(quoted, ", "),
                    "]\n");
  }
  const std::string token = NewToken();
  const std::string digest = TokenSha256(token);
  absl::StrAppend(&entry, "    sha256: ", digest, "\n");
  if (options.json) {
    out << "{\"name\":\"" << options.token_name << "\",\"role\":\"" << role
        << "\",\"token\":\"" << token << "\",\"sha256\":\"" << digest
        << "\"}\n";
    return 0;
  }
  out << "token (shown once; store it in a file readable only by its "
         "user, e.g. mode 0600):\n  "
      << token
      << "\n\nentry for the collector's --auth_tokens_file (under "
         "'tokens:'):\n"
      << entry << "\nagent intake (--intake_token_sha256): " << digest << "\n";
  return 0;
}

int RunCommand(const std::vector<std::string>& args, const CtlOptions& options,
               std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "aimsctl: no command given\n" << CommandHelp();
    return 2;
  }
  const std::string& command = args[0];
  if (command == "profile") {
    const std::string sub = args.size() > 1 ? args[1] : "";
    if (sub == "build" && args.size() == 2)
      return ProfileBuild(options, out, err);
    if (sub == "put" && args.size() == 3)
      return ProfilePut(args[2], options, out, err);
    if (sub == "show" && args.size() == 2)
      return ProfileShow(options, out, err);
    err << "aimsctl profile: expected 'build', 'put FILE' or 'show'\n"
        << CommandHelp();
    return 2;
  }
  if (command == "plan") {
    const std::string sub = args.size() > 1 ? args[1] : "";
    if (sub == "validate" && args.size() == 3)
      return PlanValidate(args[2], options, out, err);
    if (sub == "reload" && args.size() == 2)
      return PlanReload(options, out, err);
    err << "aimsctl plan: expected 'validate FILE' or 'reload'\n";
    return 2;
  }
  if (command == "nc") {
    const std::string sub = args.size() > 1 ? args[1] : "";
    if (sub == "list" && args.size() == 2) return NcList(options, out, err);
    if (sub == "show" && args.size() == 3)
      return NcShow(args[2], options, out, err);
    if ((sub == "ack" || sub == "analyse" || sub == "act" || sub == "review" ||
         sub == "close") &&
        args.size() == 3) {
      return NcStep(sub, args[2], options, out, err);
    }
    err << "aimsctl nc: expected 'list', or 'show|ack|analyse|act|review|close "
           "ID'\n";
    return 2;
  }
  if (command == "audit") {
    const std::string sub = args.size() > 1 ? args[1] : "";
    if (sub == "verify" && args.size() == 2)
      return AuditVerify(options, out, err);
    if (sub == "list" && args.size() == 2) return AuditList(options, out, err);
    err << "aimsctl audit: expected 'verify' or 'list'\n";
    return 2;
  }
  if (command == "token") {
    if (args.size() == 2 && args[1] == "create") {
      return TokenCreate(options, out, err);
    }
    err << "aimsctl token: expected 'create'\n";
    return 2;
  }
  if (command == "report" && args.size() == 1) return Report(options, out, err);
  if (command == "objectives" && args.size() == 1)
    return Objectives(options, out, err);
  if (args.size() > 1) {
    err << "aimsctl " << command << ": unexpected argument '" << args[1]
        << "'\n";
    return 2;
  }
  if (command == "models") return Models(options, out, err);
  if (command == "agents") return Agents(options, out, err);
  if (command == "windows") return Windows(options, out, err);
  if (command == "metrics") return Metrics(options, out, err);
  err << "aimsctl: unknown command '" << command << "'\n" << CommandHelp();
  return 2;
}

}  // namespace aims::ctl
