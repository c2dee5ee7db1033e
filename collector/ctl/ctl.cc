#include "collector/ctl/ctl.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aims/v1/query.grpc.pb.h"
#include "collector/ctl/table.h"
#include "common/quantile_sketch.h"
#include "common/time_util.h"
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

std::unique_ptr<v1::QueryService::Stub> Connect(const CtlOptions& options) {
  return v1::QueryService::NewStub(grpc::CreateChannel(
      options.collector, grpc::InsecureChannelCredentials()));
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
  Table table({"MODEL", "VERSION", "ENVIRONMENT", "AGENTS", "REPORTS",
               "EVENTS", "LAST_SEEN", "LAST_WINDOW_END"});
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
    table.AddRow({Time(b.start()), Time(b.end()), absl::StrCat(b.report_count()),
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

std::string CommandHelp() {
  return "Commands:\n"
         "  models    models known to the collector, with agent, report and "
         "event counts\n"
         "  agents    agents with last-seen time, connection and sequence "
         "state\n"
         "  windows   stored windows of one model merged across its agents "
         "(--model, --version, [--environment], [--since], [--step])\n";
}

int RunCommand(const std::vector<std::string>& args, const CtlOptions& options,
               std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "aimsctl: no command given\n" << CommandHelp();
    return 2;
  }
  const std::string& command = args[0];
  if (args.size() > 1) {
    err << "aimsctl " << command << ": unexpected argument '" << args[1]
        << "'\n";
    return 2;
  }
  if (command == "models") return Models(options, out, err);
  if (command == "agents") return Agents(options, out, err);
  if (command == "windows") return Windows(options, out, err);
  err << "aimsctl: unknown command '" << command << "'\n" << CommandHelp();
  return 2;
}

}  // namespace aims::ctl
