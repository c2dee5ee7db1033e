// HttpServer: the HTTP/1.1 (and HTTPS) listener of aims-agent and
// aims-collector - the JSON intake, the HTTP API, health probes and the
// Prometheus /metrics page - built so that slow or idle clients cannot starve
// it.
//
// Contract:
//  - Event-driven (Boost.Beast on Asio): a connection costs a socket and a
//    few kilobytes, never a thread, while it is being read or written. IO
//    threads only read and write; handlers run on worker pools.
//  - Deadlines: the TLS handshake and the whole request head must arrive
//    within `header_timeout` of the connection (or of the previous answer,
//    `idle_timeout` on a kept-alive connection); the whole body within
//    `body_timeout`; an answer must be taken by the client within
//    `write_timeout`. A connection past its deadline is closed and counted.
//  - Bounds: at most `max_connections` open connections and
//    `max_connections_per_client` per client IP address; beyond, a new
//    connection is closed at once and counted. A head over
//    `max_header_bytes` is refused with 431, a target over
//    `max_target_bytes` with 414, a body over `max_body_bytes` with 413
//    before it is read, a body without Content-Length with 411.
//  - Two budgets: routes of kWork (intake, API) and kControl (probes,
//    /metrics) run on separate worker pools with separate bounded queues, so
//    probes and scrapes are answered while the work pool is saturated. A
//    request that finds its queue full gets the overload answer (503, or
//    what SetOverloadAnswer says) at once.
//  - Every error answer has a JSON body naming the problem: 404 names the
//    path, 405 the method and the allowed ones, 411/413/414/431 the limit.
//  - Stop() stops accepting, lets answers in flight finish (up to 5 s),
//    closes every connection and joins all threads.
//
// Metrics (when a registry is given): <prefix>_http_connections_open,
// <prefix>_http_connections_refused_total{reason="max_connections" |
// "max_connections_per_client"}, <prefix>_http_timeouts_total{phase=
// "handshake" | "header" | "body" | "write"},
// <prefix>_http_overloaded_total{budget="work" | "control"}.
//
// Thread-safety: Handle(), ServeMetrics() and the Set*() calls happen before
// Listen(); handlers run concurrently on worker threads and must be
// thread-safe; Listen() and Stop() are called by one owner thread.
#ifndef AIMS_COMMON_NET_HTTP_SERVER_H_
#define AIMS_COMMON_NET_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/net/http_message.h"
#include "common/net/metrics_exposition.h"
#include "common/net/tls.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace aims {

// Splits "host:port" or "[v6]:port". Fails with a message naming `flag`.
absl::Status ParseHostPort(absl::string_view address, absl::string_view flag,
                           std::string* host, int* port);

// Writes "name port" lines to `path` atomically (tmp + rename), so tests and
// scripts can find ports bound with port 0. No-op for an empty path.
absl::Status WritePortsFile(
    const std::string& path,
    const std::vector<std::pair<std::string, int>>& ports);

struct HttpServerOptions {
  size_t max_body_bytes = 16 << 20;
  size_t max_header_bytes = 16 << 10;
  size_t max_target_bytes = 8 << 10;
  absl::Duration header_timeout = absl::Seconds(10);
  absl::Duration body_timeout = absl::Seconds(30);
  absl::Duration idle_timeout = absl::Seconds(30);
  absl::Duration write_timeout = absl::Seconds(30);
  int max_connections = 512;
  int max_connections_per_client = 128;
  int io_threads = 1;
  int work_threads = 4;
  size_t work_queue = 1024;
  int control_threads = 1;
  size_t control_queue = 64;
  // Series names start with this ("aims_agent" -> aims_agent_http_...);
  // no series without a registry.
  std::shared_ptr<prometheus::Registry> registry;
  std::string metrics_prefix;
  // Flag names used in limit messages, e.g. "--max_body_bytes"; empty when
  // the binary fixes the limit (no flag to name).
  std::string max_body_flag = "--max_body_bytes";
};

// Checks the options set by the --http_* flags every binary shares
// (--http_max_connections, --http_max_connections_per_client,
// --http_header_timeout, --http_idle_timeout), naming the flag.
absl::Status ValidateHttpLimits(const HttpServerOptions& options);

// Which worker pool runs a route.
enum class RouteBudget { kWork, kControl };

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

class HttpServer {
 public:
  // Plaintext when `tls` is null or not enabled; otherwise HTTPS with the
  // certificate of `tls` (re-read while running, see
  // common/net/reloading_certificate.h), requiring client certificates
  // signed by `tls->client_ca_file` when `verify_clients`. Errors name the
  // --tls_* flags.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(
      HttpServerOptions options, const TlsServerFiles* tls = nullptr,
      bool verify_clients = false);
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // `pattern` is an exact path, or a path with one "/{name}" segment (last,
  // or followed by a fixed rest such as "/update") passed as
  // HttpRequest::path_parameter.
  void Handle(std::string method, std::string pattern, RouteBudget budget,
              HttpHandler handler);
  // GET /metrics in the Prometheus text format 0.0.4 (control budget,
  // common/net/metrics_exposition.h: with process_* and aims_build_info);
  // `before` (optional) runs first, e.g. to refresh gauges; `extra`
  // (optional) adds families computed at scrape time; `labels` are added to
  // every series of `registry`.
  void ServeMetrics(
      std::shared_ptr<prometheus::Registry> registry,
      std::function<void()> before = nullptr,
      std::function<std::vector<prometheus::MetricFamily>()> extra = nullptr,
      MetricLabels labels = {});
  // Called with the limit's name ("body_bytes", "header_bytes",
  // "target_bytes") whenever a request is refused by one (e.g. to count it).
  void OnLimitRefused(std::function<void(absl::string_view limit)> hook);
  // Fills the answer to a request whose budget's queue is full (default:
  // 503 with a JSON error and Retry-After: 1).
  void SetOverloadAnswer(RouteBudget budget,
                         std::function<void(HttpResponse&)> answer);

  // Binds `address` ("host:port"; port 0 picks a free one) and starts
  // serving; returns the bound port. Errors name `flag`.
  absl::StatusOr<int> Listen(absl::string_view address, absl::string_view flag);
  void Stop();

  bool tls() const;
  // Requests waiting for a worker of `budget`.
  size_t queue_depth(RouteBudget budget = RouteBudget::kWork) const;
  // Open connections (for tests and gauges).
  int connections() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aims

#endif  // AIMS_COMMON_NET_HTTP_SERVER_H_
