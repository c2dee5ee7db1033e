// aims-collector: receives window reports from aims agents, stores them in
// RocksDB and answers queries. See --help and docs/operations.md.
#include <csignal>
#include <fstream>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "collector/collector.h"
#include "common/base/cli.h"
#include "common/base/log.h"
#include "common/base/signals.h"
#include "common/net/http_flags.h"
#include "common/net/http_server.h"

ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:4317",
          "host:port for gRPC (agent ingest and queries). Port 0 picks a free "
          "port. Use 0.0.0.0:4317 to accept agents from other hosts.");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9464",
          "host:port for HTTP: /metrics (Prometheus), /healthz, /readyz.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "TLS for the gRPC listener: server certificate chain (PEM). "
          "Re-read every --tls_reload_interval, so it can be rotated without "
          "a restart.");
ABSL_FLAG(std::string, tls_key_file, "",
          "TLS: the private key of --tls_cert_file (PEM).");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "mTLS: CA certificate(s) (PEM); agents and aimsctl must present a "
          "certificate signed by one of them.");
ABSL_FLAG(absl::Duration, tls_reload_interval, absl::Seconds(60),
          "How often the TLS files are checked for changes.");
ABSL_FLAG(std::string, http_tls, "auto",
          "HTTPS on --http_listen with the --tls_cert_file certificate: auto "
          "(when --tls_cert_file is set), on, or off (plaintext HTTP, e.g. "
          "for in-cluster probes and scrapes).");
ABSL_FLAG(bool, http_require_client_certificates, false,
          "HTTPS clients (Prometheus, scripts) must present a certificate "
          "signed by --tls_client_ca_file.");
ABSL_FLAG(bool, allow_plaintext, false,
          "Accept plaintext on a non-loopback --grpc_listen or --http_listen "
          "(without TLS). Loopback addresses are always allowed.");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "YAML file of bearer tokens (name, role agent|viewer|compliance|"
          "admin, sha256 of the token, models for agent tokens); every gRPC "
          "and /v1 HTTP call must then present one. Re-read when it changes "
          "(every --maintenance_interval). Empty: no authentication. See "
          "docs/security.md; 'aimsctl token create' makes entries.");
ABSL_FLAG(std::string, data_dir, "./var/aims",
          "Directory of the embedded RocksDB database; created if missing.");
ABSL_FLAG(std::string, collector_id, "",
          "Stable name of this collector in answers and logs (default: host "
          "name). In fleet mode it prefixes the ids of the nonconformities "
          "this collector opens, so it must differ between collectors.");
ABSL_FLAG(bool, sync_writes, true,
          "fsync every write batch before acknowledging it. false survives a "
          "process crash but a machine crash may lose acknowledged reports.");
ABSL_FLAG(int, ingest_queue_capacity, 4096,
          "Reports that may wait for the storage writer; beyond it streams "
          "end with RESOURCE_EXHAUSTED and agents retry.");
ABSL_FLAG(int64_t, ingest_queue_max_bytes, int64_t{1} << 30,
          "Bytes of reports that may wait for the storage writer (the queue "
          "holds them serialized); beyond it streams end with "
          "RESOURCE_EXHAUSTED and agents retry.");
ABSL_FLAG(int, max_message_bytes, 4 << 20,
          "Largest gRPC message accepted, in bytes: a larger report is "
          "rejected and recorded as a gap, a larger hello or gap ends its "
          "stream (RESOURCE_EXHAUSTED); gRPC itself refuses messages over "
          "twice this. Agents split larger reports into parts.");
// Limits on one window report (docs/events.md#limits). A report beyond one
// is answered with a Rejection naming the field and the flag, recorded as
// a gap, and counted in aims_collector_limit_rejections_total{limit}.
ABSL_FLAG(int64_t, max_report_features, 2000, "Features in one report.");
ABSL_FLAG(int64_t, max_report_attributes, 64,
          "Sensitive attributes in one report.");
ABSL_FLAG(int64_t, max_report_groups_per_attribute, 1000,
          "Groups of one attribute in one report.");
