// aims-agent: sidecar beside a model server. Takes inference events on
// localhost, folds them into window summaries and delivers them to
// aims-collector. See --help and docs/events.md.
#include <csignal>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "agent/agent.h"
#include "common/base/cli.h"
#include "common/base/log.h"
#include "common/base/signals.h"
#include "common/net/bearer_token.h"
#include "common/net/http_flags.h"
#include "common/net/http_server.h"

ABSL_FLAG(std::string, http_listen, "127.0.0.1:9465",
          "host:port of the intake (POST /v1/events) and of /metrics, "
          "/healthz, /readyz. Loopback by default: the model server is local.");
ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:9466",
          "host:port of the gRPC intake (aims.v1.AgentIntakeService) for "
          "high-rate model servers; empty disables it.");
ABSL_FLAG(std::string, collector, "127.0.0.1:4317",
          "gRPC address (host:port) of aims-collector.");
ABSL_FLAG(std::string, collector_ca_file, "",
          "TLS to the collector: CA certificate (PEM) its certificate must be "
          "signed by. Empty: plaintext.");
ABSL_FLAG(std::string, collector_cert_file, "",
          "mTLS: this agent's certificate (PEM), for a collector started with "
          "--tls_client_ca_file. Re-read when it changes.");
ABSL_FLAG(std::string, collector_key_file, "",
          "mTLS: the key of --collector_cert_file (PEM).");
ABSL_FLAG(std::string, collector_server_name, "",
          "TLS: name to verify in the collector's certificate instead of the "
          "host of --collector.");
ABSL_FLAG(std::string, collector_token_file, "",
          "File holding the bearer token (an agent token of the collector's "
          "--auth_tokens_file) sent with every call to the collector. Empty: "
          "none.");
ABSL_FLAG(std::string, intake_token_sha256, "",
          "SHA-256 (64 hex digits) of the token callers of the intake (HTTP "
          "/v1/events, /v1/labels and gRPC) must send as 'Authorization: "
          "Bearer <token>'; others get 401 / UNAUTHENTICATED. Empty: intake "
          "open (it binds to loopback by default). 'aimsctl token create' "
          "prints a token and its digest.");
ABSL_FLAG(std::string, data_dir, "./var/aims-agent",
          "Directory of the spool (closed windows not yet acknowledged) and "
          "of the agent's identity; keep it across restarts.");
ABSL_FLAG(std::string, model_name, "", "Model name (required).");
ABSL_FLAG(std::string, model_version, "", "Model version (required).");
ABSL_FLAG(std::string, environment, "default", "Deployment environment.");
ABSL_FLAG(std::string, agent_id, "",
          "Stable agent id; default: a UUID generated once and kept in "
          "--data_dir.");
ABSL_FLAG(std::string, pod, "", "Pod name (Kubernetes), for the registry.");
ABSL_FLAG(std::string, pod_namespace, "", "Pod namespace (Kubernetes).");
ABSL_FLAG(absl::Duration, window, absl::Seconds(10),
          "Window length: events are summarised per window of the agent's "
          "clock, aligned to multiples of it. 1s..1h.");
ABSL_FLAG(absl::Duration, grace_period, absl::Seconds(10),
          "On SIGTERM, how long to wait for the collector to acknowledge the "
          "spool before exiting (the rest is sent after the next start).");
ABSL_FLAG(std::string, task, "binary",
          "What the model predicts: binary, multiclass or regression.");
ABSL_FLAG(std::string, positive_class, "1",
          "Binary tasks: the class that counts as positive (fairness, AUC).");
ABSL_FLAG(int64_t, intake_log_max_bytes, 256ll << 20,
          "Bound of the intake log: events and labels answered 'accepted' "
          "whose window is not yet in the spool, kept on disk so that a "
          "killed agent loses none of them. Beyond it intake answers 503 "
          "(it only fills while windows cannot be spooled).");
ABSL_FLAG(int64_t, spool_max_bytes, 64ll << 20,
          "Bound of the spool in bytes. When a closed window does not fit, "
          "--spool_full_policy decides; every dropped window is counted and "
          "reported to the collector as a gap.");
ABSL_FLAG(std::string, spool_full_policy, "drop_oldest",
          "drop_oldest (keep the newest windows) or drop_newest.");
ABSL_FLAG(int, intake_threads, 4, "HTTP intake worker threads.");
ABSL_FLAG(int, intake_queue_capacity, 256,
          "HTTP requests that may wait for a worker; beyond it the intake "
          "answers 429 with Retry-After (the gRPC intake answers "
          "RESOURCE_EXHAUSTED beyond --grpc_max_in_flight calls).");
