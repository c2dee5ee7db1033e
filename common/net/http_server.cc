#include "common/net/http_server.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"

namespace aims {

absl::Status ParseHostPort(absl::string_view address, absl::string_view flag,
                           std::string* host, int* port) {
  size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": '", address,
                     "' is not host:port (e.g. 127.0.0.1:8080)"));
  }
  absl::string_view h = address.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    h = h.substr(1, h.size() - 2);
  }
  int p = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": port in '", address, "' must be 0..65535"));
  }
  *host = std::string(h);
  *port = p;
  return absl::OkStatus();
}

BoundedThreadPool::BoundedThreadPool(int threads, size_t max_queued)
    : max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

BoundedThreadPool::~BoundedThreadPool() { shutdown(); }

void BoundedThreadPool::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  space_.wait(lock,
              [this] { return queue_.size() < max_queued_ || shutdown_; });
  queue_.push_back(std::move(fn));
  ready_.notify_one();
}

void BoundedThreadPool::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_ && threads_.empty()) return;
    shutdown_ = true;
  }
  ready_.notify_all();
  space_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

size_t BoundedThreadPool::depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void BoundedThreadPool::Work() {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_.wait(lock, [this] { return !queue_.empty() || shutdown_; });
      // Drain what was accepted before stopping: each entry owns a socket.
      if (queue_.empty()) return;
      fn = std::move(queue_.front());
      queue_.pop_front();
    }
    space_.notify_one();
    fn();
  }
}

namespace {

// Methods for which cpp-httplib reads a request body.
bool ReadsBody(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" ||
         method == "DELETE" || method == "PRI";
}

}  // namespace

HttpServer::HttpServer(size_t max_body_bytes, int threads, size_t max_queued)
    : HttpServer(std::make_unique<httplib::Server>(), max_body_bytes, threads,
                 max_queued) {}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::WithTls(
    const TlsServerFiles& tls, bool verify_clients, size_t max_body_bytes,
    int threads, size_t max_queued) {
  if (tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_key_file: required with --tls_cert_file");
  }
  if (verify_clients && tls.client_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_ca_file: required to verify HTTP client certificates");
  }
  absl::StatusOr<std::unique_ptr<ReloadingCertificate>> certificate =
      ReloadingCertificate::Load(tls.cert_file, tls.key_file,
                                 tls.reload_interval, "tls_");
  if (!certificate.ok()) return certificate.status();
  ReloadingCertificate* cert = certificate->get();
  absl::Status installed = absl::OkStatus();
  const std::string client_ca = verify_clients ? tls.client_ca_file : "";
  auto server = std::make_unique<httplib::SSLServer>(
      [cert, &client_ca, &installed](SSL_CTX& ctx) {
        installed = cert->Install(&ctx, client_ca);
        return installed.ok();
      });
  if (!installed.ok()) return installed;
  if (!server->is_valid()) {
    return absl::InternalError("--tls_cert_file: cannot set up TLS");
  }
  std::unique_ptr<HttpServer> http(
      new HttpServer(std::move(server), max_body_bytes, threads, max_queued));
  http->certificate_ = std::move(*certificate);
  return http;
}

HttpServer::HttpServer(std::unique_ptr<httplib::Server> server,
                       size_t max_body_bytes, int threads, size_t max_queued)
    : max_body_bytes_(max_body_bytes), server_(std::move(server)) {
  server_->set_payload_max_length(max_body_bytes);
  server_->set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        if ((ReadsBody(req.method) && !req.has_header("Content-Length")) ||
            req.has_header("Transfer-Encoding")) {
          res.status = 411;
          res.set_header("Connection", "close");
          res.set_content(
              absl::StrCat("{\"error\":\"body: no Content-Length (chunked "
                           "bodies are not accepted); send Content-Length, at "
                           "most ",
                           max_body_bytes_, " bytes\"}\n"),
              "application/json");
          if (on_length_required_) on_length_required_(req, res);
          return httplib::Server::HandlerResponse::Handled;
        }
        return pre_routing_ ? pre_routing_(req, res)
                            : httplib::Server::HandlerResponse::Unhandled;
      });
  server_->new_task_queue = [this, threads, max_queued] {
    auto* pool = new BoundedThreadPool(threads, max_queued);
    pool_ = pool;
    return pool;
  };
  // Rotate workers between connections so that one busy keep-alive client
  // cannot hold a worker for long while others queue.
  server_->set_keep_alive_max_count(100);
  // httplib writes a response's headers and body separately: with Nagle's
  // algorithm the body waits for the client's delayed ACK of the headers
  // (up to 40 ms), which capped a keep-alive client at ~25 requests/s.
  server_->set_tcp_nodelay(true);
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::SetPreRoutingHandler(
    httplib::Server::HandlerWithResponse handler) {
  pre_routing_ = std::move(handler);
}

void HttpServer::OnLengthRequired(
    std::function<void(const httplib::Request&, httplib::Response&)> hook) {
  on_length_required_ = std::move(hook);
}

void HttpServer::ServeMetrics(
    std::shared_ptr<prometheus::Registry> registry,
    std::function<std::vector<prometheus::MetricFamily>()> extra) {
  server_->Get("/metrics", [registry, extra](const httplib::Request&,
                                             httplib::Response& res) {
    std::vector<prometheus::MetricFamily> families = registry->Collect();
    if (extra) {
      for (prometheus::MetricFamily& f : extra())
        families.push_back(std::move(f));
    }
    prometheus::TextSerializer serializer;
    res.set_content(serializer.Serialize(families),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
}

absl::StatusOr<int> HttpServer::Listen(absl::string_view address,
                                       absl::string_view flag) {
  std::string host;
  int port = 0;
  if (absl::Status s = ParseHostPort(address, flag, &host, &port); !s.ok()) {
    return s;
  }
  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
  } else if (!server_->bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("--", flag, ": cannot listen on ", address,
                     " (address in use or not local)"));
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return bound;
}

size_t HttpServer::queue_depth() const {
  BoundedThreadPool* pool = pool_.load();
  return pool == nullptr ? 0 : pool->depth();
}

void HttpServer::Stop() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
  pool_ = nullptr;  // httplib deletes its task queue when listening ends
}

absl::Status WritePortsFile(
    const std::string& path,
    const std::vector<std::pair<std::string, int>>& ports) {
  if (path.empty()) return absl::OkStatus();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [name, port] : ports) out << name << " " << port << "\n";
    if (!out.good()) {
      return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace aims