ABSL_FLAG(int64_t, max_report_slice_values, 1000,
          "Values of one slice key in one report (besides __other__).");
ABSL_FLAG(int64_t, max_report_classes, 1000,
          "Classes of one report's confusion matrix.");
ABSL_FLAG(int64_t, max_report_bins, 10000, "Bins of one histogram.");
ABSL_FLAG(int64_t, max_report_name_bytes, 128,
          "Longest feature, attribute, class or rejection reason name in a "
          "report.");
ABSL_FLAG(int64_t, max_report_value_bytes, 1024,
          "Longest group (attribute value) in a report; keep at least the "
          "agents' --max_string_bytes.");
ABSL_FLAG(absl::Duration, max_report_window, absl::Hours(24),
          "Longest window one report may cover.");
ABSL_FLAG(int64_t, max_objectives_per_plan, 10000,
          "Objectives in the monitoring plan; a larger plan is not loaded "
          "(the plan in force stays).");
ABSL_FLAG(std::string, ports_file, "",
          "If set, write the bound ports here as 'grpc PORT' and 'http PORT' "
          "lines once listening (for scripts that use port 0).");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error.");
ABSL_FLAG(
    std::string, plan, "",
    "Monitoring plan (YAML, docs/monitoring-plan.md) to evaluate. SIGHUP "
    "or the ReloadPlan RPC re-reads it; an invalid file keeps the plan in "
    "force. Empty: store and query only, no evaluation.");
ABSL_FLAG(
    std::vector<std::string>, alertmanager_url, {},
    "Comma-separated Alertmanager base URLs (e.g. http://127.0.0.1:9093); "
    "every instance gets every alert, as Alertmanager HA expects.");
ABSL_FLAG(
    std::vector<std::string>, webhook_url, {},
    "Comma-separated URLs that receive nonconformity events as JSON POSTs.");
ABSL_FLAG(std::string, webhook_secret_file, "",
          "File holding the HMAC-SHA256 key for the X-Aims-Signature header of "
          "webhook calls (empty: unsigned).");
ABSL_FLAG(std::string, external_url, "",
          "Base URL of this collector's HTTP API in alert links (default: "
          "http://<http_listen>).");
ABSL_FLAG(
    int, max_outbox, 10000,
    "Notifications kept for delivery; beyond it the oldest is dropped and "
    "counted (firing alerts are re-sent every minute).");
ABSL_FLAG(int, max_exported_series, 10000,
          "Objective series exported on /metrics as aims_objective_*; beyond "
          "it they are left out and counted in "
          "aims_collector_objective_series_not_exported.");

ABSL_FLAG(absl::Duration, retention_raw, absl::Hours(24 * 14),
          "How long raw window reports are kept (0: forever). Older ones are "
          "deleted once their 1-minute rollups exist; a window older than "
          "this arriving late is acknowledged but not stored (counted as "
          "outcome=\"expired\").");
ABSL_FLAG(absl::Duration, label_ttl, absl::Hours(24 * 30),
          "How long the central label join keeps a prediction's join record "
          "waiting for its delayed label, and a label waiting for its "
          "prediction (docs/events.md, \"Delayed labels\"). A window's "
          "label report is final once the window is this old.");
ABSL_FLAG(uint64_t, label_join_max_bytes, uint64_t{1} << 30,
          "Bound on the label join's stored records and pending labels; "
          "beyond it the oldest pending labels are dropped first (counted in "
          "aims_collector_label_unmatched_total{reason=\"bytes\"}), then "
          "the oldest windows' records are evicted (counted in "
          "aims_collector_label_evictions_total{reason=\"bytes\"} and the "
          "window's labels_evicted).");
ABSL_FLAG(size_t, max_labels_per_batch, 10000,
          "Labels in one call to the collector's label service (gRPC "
          "SubmitLabels or POST /v1/labels); a larger batch is refused "
          "whole, naming this flag (1..100000).");
ABSL_FLAG(absl::Duration, retention_10s, absl::Hours(48),
          "How long 10-second rollups (a window's replicas merged, kept "
          "where a model has two or more agents) are kept (0: forever).");
