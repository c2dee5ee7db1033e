// CollectorOptions::Validate(): the defaults pass, and each refusal names
// the flag, the value and the limit; plaintext beyond loopback is a
// FAILED_PRECONDITION (the binary exits 1), everything else a usage error.
#include "collector/collector_options.h"

#include <string>

#include "gtest/gtest.h"

namespace aims::collector {
namespace {

// The message Validate() gives after `change` to the defaults; "" when OK.
template <typename Change>
std::string ErrorAfter(Change change) {
  CollectorOptions o;
  change(o);
  return std::string(o.Validate().message());
}

TEST(CollectorOptionsTest, DefaultsPass) {
  EXPECT_TRUE(CollectorOptions().Validate().ok());
}

TEST(CollectorOptionsTest, CountsNameFlagValueAndRange) {
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) { o.query_threads = 0; }),
            "--query_threads: 0, must be 1..64");
  EXPECT_EQ(
      ErrorAfter([](CollectorOptions& o) { o.ingest_queue_capacity = 0; }),
      "--ingest_queue_capacity: 0, must be 1..1000000");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) { o.max_message_bytes = 512; }),
            "--max_message_bytes: 512, must be 1024..67108864");
  EXPECT_EQ(
      ErrorAfter([](CollectorOptions& o) { o.ingest_queue_max_bytes = 1; }),
      "--ingest_queue_max_bytes: 1, must be 1048576..1099511627776");
  EXPECT_EQ(
      ErrorAfter([](CollectorOptions& o) { o.report_limits.max_classes = 1; }),
      "--max_report_classes: 1, must be 2..100000");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.report_limits.max_value_bytes = (1 << 20) + 1;
            }),
            "--max_report_value_bytes: 1048577, must be 1..1048576");
  EXPECT_EQ(
      ErrorAfter([](CollectorOptions& o) { o.max_objectives_per_plan = 0; }),
      "--max_objectives_per_plan: 0, must be 1..1000000");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) { o.max_outbox = 0; }),
            "--max_outbox: 0, must be 1..10000000");
  EXPECT_EQ(
      ErrorAfter([](CollectorOptions& o) { o.max_exported_series = 10000001; }),
      "--max_exported_series: 10000001, must be 0..10000000");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.min_free_disk_mib = (uint64_t{1} << 30) + 1;
            }),
            "--min_free_disk_mib: 1073741825, must be 0..1073741824");
}

TEST(CollectorOptionsTest, NegativeFlagValuesReadAsGiven) {
  // main.cc stores -3 from --query_threads=-3 in a size_t.
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.query_threads = static_cast<size_t>(-3);
            }),
            "--query_threads: -3, must be 1..64");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.min_free_disk_mib = static_cast<uint64_t>(-1);
            }),
            "--min_free_disk_mib: -1, must be 0..1073741824");
}

TEST(CollectorOptionsTest, DurationsNameFlagValueAndLimit) {
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.maintenance_interval = absl::ZeroDuration();
            }),
            "--maintenance_interval: 0s, must be at least 1s");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.report_limits.max_window_seconds = 0;
            }),
            "--max_report_window: 0s, must be 1s..744h");
  EXPECT_EQ(
      ErrorAfter([](CollectorOptions& o) { o.rollup_delay = absl::Hours(25); }),
      "--rollup_delay: 25h, must be 0s..24h");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.rollup_delay_10s = -absl::Seconds(1);
            }),
            "--rollup_delay_10s: -1s, must be 0s..24h");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.rollup_retention[3] = -absl::Hours(1);
            }),
            "--retention_1h: -1h, must not be negative");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.raw_retention = absl::Minutes(30);
            }),
            "--retention_raw: 30m, must be 0 (forever) or at least 1h so that "
            "late windows and evaluation windows find their reports");
  // 0 keeps raw reports forever.
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.raw_retention = absl::ZeroDuration();
            }),
            "");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.agent_expiry = -absl::Seconds(1);
            }),
            "--agent_expiry: -1s, must be 0s..8784h");
  // 0 never forgets an agent.
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.agent_expiry = absl::ZeroDuration();
            }),
            "");
}

TEST(CollectorOptionsTest, ConsoleSessionsAreBounded) {
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.console_session_ttl = absl::Minutes(1);
            }),
            "--console_session_ttl: 1m, must be 5m..168h");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.console_session_idle = absl::Hours(9);
            }),
            "--console_session_idle: 9h, must be 1m..8h");
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) { o.console_max_sessions = 0; }),
            "--console_max_sessions: 0, must be 1..100000");
}

TEST(CollectorOptionsTest, NotificationUrlsMustBeHttp) {
  EXPECT_EQ(ErrorAfter([](CollectorOptions& o) {
              o.alertmanager_urls = {"https://am:9093", "am:9093"};
            }),
            "--alertmanager_url: 'am:9093' is not an http(s) URL");
  EXPECT_EQ(
      ErrorAfter([](CollectorOptions& o) { o.webhook_urls = {"ftp://hooks"}; }),
      "--webhook_url: 'ftp://hooks' is not an http(s) URL");
}

TEST(CollectorOptionsTest, PlaintextBeyondLoopbackMustBeAskedFor) {
  CollectorOptions o;
  o.allow_plaintext = false;
  EXPECT_TRUE(o.Validate().ok());  // loopback
  o.grpc_listen = "0.0.0.0:4317";
  absl::Status refused = o.Validate();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(),
            "--grpc_listen: 0.0.0.0:4317 is not a loopback address and would "
            "be plaintext (set --tls_cert_file and --tls_key_file, and "
            "--tls_client_ca_file for agent certificates); "
            "--allow_plaintext=true accepts it");
  // With TLS the gRPC listener is encrypted, and HTTPS follows it (auto);
  // HTTP turned off on a public address is refused again.
  o.tls.cert_file = "server.crt";
  o.tls.key_file = "server.key";
  o.http_listen = "0.0.0.0:9464";
  EXPECT_TRUE(o.Validate().ok());
  o.http_tls = CollectorOptions::HttpTls::kOff;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(o.Validate().message().find("--http_listen: 0.0.0.0:9464"),
            absl::string_view::npos);
  o.allow_plaintext = true;
  EXPECT_TRUE(o.Validate().ok());
}

TEST(CollectorOptionsTest, UsageErrorsComeBeforeThePlaintextRefusal) {
  CollectorOptions o;
  o.allow_plaintext = false;
  o.grpc_listen = "0.0.0.0:4317";
  o.max_outbox = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CollectorOptionsTest, HttpsOnNeedsACertificate) {
  CollectorOptions o;
  o.http_tls = CollectorOptions::HttpTls::kOn;
  EXPECT_EQ(o.Validate().message(),
            "--http_tls=on: needs --tls_cert_file and --tls_key_file");
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o.tls.cert_file = "server.crt";
  o.tls.key_file = "server.key";
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_TRUE(o.https());
}

}  // namespace
}  // namespace aims::collector