ABSL_FLAG(int, grpc_max_in_flight, 64, "gRPC intake calls processed at once.");
ABSL_FLAG(int64_t, max_pending_prediction_bytes, 0,
          "Bytes of the predictions (with a prediction_id and no inline "
          "label) the open window keeps for a delayed label; beyond it a "
          "prediction is counted but cannot be joined (aims_agent_limit_"
          "overflows_total{limit=\"pending_prediction_bytes\"}). 0: "
          "--intake_log_max_bytes / 16 (16 MiB by default), also the most.");
ABSL_FLAG(int64_t, max_forwarded_labels, 100'000,
          "Delayed labels one window forwards to the collector's central "
          "join; beyond it a label is refused with a per-item error.");
ABSL_FLAG(int64_t, max_forwarded_label_bytes, 0,
          "Bytes of the labels one window forwards; beyond it a label is "
          "refused with a per-item error. 0: --intake_log_max_bytes / 16, "
          "also the most.");
// Limits on hostile and broken input (docs/events.md#limits). Each refusal
// or overflow is counted in aims_agent_limit_rejections_total or
// aims_agent_limit_overflows_total{limit=<flag without --max_>}.
ABSL_FLAG(int64_t, max_body_bytes, 16 << 20,
          "Largest HTTP request body (413 beyond; a body without "
          "Content-Length gets 411) and gRPC intake message "
          "(RESOURCE_EXHAUSTED beyond; gRPC itself refuses messages over "
          "twice this), in bytes.");
ABSL_FLAG(int64_t, max_events_per_batch, 10000,
          "Events or labels in one request; a larger request is refused whole "
          "(400 / INVALID_ARGUMENT).");
ABSL_FLAG(int64_t, max_features_per_event, 1000,
          "Features of one event; an event with more is refused.");
ABSL_FLAG(int64_t, max_attributes_per_event, 32,
          "Sensitive attributes of one event; an event with more is refused.");
ABSL_FLAG(int64_t, max_probabilities_per_event, 1000,
          "Class probabilities of one event; an event with more is refused.");
ABSL_FLAG(int64_t, max_name_bytes, 128,
          "Longest feature, attribute or class name; an event with a longer "
          "one is refused.");
ABSL_FLAG(int64_t, max_string_bytes, 1024,
          "Longest categorical feature value or attribute value; an event "
          "with a longer one is refused.");
ABSL_FLAG(int64_t, max_prediction_id_bytes, 128,
          "Longest prediction_id; an event or label with a longer one is "
          "refused.");
ABSL_FLAG(absl::Duration, max_clock_skew, absl::Minutes(5),
          "An event or label whose timestamp is further ahead of the agent's "
          "clock is refused.");
ABSL_FLAG(absl::Duration, max_event_age, absl::Hours(7 * 24),
          "An event whose timestamp is older by the agent's clock is refused "
          "(aimsctl backfill loads older history).");
ABSL_FLAG(std::string, window_time, "event",
          "event: an event goes to the window of its timestamp (of its "
          "arrival when it has none); arrival: always to the window of its "
          "arrival.");
ABSL_FLAG(absl::Duration, allowed_lateness, absl::Minutes(2),
          "How long past its end a window stays open for events of its time; "
          "a later event still goes to its window, in an extra report, "
          "counted in late_events.");
ABSL_FLAG(int64_t, max_open_windows, 256,
          "Windows (and late extra reports) held open at once; an event that "
          "would open one more is refused (limit open_windows). Each is "
          "bounded by the per-window limits.");
ABSL_FLAG(int64_t, max_features_per_window, 512,
          "Distinct features in one window; values of further features are "
          "dropped (counted, and in the window's rejected_by_reason as "
          "feature_limit). Keep within the collector's --max_report_features.");
ABSL_FLAG(int64_t, max_attributes_per_window, 32,
          "Distinct sensitive attributes in one window; values of further "
          "attributes are dropped. Keep within the collector's "
          "--max_report_attributes.");
ABSL_FLAG(int64_t, max_classes_per_window, 64,
          "Distinct classes in one window's confusion matrix; further classes "
          "fold into __other__. Keep within the collector's "
          "--max_report_classes.");
ABSL_FLAG(int64_t, max_groups_per_attribute, 64,
          "Distinct groups of one attribute in a window; further groups fold "
          "into __other__. Keep within the collector's "
          "--max_report_groups_per_attribute.");
ABSL_FLAG(std::vector<std::string>, slice_keys, {},
          "Slice keys, comma-separated (e.g. region,channel): attributes, "
          "else categorical features, whose values each get their own "
          "performance and data-quality counts (docs/metrics.md, Slices).");
ABSL_FLAG(std::string, feature_sketches, "unprofiled",
          "Which numeric features keep a quantile sketch (1 % relative "
          "error, returned by GetSummaries with sketches): unprofiled (those "
          "the reference profile does not bin; a binned feature's drift is "
          "read from its bins) or all (about 4 ns more a value, and larger "
          "reports).");