ABSL_FLAG(absl::Duration, retention_1m, absl::Hours(24 * 35),
          "How long 1-minute rollups are kept (0: forever).");
ABSL_FLAG(absl::Duration, retention_10m, absl::Hours(24 * 90),
          "How long 10-minute rollups are kept (0: forever).");
ABSL_FLAG(absl::Duration, retention_1h, absl::Hours(24 * 400),
          "How long 1-hour rollups are kept (0: forever).");
ABSL_FLAG(absl::Duration, retention_1d, absl::ZeroDuration(),
          "How long 1-day rollups are kept (0: forever).");
ABSL_FLAG(absl::Duration, rollup_delay, absl::Minutes(1),
          "A rollup bucket is built this long after it ends; windows that "
          "arrive later make it be rebuilt.");
ABSL_FLAG(absl::Duration, rollup_delay_10s, absl::Seconds(20),
          "The same for 10-second rollups (the replicas of a window merged): "
          "short, so that a query ending now reads few raw reports.");
ABSL_FLAG(int, query_threads, 2,
          "Threads that parse and merge the stored summaries of one query "
          "(the calling thread and query_threads - 1 shared ones); 1 "
          "merges on the calling thread only.");
ABSL_FLAG(int64_t, min_free_disk_mib, 512,
          "Free space (MiB) kept in reserve on --data_dir's filesystem. Below "
          "it reports are not acknowledged (agents keep them), /readyz "
          "answers 503 and aims_collector_storage_healthy is 0, until space "
          "returns. 0 disables the check.");
ABSL_FLAG(absl::Duration, storage_restart_after, absl::Minutes(5),
          "/healthz answers 503 (so that Kubernetes restarts the collector) "
          "once storage writes have failed this long although the disk has "
          "free space again: RocksDB did not resume by itself, and a restart "
          "reopens the database with nothing acknowledged lost. 0: never.");
ABSL_FLAG(absl::Duration, maintenance_interval, absl::Seconds(10),
          "How often rollups, retention and recovery after a failed write "
          "(e.g. disk full) run.");
ABSL_FLAG(absl::Duration, agent_expiry, absl::Hours(24),
          "An agent that is not connected and has not reported for this long "
          "is forgotten (audited as agent_expired): its coverage.agent-silent "
          "series resolves, so a crashed agent that is never replaced does "
          "not breach forever. 0: never. See docs/profiles.md.");
ABSL_FLAG(bool, console, true,
          "Serve the browser console at / on the HTTP listener "
          "(docs/console.md).");
ABSL_FLAG(absl::Duration, console_session_ttl, absl::Hours(8),
          "A console sign-in lasts at most this long (5m..168h).");
ABSL_FLAG(absl::Duration, console_session_idle, absl::Hours(1),
          "A console session unused for this long ends (1m.."
          "--console_session_ttl).");
ABSL_FLAG(size_t, console_max_sessions, 1000,
          "Console sessions open at once (1..100000); beyond, sign-in is "
          "refused and counted.");
ABSL_FLAG(std::string, fleet_etcd, "",
          "Fleet mode (docs/scale-out.md): host:port of etcd. With "
          "--fleet_advertise; empty: a single collector.");
ABSL_FLAG(std::string, fleet_advertise, "",
          "Fleet mode: the host:port agents reach this collector's gRPC "
          "listener at; other collectors redirect agents here.");
ABSL_FLAG(absl::Duration, fleet_lease_ttl, absl::Seconds(10),
          "Fleet mode: how long after this collector stops renewing its "
          "lease (e.g. it died) the others take over its models.");
ABSL_FLAG(std::string, fleet_token_file, "",
          "Fleet mode with --auth_tokens_file: a file holding a token of "
          "the admin role, sent when this collector replicates a model's "
          "data to its peer collector.");

