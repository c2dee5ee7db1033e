// Collector: the whole aims-collector process as an object - storage,
// durable writer, gRPC services (ingest, query) and the HTTP endpoint for
// /metrics, /healthz and /readyz. main.cc only parses flags and waits for a
// signal; tests start a real Collector on port 0.
//
// Thread-safety: Start() and Stop() from one owner thread.
#ifndef AIMS_COLLECTOR_COLLECTOR_H_
#define AIMS_COLLECTOR_COLLECTOR_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "aims/v1/nonconformity.pb.h"
#include "collector/plan/plan.h"
#include "common/base/clock.h"
#include "common/net/http_server.h"
#include "common/net/tls.h"
#include "common/summary/validation.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace aims::collector {

struct CollectorMetrics;
class AuditTrail;
class Authorizer;
class DurableWriter;
class Evaluator;
class NonconformityService;
class Nonconformities;
class Notifier;
class IngestService;
class QueryService;
class ComplianceReportService;
class RocksStorage;

struct CollectorOptions {
  std::string grpc_listen = "127.0.0.1:4317";
  std::string http_listen = "127.0.0.1:9464";
  // TLS for the gRPC listener (mTLS with a client CA); docs/security.md.
  TlsServerFiles tls;
  // HTTPS on the HTTP listener with the same certificate: kAuto when `tls`
  // is enabled.
  enum class HttpTls { kAuto, kOn, kOff };
  HttpTls http_tls = HttpTls::kAuto;
  // HTTPS clients must present a certificate of tls.client_ca_file.
  bool http_require_client_certificates = false;
  // Plaintext on a non-loopback address. The binary's --allow_plaintext
  // defaults to false.
  bool allow_plaintext = true;
  // Tokens with roles (collector/auth/authorizer.h); empty: no authentication.
  std::string auth_tokens_file;
  std::string data_dir = "./var/aims";
  std::string collector_id;  // default: host name
  bool sync_writes = true;
  size_t ingest_queue_capacity = 4096;
  // Report bytes that may wait for the writer (the queue holds serialized
  // reports).
  size_t ingest_queue_max_bytes = size_t{1} << 30;
  size_t max_message_bytes = 4 << 20;
  ReportLimits report_limits;
  // Monitoring plan (YAML); empty: no evaluation.
  std::string plan_file;
  size_t max_objectives_per_plan = kDefaultMaxObjectives;
  // How often due objectives are looked for.
  absl::Duration evaluation_tick = absl::Seconds(1);
  std::vector<std::string> alertmanager_urls;
  std::vector<std::string> webhook_urls;
  std::string webhook_secret;
  // Base URL of this collector's HTTP API, for links in alerts; default
  // http://<http_listen>.
  std::string external_url;
  size_t max_outbox = 10000;
  // Objective series exported on /metrics (aims_objective_*); beyond it
  // series are left out and counted.
  size_t max_exported_series = 10000;
  // Run the evaluation loop on a thread (tests drive EvaluateNow()).
  bool evaluate_in_background = true;
  // Rollups and retention (docs/storage.md); zero keeps forever.
  absl::Duration raw_retention = absl::Hours(24 * 14);
  // Per resolution: 10 s, 1 min, 10 min, 1 h, 1 d.
  absl::Duration rollup_retention[5] = {
      absl::Hours(48), absl::Hours(24 * 35), absl::Hours(24 * 90),
      absl::Hours(24 * 400), absl::ZeroDuration()};
  absl::Duration rollup_delay = absl::Minutes(1);
  absl::Duration rollup_delay_10s = absl::Seconds(20);
  // Threads that parse and merge one query's stored summaries.
  size_t query_threads = 2;
  // Free disk space below which reports are refused (docs/storage.md).
  uint64_t min_free_disk_bytes = uint64_t{512} << 20;
  // How often the maintenance pass (rollups, retention, recovery after a
  // write error) runs; zero: only by MaintainNow().
  absl::Duration maintenance_interval = absl::Seconds(10);
};

class Collector {
 public:
  explicit Collector(CollectorOptions options,
                     const Clock* clock = &RealClock::Get());
  ~Collector();

  absl::Status Start();
  // Stops accepting, finishes streams, drains the writer, closes storage.
  void Stop();

  int grpc_port() const { return grpc_port_; }
  int http_port() const { return http_port_; }
  const std::string& collector_id() const { return options_.collector_id; }

  // Re-reads the plan file (SIGHUP, the ReloadPlan RPC); the plan in force
  // stays when the new one does not validate.
  absl::StatusOr<v1::PlanInfo> ReloadPlan(const std::string& actor);
  // One evaluation pass and one delivery pass now (tests with a FakeClock).
  int EvaluateNow();
  int DeliverNow();
  // One storage maintenance pass now (until no budget is left).
  absl::Status MaintainNow();
  // Re-reads --auth_tokens_file if it changed (also every maintenance
  // interval and on SIGHUP); a file that does not validate keeps the
  // tokens in force.
  absl::Status ReloadTokens();

 private:
  void RefreshEvaluationMetrics();
  void MaintenanceLoop();

  CollectorOptions options_;
  const Clock* clock_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<RocksStorage> storage_;
  std::unique_ptr<CollectorMetrics> metrics_;
  std::unique_ptr<DurableWriter> writer_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<QueryService> query_;
  std::unique_ptr<AuditTrail> audit_;
  std::unique_ptr<Nonconformities> nonconformities_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<Evaluator> evaluator_;
  std::unique_ptr<NonconformityService> nc_service_;
  std::unique_ptr<ComplianceReportService> report_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpServer> http_;
  std::thread maintenance_thread_;
  absl::Mutex maintenance_mu_;
  bool stopping_ ABSL_GUARDED_BY(maintenance_mu_) = false;
  int grpc_port_ = 0;
  int http_port_ = 0;
  bool started_ = false;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COLLECTOR_H_
