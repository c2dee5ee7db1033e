// HttpServer: a small threaded HTTP/1.1 server (cpp-httplib) for the JSON
// intake, health endpoints and the Prometheus /metrics page of a binary.
//
// Listen() binds (port 0 picks a free port) and serves on a background
// thread; Stop() stops accepting, finishes requests in flight and joins.
// Request bodies above `max_body_bytes` are refused with 413. cpp-httplib
// bounds only bodies with a Content-Length, so a request that would carry a
// body without one (chunked, or read until the connection closes) is
// refused with 411 before its body is read. Use SetPreRoutingHandler, not
// routes().set_pre_routing_handler, which would replace that guard.
// WithTls() serves HTTPS instead (TLS 1.2+, optionally requiring client
// certificates).
//
// Thread-safety: handlers run on the server's worker threads and must be
// thread-safe; Listen/Stop are called from one owner thread.
#ifndef AIMS_COMMON_NET_HTTP_SERVER_H_
#define AIMS_COMMON_NET_HTTP_SERVER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/net/reloading_certificate.h"
#include "common/net/tls.h"
#include "httplib.h"
#include "prometheus/registry.h"

namespace aims {

// Splits "host:port" or "[v6]:port". Fails with a message naming `flag`.
absl::Status ParseHostPort(absl::string_view address, absl::string_view flag,
                           std::string* host, int* port);

// A fixed pool of worker threads for HttpServer whose queue is bounded:
// beyond `max_queued` waiting connections, enqueue() blocks the accepting
// thread, so further clients wait in the kernel's listen backlog instead of
// growing memory. Its depth is readable for load shedding and metrics.
class BoundedThreadPool final : public httplib::TaskQueue {
 public:
  BoundedThreadPool(int threads, size_t max_queued);
  ~BoundedThreadPool() override;
  void enqueue(std::function<void()> fn) override;
  void shutdown() override;
  size_t depth() const;

 private:
  void Work();
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::condition_variable space_;
  std::deque<std::function<void()>> queue_;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

class HttpServer {
 public:
  // Plaintext.
  explicit HttpServer(size_t max_body_bytes = 16 << 20, int threads = 4,
                      size_t max_queued = 1024);
  // HTTPS with the certificate of `tls` (re-read while running, see
  // common/net/reloading_certificate.h); client certificates signed by
  // `tls.client_ca_file` are required when `verify_clients`. Errors name
  // the --tls_* flags.
  static absl::StatusOr<std::unique_ptr<HttpServer>> WithTls(
      const TlsServerFiles& tls, bool verify_clients, size_t max_body_bytes,
      int threads, size_t max_queued);
  ~HttpServer();

  bool tls() const { return certificate_ != nullptr; }
  httplib::Server& routes() { return *server_; }
  // Runs before routing (and before the body is read), after the 411 guard.
  void SetPreRoutingHandler(httplib::Server::HandlerWithResponse handler);
  // Called for each request refused with 411 (e.g. to count it); `res`
  // already holds the answer and may be rewritten.
  void OnLengthRequired(
      std::function<void(const httplib::Request&, httplib::Response&)> hook);
  // Serves GET /metrics in the Prometheus text format 0.0.4.
  // `extra` (optional) adds families computed at scrape time.
  void ServeMetrics(
      std::shared_ptr<prometheus::Registry> registry,
      std::function<std::vector<prometheus::MetricFamily>()> extra = nullptr);

  // Binds `address` ("host:port") and starts serving; returns the bound port.
  absl::StatusOr<int> Listen(absl::string_view address, absl::string_view flag);
  void Stop();
  // Connections accepted and waiting for a worker.
  size_t queue_depth() const;

 private:
  HttpServer(std::unique_ptr<httplib::Server> server, size_t max_body_bytes,
             int threads, size_t max_queued);

  std::atomic<BoundedThreadPool*> pool_{nullptr};
  const size_t max_body_bytes_;
  // Set before Listen(); read on worker threads afterwards.
  httplib::Server::HandlerWithResponse pre_routing_;
  std::function<void(const httplib::Request&, httplib::Response&)>
      on_length_required_;
  // Outlives server_, whose SSL_CTX calls it on every handshake.
  std::unique_ptr<ReloadingCertificate> certificate_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// Writes "name port" lines to `path` atomically (tmp + rename), so tests and
// scripts can find ports bound with port 0. No-op for an empty path.
absl::Status WritePortsFile(
    const std::string& path,
    const std::vector<std::pair<std::string, int>>& ports);

}  // namespace aims

#endif  // AIMS_COMMON_NET_HTTP_SERVER_H_