namespace {

using aims::collector::Collector;
using aims::collector::CollectorOptions;

constexpr char kUsage[] =
    "stores window reports from aims agents in RocksDB, serves queries, "
    "evaluates the monitoring plan (--plan), keeps nonconformities and the "
    "audit trail, and notifies Alertmanager and webhooks.\n\n"
    "Usage: aims-collector [--flag=value ...]\n"
    "Stops cleanly on SIGTERM or SIGINT; SIGHUP re-reads --plan and "
    "--auth_tokens_file. Logs are "
    "logfmt lines on stderr.\n"
    "Every flag can also be set as AIMS_<FLAG> in the environment or in "
    "--config=FILE; command-line flags win.";

// The first line of --webhook_secret_file; "" when the flag is empty.
absl::StatusOr<std::string> WebhookSecret() {
  const std::string path = absl::GetFlag(FLAGS_webhook_secret_file);
  std::string secret;
  if (path.empty()) return secret;
  std::ifstream in(path);
  std::getline(in, secret);
  if (!in && secret.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--webhook_secret_file: cannot read ", path));
  }
  return secret;
}

// The options the flags ask for; Validate() checks them. Counts are size_t:
// a negative flag value wraps here and Validate() names it as given.
absl::StatusOr<CollectorOptions> OptionsFromFlags() {
  CollectorOptions o;
  o.grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  o.http_listen = absl::GetFlag(FLAGS_http_listen);
  ApplyHttpFlags(&o.http);
  o.tls.cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  o.tls.key_file = absl::GetFlag(FLAGS_tls_key_file);
  o.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file);
  o.tls.reload_interval = absl::GetFlag(FLAGS_tls_reload_interval);
  using HttpTls = CollectorOptions::HttpTls;
  absl::StatusOr<HttpTls> http_tls = aims::ParseChoice<HttpTls>(
      "--http_tls", absl::GetFlag(FLAGS_http_tls),
      {{"auto", HttpTls::kAuto}, {"on", HttpTls::kOn}, {"off", HttpTls::kOff}});
  if (!http_tls.ok()) return http_tls.status();
  o.http_tls = *http_tls;
  o.http_require_client_certificates =
      absl::GetFlag(FLAGS_http_require_client_certificates);
  o.allow_plaintext = absl::GetFlag(FLAGS_allow_plaintext);
  o.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  o.data_dir = absl::GetFlag(FLAGS_data_dir);
  o.collector_id = absl::GetFlag(FLAGS_collector_id);
  o.sync_writes = absl::GetFlag(FLAGS_sync_writes);
  o.ingest_queue_capacity = absl::GetFlag(FLAGS_ingest_queue_capacity);
  o.ingest_queue_max_bytes = absl::GetFlag(FLAGS_ingest_queue_max_bytes);
  o.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  aims::ReportLimits& report = o.report_limits;
  report.max_features = absl::GetFlag(FLAGS_max_report_features);
  report.max_attributes = absl::GetFlag(FLAGS_max_report_attributes);
  report.max_groups_per_attribute =
      absl::GetFlag(FLAGS_max_report_groups_per_attribute);
  report.max_classes = absl::GetFlag(FLAGS_max_report_classes);
  report.max_slice_values = absl::GetFlag(FLAGS_max_report_slice_values);
  report.max_bins = absl::GetFlag(FLAGS_max_report_bins);
  report.max_name_bytes = absl::GetFlag(FLAGS_max_report_name_bytes);
  report.max_value_bytes = absl::GetFlag(FLAGS_max_report_value_bytes);
  report.max_window_seconds =
      absl::ToInt64Seconds(absl::GetFlag(FLAGS_max_report_window));
  o.plan_file = absl::GetFlag(FLAGS_plan);
  o.max_objectives_per_plan = absl::GetFlag(FLAGS_max_objectives_per_plan);
  o.alertmanager_urls = absl::GetFlag(FLAGS_alertmanager_url);
  o.webhook_urls = absl::GetFlag(FLAGS_webhook_url);
  absl::StatusOr<std::string> secret = WebhookSecret();
  if (!secret.ok()) return secret.status();
  o.webhook_secret = *std::move(secret);
  o.external_url = absl::GetFlag(FLAGS_external_url);
  o.max_outbox = absl::GetFlag(FLAGS_max_outbox);
  o.max_exported_series = absl::GetFlag(FLAGS_max_exported_series);
  o.raw_retention = absl::GetFlag(FLAGS_retention_raw);
  o.label_ttl = absl::GetFlag(FLAGS_label_ttl);
  o.label_join_max_bytes = absl::GetFlag(FLAGS_label_join_max_bytes);
  o.max_labels_per_batch = absl::GetFlag(FLAGS_max_labels_per_batch);
  o.rollup_retention[0] = absl::GetFlag(FLAGS_retention_10s);
  o.rollup_retention[1] = absl::GetFlag(FLAGS_retention_1m);
  o.rollup_retention[2] = absl::GetFlag(FLAGS_retention_10m);
  o.rollup_retention[3] = absl::GetFlag(FLAGS_retention_1h);
  o.rollup_retention[4] = absl::GetFlag(FLAGS_retention_1d);
  o.rollup_delay = absl::GetFlag(FLAGS_rollup_delay);
  o.rollup_delay_10s = absl::GetFlag(FLAGS_rollup_delay_10s);
  o.query_threads = absl::GetFlag(FLAGS_query_threads);
  o.min_free_disk_mib = absl::GetFlag(FLAGS_min_free_disk_mib);
  o.storage_restart_after = absl::GetFlag(FLAGS_storage_restart_after);
  o.maintenance_interval = absl::GetFlag(FLAGS_maintenance_interval);
  o.agent_expiry = absl::GetFlag(FLAGS_agent_expiry);
  o.console = absl::GetFlag(FLAGS_console);
  o.console_session_ttl = absl::GetFlag(FLAGS_console_session_ttl);
  o.console_session_idle = absl::GetFlag(FLAGS_console_session_idle);
  o.console_max_sessions = absl::GetFlag(FLAGS_console_max_sessions);
  o.fleet_etcd = absl::GetFlag(FLAGS_fleet_etcd);
  o.fleet_advertise = absl::GetFlag(FLAGS_fleet_advertise);
  o.fleet_lease_ttl = absl::GetFlag(FLAGS_fleet_lease_ttl);
  o.fleet_token_file = absl::GetFlag(FLAGS_fleet_token_file);
  return o;
}