ABSL_FLAG(int64_t, max_slice_values, 20,
          "Named values per slice key in one window; further values fold "
          "into __other__ (counted). Keep within the collector's "
          "--max_report_slice_values.");
ABSL_FLAG(int64_t, max_categories_per_feature, 1000,
          "Distinct categories per feature counted for the first-events "
          "reference profile; values of further categories count in its "
          "'other' bin.");
ABSL_FLAG(int64_t, reference_events, 1000,
          "Without a reference profile from the collector, the first this-many "
          "events become the reference (bins for drift), frozen and recorded "
          "at the collector, which keeps the first one per model version. 0: "
          "wait for a profile (aimsctl profile put).");
ABSL_FLAG(bool, require_profile, false,
          "Answer /readyz with 503 until a reference profile is in force.");
ABSL_FLAG(std::string, ports_file, "",
          "If set, write 'http PORT' and 'grpc PORT' here once listening "
          "(for port 0).");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error.");

namespace {

using aims::agent::Agent;
using aims::agent::AgentOptions;

constexpr char kUsage[] =
    "monitoring sidecar for one model server replica.\n\n"
    "Usage: aims-agent --model_name=NAME --model_version=VERSION "
    "[--flag=value ...]\n\n"
    "Send events with: curl -X POST --data-binary @events.json "
    "http://127.0.0.1:9465/v1/events\n"
    "(a JSON array of events or JSON lines; fields in docs/events.md).\n"
    "SIGTERM/SIGINT: stop accepting, close the window, drain the spool.\n"
    "Every flag can also be set as AIMS_<FLAG> in the environment (e.g. "
    "AIMS_MODEL_NAME) or in --config=FILE; command-line flags win.";

// The options the flags ask for; Validate() checks them. Counts are size_t:
// a negative flag value wraps here and Validate() names it as given.
absl::StatusOr<AgentOptions> OptionsFromFlags() {
  AgentOptions o;
  o.http_listen = absl::GetFlag(FLAGS_http_listen);
  ApplyHttpFlags(&o.http);
  o.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  o.collector = absl::GetFlag(FLAGS_collector);
  o.collector_tls.ca_file = absl::GetFlag(FLAGS_collector_ca_file);
  o.collector_tls.cert_file = absl::GetFlag(FLAGS_collector_cert_file);
  o.collector_tls.key_file = absl::GetFlag(FLAGS_collector_key_file);
  o.collector_tls.server_name = absl::GetFlag(FLAGS_collector_server_name);
  if (const std::string path = absl::GetFlag(FLAGS_collector_token_file);
      !path.empty()) {
    absl::StatusOr<std::string> token =
        aims::ReadTokenFile(path, "collector_token_file");
    if (!token.ok()) return token.status();
    o.collector_token = *std::move(token);
  }
  o.intake_token_sha256 = absl::GetFlag(FLAGS_intake_token_sha256);
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.model.set_name(absl::GetFlag(FLAGS_model_name));
  o.model.set_version(absl::GetFlag(FLAGS_model_version));
  o.model.set_environment(absl::GetFlag(FLAGS_environment));
  o.agent.set_agent_id(absl::GetFlag(FLAGS_agent_id));
  o.agent.set_pod(absl::GetFlag(FLAGS_pod));
  o.agent.set_namespace_(absl::GetFlag(FLAGS_pod_namespace));
  o.window = absl::GetFlag(FLAGS_window);
  o.grace_period = absl::GetFlag(FLAGS_grace_period);
  absl::StatusOr<aims::v1::TaskType> task =
      aims::ParseChoice<aims::v1::TaskType>(
          "--task", absl::GetFlag(FLAGS_task),
          {{"binary", aims::v1::TASK_TYPE_BINARY},
           {"multiclass", aims::v1::TASK_TYPE_MULTICLASS},
           {"regression", aims::v1::TASK_TYPE_REGRESSION}});
  if (!task.ok()) return task.status();
  o.summary.task = *task;
  o.summary.positive_class = absl::GetFlag(FLAGS_positive_class);
  using Sketches = aims::SummaryConfig::FeatureSketches;
  absl::StatusOr<Sketches> sketches = aims::ParseChoice<Sketches>(
      "--feature_sketches", absl::GetFlag(FLAGS_feature_sketches),
      {{"unprofiled", Sketches::kUnprofiled}, {"all", Sketches::kAll}});
  if (!sketches.ok()) return sketches.status();
  o.summary.feature_sketches = *sketches;
  o.spool_max_bytes = absl::GetFlag(FLAGS_spool_max_bytes);
  o.intake_log_max_bytes = absl::GetFlag(FLAGS_intake_log_max_bytes);
  absl::StatusOr<bool> drop_newest = aims::ParseChoice<bool>(
      "--spool_full_policy", absl::GetFlag(FLAGS_spool_full_policy),
      {{"drop_oldest", false}, {"drop_newest", true}});
  if (!drop_newest.ok()) return drop_newest.status();
  o.spool_drop_newest = *drop_newest;
  o.intake_threads = absl::GetFlag(FLAGS_intake_threads);
  o.intake_queue_capacity = absl::GetFlag(FLAGS_intake_queue_capacity);
  o.grpc_max_in_flight = absl::GetFlag(FLAGS_grpc_max_in_flight);
  o.join.max_pending_bytes =
      static_cast<uint64_t>(absl::GetFlag(FLAGS_max_pending_prediction_bytes));
  o.join.max_forwarded_labels =
      static_cast<uint64_t>(absl::GetFlag(FLAGS_max_forwarded_labels));
  o.join.max_forwarded_bytes =
      static_cast<uint64_t>(absl::GetFlag(FLAGS_max_forwarded_label_bytes));
  o.reference_events = absl::GetFlag(FLAGS_reference_events);
  o.require_profile = absl::GetFlag(FLAGS_require_profile);
  o.max_body_bytes = absl::GetFlag(FLAGS_max_body_bytes);
  o.intake.max_events_per_batch = absl::GetFlag(FLAGS_max_events_per_batch);
  aims::EventLimits& event = o.intake.event;
  event.max_features = absl::GetFlag(FLAGS_max_features_per_event);
  event.max_attributes = absl::GetFlag(FLAGS_max_attributes_per_event);
  event.max_probabilities = absl::GetFlag(FLAGS_max_probabilities_per_event);
  event.max_name_bytes = absl::GetFlag(FLAGS_max_name_bytes);
  event.max_string_bytes = absl::GetFlag(FLAGS_max_string_bytes);
  event.max_prediction_id_bytes = absl::GetFlag(FLAGS_max_prediction_id_bytes);
  event.max_clock_skew = absl::GetFlag(FLAGS_max_clock_skew);
  event.max_event_age = absl::GetFlag(FLAGS_max_event_age);
  absl::StatusOr<bool> event_time =
      aims::ParseChoice<bool>("--window_time", absl::GetFlag(FLAGS_window_time),
                              {{"event", true}, {"arrival", false}});
  if (!event_time.ok()) return event_time.status();
  o.event_time = *event_time;
  o.allowed_lateness = absl::GetFlag(FLAGS_allowed_lateness);
  o.max_open_windows =
      static_cast<size_t>(absl::GetFlag(FLAGS_max_open_windows));
  o.summary.max_features = absl::GetFlag(FLAGS_max_features_per_window);
  o.summary.max_attributes = absl::GetFlag(FLAGS_max_attributes_per_window);
  o.summary.max_classes = absl::GetFlag(FLAGS_max_classes_per_window);
  o.summary.max_groups_per_attribute =
      absl::GetFlag(FLAGS_max_groups_per_attribute);
  o.summary.slice_keys = absl::GetFlag(FLAGS_slice_keys);
  o.summary.max_slice_values = absl::GetFlag(FLAGS_max_slice_values);
  o.max_categories_per_feature =
      absl::GetFlag(FLAGS_max_categories_per_feature);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  aims::ParseCommandLine(argc, argv, kUsage);
  aims::LogLevel level;
  if (!aims::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return aims::OptionsError(absl::InvalidArgumentError(
        "--log_level: must be debug, info, warn or error"));
  }
  aims::SetLogLevel(level);
  absl::StatusOr<AgentOptions> options = OptionsFromFlags();
  if (!options.ok()) return aims::OptionsError(options.status());
  if (absl::Status s = options->Validate(); !s.ok()) {
    return aims::OptionsError(s);
  }

  aims::BlockShutdownSignals();
  Agent agent(*std::move(options));
  if (absl::Status s = agent.Start(); !s.ok()) {
    aims::LogError("cannot start agent", {{"error", s.message()}});
    return aims::kExitFailure;
  }
  if (absl::Status s = aims::WritePortsFile(
          absl::GetFlag(FLAGS_ports_file),
          {{"http", agent.http_port()}, {"grpc", agent.grpc_port()}});
      !s.ok()) {
    aims::LogError("cannot write ports file", {{"error", s.message()}});
    return aims::kExitFailure;
  }
  for (;;) {
    const int sig = aims::WaitForSignal();
    if (sig == SIGHUP) continue;
    aims::LogInfo("shutting down", {{"signal", sig}});
    break;
  }
  agent.Stop();
  return 0;
}
