// CollectorOptions: everything an aims-collector process is configured
// with, as the flags of collector/main.cc set it, and Validate(): every
// check of it in one place.
//
// Contract:
//  - Validate() refuses what no deployment should run with; its message
//    names the flag, the value and the limit ("--query_threads: 0, must be
//    1..64"). INVALID_ARGUMENT is a usage error (exit 2);
//    FAILED_PRECONDITION refuses a valid but unsafe combination -
//    plaintext on a non-loopback listener without --allow_plaintext - as
//    the binary has always refused to start (exit 1).
//  - Collector::Start() does not call it: tests run collectors with
//    settings outside it (maintenance_interval 0: maintenance only by
//    MaintainNow()).
//
// Thread-safety: a plain value.
#ifndef AIMS_COLLECTOR_COLLECTOR_OPTIONS_H_
#define AIMS_COLLECTOR_COLLECTOR_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "collector/plan/plan.h"
#include "common/net/http_server.h"
#include "common/net/tls.h"
#include "common/summary/validation.h"

namespace aims::collector {

struct CollectorOptions {
  std::string grpc_listen = "127.0.0.1:4317";
  std::string http_listen = "127.0.0.1:9464";
  // Connection bounds and deadlines of the HTTP listener (--http_*).
  HttpServerOptions http;
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
  // The browser console at / on the HTTP listener and its sign-in sessions
  // (docs/console.md, collector/auth/sessions.h).
  bool console = true;
  absl::Duration console_session_ttl = absl::Hours(8);
  absl::Duration console_session_idle = absl::Hours(1);
  size_t console_max_sessions = 1000;
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
  // The central label join (collector/labels/label_join.h).
  absl::Duration label_ttl = absl::Hours(24 * 30);
  uint64_t label_join_max_bytes = uint64_t{1} << 30;
  // Labels in one call to the label service (gRPC or POST /v1/labels).
  size_t max_labels_per_batch = 10000;
  absl::Duration label_flush_interval = absl::Seconds(1);
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
  // Free disk space (MiB) below which reports are refused
  // (docs/storage.md); 0 disables the check.
  uint64_t min_free_disk_mib = 512;
  // /healthz fails once writes have been failing this long although the
  // disk has room again: RocksDB did not resume, and a restart (which
  // reopens the database) will; zero: never.
  absl::Duration storage_restart_after = absl::Minutes(5);
  // How often the maintenance pass (rollups, retention, recovery after a
  // write error) runs; zero: only by MaintainNow().
  absl::Duration maintenance_interval = absl::Seconds(10);
  // An agent neither connected nor heard from for this long is forgotten
  // (left "expired", audited): coverage objectives stop expecting it, so a
  // crashed agent that is never replaced does not breach forever. Zero:
  // never (docs/profiles.md).
  absl::Duration agent_expiry = absl::Hours(24);
  // Fleet mode (docs/scale-out.md): both set, or neither (one collector).
  std::string fleet_etcd;       // host:port of etcd
  std::string fleet_advertise;  // host:port agents reach this collector at
  absl::Duration fleet_lease_ttl = absl::Seconds(10);
  // Admin token sent to peer collectors when replicating (tokens on).
  std::string fleet_token_file;
  bool fleet() const { return !fleet_etcd.empty(); }

  // HTTPS on the HTTP listener: kOn, or kAuto with `tls` enabled.
  bool https() const {
    return http_tls == HttpTls::kOn ||
           (http_tls == HttpTls::kAuto && tls.enabled());
  }

  // See the file comment.
  absl::Status Validate() const;
};

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_COLLECTOR_OPTIONS_H_