// Until SIGTERM or SIGINT; SIGHUP re-reads the plan and the tokens.
void ServeUntilSignalled(Collector& collector) {
  for (;;) {
    const int sig = aims::WaitForSignal();
    if (sig != SIGHUP) {
      aims::LogInfo("shutting down", {{"signal", sig}});
      return;
    }
    absl::StatusOr<aims::v1::PlanInfo> plan = collector.ReloadPlan("SIGHUP");
    if (!plan.ok()) {
      aims::LogWarn("plan reload failed; the plan in force stays",
                    {{"error", plan.status().message()}});
    }
    if (absl::Status s = collector.ReloadTokens(); !s.ok()) {
      aims::LogWarn("tokens file not reloaded; the tokens in force stay",
                    {{"error", s.message()}});
    }
  }
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
  absl::StatusOr<CollectorOptions> options = OptionsFromFlags();
  if (!options.ok()) return aims::OptionsError(options.status());
  if (absl::Status s = options->Validate(); !s.ok()) {
    return aims::OptionsError(s);
  }

  aims::BlockShutdownSignals();
  Collector collector(*std::move(options));
  if (absl::Status s = collector.Start(); !s.ok()) {
    aims::LogError("cannot start collector", {{"error", s.message()}});
    return aims::kExitFailure;
  }
  if (absl::Status s = aims::WritePortsFile(
          absl::GetFlag(FLAGS_ports_file),
          {{"grpc", collector.grpc_port()}, {"http", collector.http_port()}});
      !s.ok()) {
    aims::LogError("cannot write ports file", {{"error", s.message()}});
    return aims::kExitFailure;
  }
  ServeUntilSignalled(collector);
  collector.Stop();
  return 0;
}
