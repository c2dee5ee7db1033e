// aims-agent: sidecar beside a model server. Takes inference events on
// localhost, folds them into window summaries and delivers them to
// aims-collector. See --help and docs/events.md.
#include <csignal>
#include <iostream>

#include "absl/flags/flag.h"
#include "common/cli.h"
#include "agent/agent.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/signals.h"

ABSL_FLAG(std::string, http_listen, "127.0.0.1:9465",
          "host:port of the intake (POST /v1/events) and of /metrics, "
          "/healthz, /readyz. Loopback by default: the model server is local.");
ABSL_FLAG(std::string, collector, "127.0.0.1:4317",
          "gRPC address (host:port) of aims-collector.");
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
ABSL_FLAG(std::string, ports_file, "",
          "If set, write 'http PORT' here once listening (for port 0).");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error.");

namespace {

int Usage(const std::string& message) {
  std::cerr << "aims-agent: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  aims::ParseCommandLine(argc, argv,
      "monitoring sidecar for one model server replica.\n\n"
      "Usage: aims-agent --model_name=NAME --model_version=VERSION "
      "[--flag=value ...]\n\n"
      "Send events with: curl -X POST --data-binary @events.json "
      "http://127.0.0.1:9465/v1/events\n"
      "(a JSON array of events or JSON lines; fields in docs/events.md).\n"
      "SIGTERM/SIGINT: stop accepting, close the window, drain the spool.");
  aims::LogLevel level;
  if (!aims::ParseLogLevel(absl::GetFlag(FLAGS_log_level), &level)) {
    return Usage("--log_level: must be debug, info, warn or error");
  }
  aims::SetLogLevel(level);

  aims::agent::AgentOptions options;
  options.http_listen = absl::GetFlag(FLAGS_http_listen);
  options.collector = absl::GetFlag(FLAGS_collector);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.model.set_name(absl::GetFlag(FLAGS_model_name));
  options.model.set_version(absl::GetFlag(FLAGS_model_version));
  options.model.set_environment(absl::GetFlag(FLAGS_environment));
  if (options.model.name().empty()) return Usage("--model_name is required");
  if (options.model.version().empty()) {
    return Usage("--model_version is required");
  }
  options.agent.set_agent_id(absl::GetFlag(FLAGS_agent_id));
  options.agent.set_pod(absl::GetFlag(FLAGS_pod));
  options.agent.set_namespace_(absl::GetFlag(FLAGS_pod_namespace));
  options.window = absl::GetFlag(FLAGS_window);
  if (options.window < absl::Seconds(1) || options.window > absl::Hours(1)) {
    return Usage("--window: must be between 1s and 1h");
  }
  options.grace_period = absl::GetFlag(FLAGS_grace_period);
  const std::string task = absl::GetFlag(FLAGS_task);
  if (task == "binary") {
    options.summary.task = aims::v1::TASK_TYPE_BINARY;
  } else if (task == "multiclass") {
    options.summary.task = aims::v1::TASK_TYPE_MULTICLASS;
  } else if (task == "regression") {
    options.summary.task = aims::v1::TASK_TYPE_REGRESSION;
  } else {
    return Usage("--task: must be binary, multiclass or regression");
  }
  options.summary.positive_class = absl::GetFlag(FLAGS_positive_class);

  aims::BlockShutdownSignals();
  aims::agent::Agent agent(options);
  if (absl::Status s = agent.Start(); !s.ok()) {
    aims::LogError("cannot start agent", {{"error", s.message()}});
    return 1;
  }
  if (absl::Status s = aims::WritePortsFile(absl::GetFlag(FLAGS_ports_file),
                                            {{"http", agent.http_port()}});
      !s.ok()) {
    aims::LogError("cannot write ports file", {{"error", s.message()}});
    return 1;
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
