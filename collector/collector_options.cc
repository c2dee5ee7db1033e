#include "collector/collector_options.h"

#include <initializer_list>
#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/cli.h"

namespace aims::collector {
namespace {

// The first of `checks` that failed, or OK; all are cheap.
absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& s : checks) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status CheckUrls(absl::string_view flag,
                       const std::vector<std::string>& urls) {
  for (const std::string& url : urls) {
    if (!absl::StartsWith(url, "http://") &&
        !absl::StartsWith(url, "https://")) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": '", url, "' is not an http(s) URL"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckIngest(const CollectorOptions& o) {
  const ReportLimits& r = o.report_limits;
  return FirstError({
      CheckRange("--ingest_queue_capacity", o.ingest_queue_capacity, 1,
                 1'000'000),
      CheckRange("--max_message_bytes", o.max_message_bytes, 1024, 64 << 20),
      CheckRange("--ingest_queue_max_bytes", o.ingest_queue_max_bytes,
                 int64_t{1} << 20, int64_t{1} << 40),
      CheckRange("--max_report_features", r.max_features, 1, 1'000'000),
      CheckRange("--max_report_attributes", r.max_attributes, 1, 100'000),
      CheckRange("--max_report_groups_per_attribute",
                 r.max_groups_per_attribute, 2, 1'000'000),
      CheckRange("--max_report_classes", r.max_classes, 2, 100'000),
      CheckRange("--max_report_slice_values", r.max_slice_values, 1, 1'000'000),
      CheckRange("--max_report_bins", r.max_bins, 2, 1'000'000),
      CheckRange("--max_report_name_bytes", r.max_name_bytes, 1, 65536),
      CheckRange("--max_report_value_bytes", r.max_value_bytes, 1, 1 << 20),
      CheckRange("--max_objectives_per_plan", o.max_objectives_per_plan, 1,
                 1'000'000),
      CheckRange("--max_report_window", absl::Seconds(r.max_window_seconds),
                 absl::Seconds(1), absl::Hours(24 * 31)),
  });
}

absl::Status CheckNotify(const CollectorOptions& o) {
  return FirstError({
      CheckUrls("--alertmanager_url", o.alertmanager_urls),
      CheckUrls("--webhook_url", o.webhook_urls),
      CheckRange("--max_outbox", o.max_outbox, 1, 10'000'000),
      CheckRange("--max_exported_series", o.max_exported_series, 0, 10'000'000),
  });
}

absl::Status CheckStorage(const CollectorOptions& o) {
  const absl::Duration* rollups = o.rollup_retention;
  if (absl::Status s = FirstError({
          CheckRange("--query_threads", o.query_threads, 1, 64),
          CheckRange("--min_free_disk_mib", o.min_free_disk_mib, 0,
                     int64_t{1} << 30),
          CheckAtLeast("--storage_restart_after", o.storage_restart_after,
                       absl::ZeroDuration()),
          CheckAtLeast("--retention_raw", o.raw_retention,
                       absl::ZeroDuration()),
          CheckAtLeast("--label_ttl", o.label_ttl, absl::Minutes(1)),
          CheckRange("--label_join_max_bytes", o.label_join_max_bytes,
                     uint64_t{1} << 20, uint64_t{1} << 50),
          CheckRange("--max_labels_per_batch", o.max_labels_per_batch, 1,
                     100000),
          CheckAtLeast("--retention_10s", rollups[0], absl::ZeroDuration()),
          CheckAtLeast("--retention_1m", rollups[1], absl::ZeroDuration()),
          CheckAtLeast("--retention_10m", rollups[2], absl::ZeroDuration()),
          CheckAtLeast("--retention_1h", rollups[3], absl::ZeroDuration()),
          CheckAtLeast("--retention_1d", rollups[4], absl::ZeroDuration()),
      });
      !s.ok()) {
    return s;
  }
  if (o.raw_retention > absl::ZeroDuration() &&
      o.raw_retention < absl::Hours(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--retention_raw: ", FlagDuration(o.raw_retention),
        ", must be 0 (forever) or at least 1h so that late windows and "
        "evaluation windows find their reports"));
  }
  return FirstError({
      CheckRange("--rollup_delay", o.rollup_delay, absl::ZeroDuration(),
                 absl::Hours(24)),
      CheckRange("--rollup_delay_10s", o.rollup_delay_10s, absl::ZeroDuration(),
                 absl::Hours(24)),
      CheckAtLeast("--maintenance_interval", o.maintenance_interval,
                   absl::Seconds(1)),
      CheckRange("--agent_expiry", o.agent_expiry, absl::ZeroDuration(),
                 absl::Hours(24 * 366)),
  });
}

absl::Status CheckConsole(const CollectorOptions& o) {
  return FirstError({
      CheckRange("--console_session_ttl", o.console_session_ttl,
                 absl::Minutes(5), absl::Hours(24 * 7)),
      CheckRange("--console_session_idle", o.console_session_idle,
                 absl::Minutes(1), o.console_session_ttl),
      CheckRange("--console_max_sessions", o.console_max_sessions, 1, 100'000),
  });
}

absl::Status CheckListeners(const CollectorOptions& o) {
  if (o.http_tls == CollectorOptions::HttpTls::kOn && !o.tls.enabled()) {
    return absl::InvalidArgumentError(
        "--http_tls=on: needs --tls_cert_file and --tls_key_file");
  }
  // Unencrypted listeners beyond loopback only when asked for.
  for (const auto& [flag, address, encrypted] :
       {std::tuple{"grpc_listen", o.grpc_listen, o.tls.enabled()},
        std::tuple{"http_listen", o.http_listen, o.https()}}) {
    if (encrypted || IsLoopback(address) || o.allow_plaintext) continue;
    return absl::FailedPreconditionError(
        absl::StrCat("--", flag, ": ", address,
                     " is not a loopback address and would be plaintext",
                     std::string_view(flag) == "grpc_listen"
                         ? " (set --tls_cert_file and --tls_key_file, and "
                           "--tls_client_ca_file for agent certificates)"
                         : " (set --tls_cert_file and --tls_key_file and "
                           "leave --http_tls at auto or on)",
                     "; --allow_plaintext=true accepts it"));
  }
  return absl::OkStatus();
}

absl::Status CheckFleet(const CollectorOptions& o) {
  if (o.fleet_etcd.empty() != o.fleet_advertise.empty()) {
    return absl::InvalidArgumentError(
        "--fleet_etcd and --fleet_advertise: set both (fleet mode) or "
        "neither");
  }
  if (!o.fleet_token_file.empty() && !o.fleet()) {
    return absl::InvalidArgumentError(
        "--fleet_token_file needs fleet mode (--fleet_etcd)");
  }
  if (!o.fleet()) return absl::OkStatus();
  std::string host;
  int port = 0;
  return FirstError({
      ParseHostPort(o.fleet_etcd, "--fleet_etcd", &host, &port),
      ParseHostPort(o.fleet_advertise, "--fleet_advertise", &host, &port),
      CheckRange("--fleet_lease_ttl", o.fleet_lease_ttl, absl::Seconds(2),
                 absl::Minutes(10)),
  });
}

}  // namespace

absl::Status CollectorOptions::Validate() const {
  // Usage errors before the refusal of plaintext (see the header).
  return FirstError({CheckIngest(*this), CheckNotify(*this),
                     CheckStorage(*this), CheckConsole(*this),
                     ValidateHttpLimits(http), CheckFleet(*this),
                     CheckListeners(*this)});
}

}  // namespace aims::collector
