#include "common/net/http_server.h"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "common/base/cli.h"
#include "common/base/proto_json.h"
#include "common/base/task_pool.h"
#include "common/net/reloading_certificate.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"

namespace aims {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

namespace {

// Body reads of up to kBodyReadBytes; an idle connection keeps 4 KiB.
constexpr size_t kBodyReadBytes = 64 << 10;
constexpr size_t kIdleBufferBytes = 4 << 10;

std::chrono::steady_clock::duration ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

struct Route {
  std::string method;
  std::string path;    // up to the "{...}" segment when `parameter`
  std::string suffix;  // what follows the "{...}" segment, e.g. "/update"
  bool parameter = false;
  RouteBudget budget = RouteBudget::kWork;
  HttpHandler handler;

  // Whether `path` (of a request) is this route's path.
  bool Matches(absl::string_view request_path) const {
    if (!parameter) return request_path == path;
    if (request_path.size() <= path.size() + suffix.size() ||
        !absl::StartsWith(request_path, path) ||
        !absl::EndsWith(request_path, suffix)) {
      return false;
    }
    return Parameter(request_path).find('/') == absl::string_view::npos;
  }
  // The "{...}" segment of a matching `request_path`.
  absl::string_view Parameter(absl::string_view request_path) const {
    return request_path.substr(
        path.size(), request_path.size() - path.size() - suffix.size());
  }
};

bool MethodReadsBody(absl::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" ||
         method == "DELETE" || method == "PRI";
}

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions o)
      : options(std::move(o)),
        work(options.work_threads, options.work_queue),
        control(options.control_threads, options.control_queue) {}

  void RegisterMetrics();
  // Admits a new connection of `client` within the bounds, or counts it.
  bool Admit(const std::string& client);
  void Release(const std::string& client);
  void CountTimeout(int phase) {
    if (timeouts[phase] != nullptr) timeouts[phase]->Increment();
  }
  void Limit(absl::string_view limit) {
    if (on_limit) on_limit(limit);
  }
  // The route for `method` and `path`, or null with `error` filled (404 or
  // 405 naming the path, or the method and the allowed ones).
  const Route* Find(absl::string_view method, absl::string_view path,
                    HttpResponse* error) const;
  TaskPool& pool(RouteBudget b) {
    return b == RouteBudget::kWork ? work : control;
  }
  const TaskPool& pool(RouteBudget b) const {
    return b == RouteBudget::kWork ? work : control;
  }
  void Overloaded(RouteBudget b, HttpResponse& res) {
    const int i = b == RouteBudget::kWork ? 0 : 1;
    if (overloaded[i] != nullptr) overloaded[i]->Increment();
    if (overload_answer[i]) {
      overload_answer[i](res);
      return;
    }
    res.SetError(503, "server overloaded: too many requests queued; retry");
    res.SetHeader("Retry-After", "1");
  }
  void DoAccept();
  void OnAccept(tcp::socket socket);

  const HttpServerOptions options;
  std::vector<Route> routes;
  std::function<void(absl::string_view)> on_limit;
  std::function<void(HttpResponse&)> overload_answer[2];
  std::unique_ptr<ReloadingCertificate> certificate;
  std::unique_ptr<ssl::context> ssl_context;

  // Phases of CountTimeout.
  enum { kHandshake, kHeader, kBody, kWrite };
  prometheus::Gauge* open_gauge = nullptr;
  prometheus::Counter* refused_total = nullptr;
  prometheus::Counter* refused_per_client = nullptr;
  prometheus::Counter* timeouts[4] = {nullptr, nullptr, nullptr, nullptr};
  prometheus::Counter* overloaded[2] = {nullptr, nullptr};

  mutable absl::Mutex mu;
  int open ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<std::string, int> per_client ABSL_GUARDED_BY(mu);
  // Requests dispatched to a handler whose answer is not written yet.
  std::atomic<int> in_flight{0};
  bool stopped = false;

  TaskPool work;
  TaskPool control;
  // Destroyed by Stop() after the threads are joined (its pending handlers
  // hold the sessions, which close their sockets and Release() as they go).
  std::unique_ptr<net::io_context> ioc = std::make_unique<net::io_context>();
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_retry;
  std::vector<std::thread> io_threads;
};

namespace {

// " (--max_body_bytes)" after a body limit, or nothing when the binary sets
// the limit itself (max_body_flag empty).
std::string FlagNote(const HttpServerOptions& options) {
  return options.max_body_flag.empty()
             ? std::string()
             : absl::StrCat(" (", options.max_body_flag, ")");
}

// One connection: reads a request, runs its handler on a worker pool,
// writes the answer, and repeats while the client keeps the connection.
// `Stream` is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(HttpServer::Impl* server, Stream stream, std::string client)
      : server_(server),
        stream_(std::move(stream)),
        client_(std::move(client)) {}
  ~Session() { server_->Release(client_); }

  void Start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      ReadHead(/*first=*/true);
    } else {
      beast::get_lowest_layer(stream_).expires_after(
          ToChrono(server_->options.header_timeout));
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = this->shared_from_this()](beast::error_code ec) {
            if (ec) {
              if (ec == beast::error::timeout) {
                self->server_->CountTimeout(HttpServer::Impl::kHandshake);
              }
              return self->CloseNow();
            }
            self->ReadHead(/*first=*/true);
          });
    }
  }

 private:
  void ReadHead(bool first) {
    if (buffer_.size() == 0 && buffer_.capacity() > kIdleBufferBytes) {
      buffer_.shrink_to_fit();
    }
    parser_.emplace();
    parser_->header_limit(
        static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(server_->options.max_body_bytes);
    beast::get_lowest_layer(stream_).expires_after(
        ToChrono(first ? server_->options.header_timeout
                       : server_->options.idle_timeout));
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) {
          self->OnHead(ec);
        });
  }

  void OnHead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset) {
      return CloseNow();
    }
    if (ec == beast::error::timeout) {
      // A kept-alive connection that sent nothing is merely idle.
      if (parser_->got_some() || buffer_.size() > 0) {
        server_->CountTimeout(HttpServer::Impl::kHeader);
      }
      return CloseNow();
    }
    if (ec == http::error::body_limit) {
      // The head is read; its Content-Length is over the limit.
      server_->Limit("body_bytes");
      return Refuse(
          413,
          absl::StrCat("body: ",
                       std::string(parser_->get()[http::field::content_length]),
                       " bytes, limit ", server_->options.max_body_bytes,
                       FlagNote(server_->options)));
    }
    if (ec == http::error::header_limit) {
      server_->Limit("header_bytes");
      return Refuse(431, absl::StrCat("request head: over ",
                                      server_->options.max_header_bytes,
                                      " bytes (the limit)"));
    }
    if (ec) {
      return Refuse(400, absl::StrCat("malformed request: ", ec.message()));
    }
    const auto& head = parser_->get();
    const absl::string_view target(head.target().data(), head.target().size());
    if (target.size() > server_->options.max_target_bytes) {
      server_->Limit("target_bytes");
      return Refuse(414,
                    absl::StrCat("target: ", target.size(), " bytes, limit ",
                                 server_->options.max_target_bytes));
    }
    request_.method = std::string(head.method_string());
    request_.target = std::string(target);
    const size_t q = target.find('?');
    request_.path = std::string(target.substr(0, q));
    request_.query.clear();
    if (q != absl::string_view::npos) {
      request_.query = ParseQuery(target.substr(q + 1));
    }
    if (parser_->chunked() ||
        (MethodReadsBody(request_.method) && !parser_->content_length())) {
      server_->Limit("body_bytes");
      return Refuse(
          411, absl::StrCat("body: no Content-Length (chunked bodies are not "
                            "accepted); send Content-Length, at most ",
                            server_->options.max_body_bytes, " bytes",
                            FlagNote(server_->options)));
    }
    HttpResponse error;
    route_ = server_->Find(request_.method, request_.path, &error);
    if (route_ == nullptr) return Refuse(error);
    if (const auto length = parser_->content_length();
        length && *length > server_->options.max_body_bytes) {
      server_->Limit("body_bytes");
      return Refuse(413, absl::StrCat("body: ", *length, " bytes, limit ",
                                      server_->options.max_body_bytes,
                                      FlagNote(server_->options)));
    }
    if (parser_->is_done()) return Dispatch();
    if (beast::iequals(head[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(
          http::status::continue_, head.version());
      beast::get_lowest_layer(stream_).expires_after(
          ToChrono(server_->options.write_timeout));
      http::async_write(stream_, *cont,
                        [self = this->shared_from_this(), cont](
                            beast::error_code ec, size_t) {
                          if (ec) return self->CloseNow();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    // Beast reads at most the buffer's free room (512 bytes at least): a
    // read and a timer update per 512 bytes without it (ReadHead frees it).
    if (const auto length = parser_->content_length(); length) {
      buffer_.reserve(std::min<size_t>(*length, kBodyReadBytes));
    }
    beast::get_lowest_layer(stream_).expires_after(
        ToChrono(server_->options.body_timeout));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) {
          if (ec == beast::error::timeout) {
            self->server_->CountTimeout(HttpServer::Impl::kBody);
            return self->CloseNow();
          }
          if (ec == http::error::body_limit) {
            self->server_->Limit("body_bytes");
            return self->Refuse(
                413,
                absl::StrCat("body: over ",
                             self->server_->options.max_body_bytes, " bytes (",
                             self->server_->options.max_body_flag, ")"));
          }
          if (ec) return self->CloseNow();
          self->Dispatch();
        });
  }

  void Dispatch() {
    auto& message = parser_->get();
    request_.headers.clear();
    for (const auto& field : message) {
      request_.headers.emplace_back(std::string(field.name_string()),
                                    std::string(field.value()));
    }
    request_.body = std::move(message.body());
    request_.remote_address = client_;
    request_.path_parameter =
        route_->parameter ? std::string(route_->Parameter(request_.path)) : "";
    keep_alive_ = message.keep_alive();
    const RouteBudget budget = route_->budget;
    ++server_->in_flight;
    const bool queued = server_->pool(budget).TrySchedule(
        [self = this->shared_from_this(), route = route_] {
          auto response = std::make_shared<HttpResponse>();
          route->handler(self->request_, *response);
          net::post(self->stream_.get_executor(), [self, response] {
            self->Write(std::move(*response), /*close=*/false);
          });
        });
    if (!queued) {
      HttpResponse response;
      server_->Overloaded(budget, response);
      Write(std::move(response), /*close=*/false);
    }
  }

  // Answers a request that was not read whole: the connection closes after.
  void Refuse(HttpResponse response) {
    ++server_->in_flight;
    Write(std::move(response), /*close=*/true);
  }
  void Refuse(int status, absl::string_view message) {
    HttpResponse response;
    response.SetError(status, message);
    Refuse(std::move(response));
  }

  void Write(HttpResponse response, bool close) {
    auto out = std::make_shared<http::response<http::string_body>>();
    out->version(11);  // the highest version served, whatever was asked
    out->result(static_cast<unsigned>(response.status));
    if (!response.content_type.empty()) {
      out->set(http::field::content_type, response.content_type);
    }
    for (auto& [name, value] : response.headers) out->set(name, value);
    out->body() = std::move(response.body);
    out->keep_alive(keep_alive_ && !close);
    out->prepare_payload();
    const bool closing = !out->keep_alive();
    beast::get_lowest_layer(stream_).expires_after(
        ToChrono(server_->options.write_timeout));
    http::async_write(stream_, *out,
                      [self = this->shared_from_this(), out, closing](
                          beast::error_code ec, size_t) {
                        --self->server_->in_flight;
                        if (ec == beast::error::timeout) {
                          self->server_->CountTimeout(HttpServer::Impl::kWrite);
                        }
                        if (ec || closing) return self->Close();
                        self->ReadHead(/*first=*/false);
                      });
  }

  // Ends the connection after an answer: TLS says goodbye (bounded).
  void Close() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      CloseNow();
    } else {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(1));
      stream_.async_shutdown([self = this->shared_from_this()](
                                 beast::error_code) { self->CloseNow(); });
    }
  }

  void CloseNow() {
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().shutdown(
        tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(stream_).close();
  }

  HttpServer::Impl* const server_;
  Stream stream_;
  const std::string client_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const Route* route_ = nullptr;
  HttpRequest request_;
  bool keep_alive_ = true;
};

}  // namespace

void HttpServer::Impl::RegisterMetrics() {
  if (options.registry == nullptr) return;
  prometheus::Registry& r = *options.registry;
  const std::string p = absl::StrCat(options.metrics_prefix, "_http_");
  open_gauge = &prometheus::BuildGauge()
                    .Name(p + "connections_open")
                    .Help("HTTP connections open now.")
                    .Register(r)
                    .Add({});
  auto& refused = prometheus::BuildCounter()
                      .Name(p + "connections_refused_total")
                      .Help(
                          "HTTP connections closed at once because a bound "
                          "was reached (reason: max_connections of the "
                          "listener, max_connections_per_client of one "
                          "client address).")
                      .Register(r);
  refused_total = &refused.Add({{"reason", "max_connections"}});
  refused_per_client = &refused.Add({{"reason", "max_connections_per_client"}});
  auto& timeout = prometheus::BuildCounter()
                      .Name(p + "timeouts_total")
                      .Help(
                          "HTTP connections closed because a deadline "
                          "passed (phase: handshake, header, body, write).")
                      .Register(r);
  const char* phases[] = {"handshake", "header", "body", "write"};
  for (int i = 0; i < 4; ++i)
    timeouts[i] = &timeout.Add({{"phase", phases[i]}});
  auto& over = prometheus::BuildCounter()
                   .Name(p + "overloaded_total")
                   .Help(
                       "Requests answered at once as overloaded because "
                       "their budget's queue was full (budget: work, "
                       "control).")
                   .Register(r);
  overloaded[0] = &over.Add({{"budget", "work"}});
  overloaded[1] = &over.Add({{"budget", "control"}});
}

bool HttpServer::Impl::Admit(const std::string& client) {
  absl::MutexLock lock(&mu);
  if (open >= options.max_connections) {
    if (refused_total != nullptr) refused_total->Increment();
    return false;
  }
  int& mine = per_client[client];
  if (mine >= options.max_connections_per_client) {
    if (mine == 0) per_client.erase(client);
    if (refused_per_client != nullptr) refused_per_client->Increment();
    return false;
  }
  ++mine;
  ++open;
  if (open_gauge != nullptr) open_gauge->Set(open);
  return true;
}

void HttpServer::Impl::Release(const std::string& client) {
  absl::MutexLock lock(&mu);
  --open;
  if (open_gauge != nullptr) open_gauge->Set(open);
  auto it = per_client.find(client);
  if (it != per_client.end() && --it->second <= 0) per_client.erase(it);
}

const Route* HttpServer::Impl::Find(absl::string_view method,
                                    absl::string_view path,
                                    HttpResponse* error) const {
  std::vector<std::string> allowed;
  for (const Route& route : routes) {
    if (!route.Matches(path)) continue;
    if (route.method == method) return &route;
    allowed.push_back(route.method);
  }
  if (allowed.empty()) {
    error->SetError(404, absl::StrCat("no such path: ", path));
  } else {
    error->SetError(405,
                    absl::StrCat("method ", method, " not allowed on ", path,
                                 "; allowed: ", absl::StrJoin(allowed, ", ")));
    error->SetHeader("Allow", absl::StrJoin(allowed, ", "));
  }
  return nullptr;
}

void HttpServer::Impl::DoAccept() {
  acceptor->async_accept(
      net::make_strand(*ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (!acceptor->is_open()) return;
        if (ec) {
          // Out of file descriptors and the like: try again shortly rather
          // than spinning.
          accept_retry->expires_after(std::chrono::milliseconds(20));
          accept_retry->async_wait([this](beast::error_code) {
            if (acceptor->is_open()) DoAccept();
          });
          return;
        }
        OnAccept(std::move(socket));
        DoAccept();
      });
}

void HttpServer::Impl::OnAccept(tcp::socket socket) {
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;
  const std::string client = peer.address().to_string();
  if (!Admit(client)) return;  // `socket` closes as it goes
  socket.set_option(tcp::no_delay(true), ec);
  if (ssl_context != nullptr) {
    std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
        this,
        beast::ssl_stream<beast::tcp_stream>(
            beast::tcp_stream(std::move(socket)), *ssl_context),
        client)
        ->Start();
  } else {
    std::make_shared<Session<beast::tcp_stream>>(
        this, beast::tcp_stream(std::move(socket)), client)
        ->Start();
  }
}

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

absl::Status ValidateHttpLimits(const HttpServerOptions& o) {
  for (absl::Status s :
       {CheckRange("--http_max_connections", o.max_connections, 1, 1 << 20),
        CheckRange("--http_max_connections_per_client",
                   o.max_connections_per_client, 1, o.max_connections),
        CheckRange("--http_header_timeout", o.header_timeout,
                   absl::Milliseconds(100), absl::Hours(1)),
        CheckRange("--http_idle_timeout", o.idle_timeout,
                   absl::Milliseconds(100), absl::Hours(1))}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(
    HttpServerOptions options, const TlsServerFiles* tls, bool verify_clients) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (tls != nullptr && tls->enabled()) {
    if (tls->key_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_key_file: required with --tls_cert_file");
    }
    if (verify_clients && tls->client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca_file: required to verify HTTP client certificates");
    }
    absl::StatusOr<std::unique_ptr<ReloadingCertificate>> certificate =
        ReloadingCertificate::Load(tls->cert_file, tls->key_file,
                                   tls->reload_interval, "tls_");
    if (!certificate.ok()) return certificate.status();
    impl->ssl_context =
        std::make_unique<ssl::context>(ssl::context::tls_server);
    impl->ssl_context->set_options(
        ssl::context::default_workarounds | ssl::context::no_sslv2 |
        ssl::context::no_sslv3 | ssl::context::single_dh_use);
    if (absl::Status s =
            (*certificate)
                ->Install(impl->ssl_context->native_handle(),
                          verify_clients ? tls->client_ca_file : "");
        !s.ok()) {
      return s;
    }
    impl->certificate = std::move(*certificate);
  }
  impl->RegisterMetrics();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string method, std::string pattern,
                        RouteBudget budget, HttpHandler handler) {
  Route route;
  route.method = std::move(method);
  route.budget = budget;
  route.handler = std::move(handler);
  const size_t brace = pattern.rfind("/{");
  const size_t close = pattern.find('}', brace);
  if (brace != std::string::npos && close != std::string::npos) {
    route.parameter = true;
    route.suffix = pattern.substr(close + 1);
    pattern.resize(brace + 1);
  }
  route.path = std::move(pattern);
  impl_->routes.push_back(std::move(route));
}

void HttpServer::ServeMetrics(
    std::shared_ptr<prometheus::Registry> registry,
    std::function<void()> before,
    std::function<std::vector<prometheus::MetricFamily>()> extra,
    MetricLabels labels) {
  Handle(
      "GET", "/metrics", RouteBudget::kControl,
      [registry, before, extra, labels](const HttpRequest&, HttpResponse& res) {
        if (before) before();
        res.SetContent(
            Exposition(
                *registry, labels,
                extra ? extra() : std::vector<prometheus::MetricFamily>{}),
            "text/plain; version=0.0.4; charset=utf-8");
      });
}

void HttpServer::OnLimitRefused(
    std::function<void(absl::string_view limit)> hook) {
  impl_->on_limit = std::move(hook);
}

void HttpServer::SetOverloadAnswer(RouteBudget budget,
                                   std::function<void(HttpResponse&)> answer) {
  impl_->overload_answer[budget == RouteBudget::kWork ? 0 : 1] =
      std::move(answer);
}

absl::StatusOr<int> HttpServer::Listen(absl::string_view address,
                                       absl::string_view flag) {
  std::string host;
  int port = 0;
  if (absl::Status s = ParseHostPort(address, flag, &host, &port); !s.ok()) {
    return s;
  }
  const auto fail = [&](const std::string& why) {
    return absl::UnavailableError(absl::StrCat(
        "--", flag, ": cannot listen on ", address, " (", why, ")"));
  };
  beast::error_code ec;
  tcp::resolver resolver(*impl_->ioc);
  auto endpoints =
      resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) return fail(ec ? ec.message() : "no address");
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  impl_->acceptor.emplace(*impl_->ioc);
  impl_->accept_retry.emplace(*impl_->ioc);
  tcp::acceptor& acceptor = *impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return fail(ec.message());
  const int bound = acceptor.local_endpoint().port();
  impl_->DoAccept();
  for (int i = 0; i < std::max(1, impl_->options.io_threads); ++i) {
    impl_->io_threads.emplace_back([this] { impl_->ioc->run(); });
  }
  return bound;
}

void HttpServer::Stop() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->acceptor) {
    net::post(*impl_->ioc, [impl = impl_.get()] {
      beast::error_code ignored;
      impl->acceptor->close(ignored);
      impl->accept_retry->cancel();
    });
    // Answers in flight get a moment to be written.
    const absl::Time give_up = absl::Now() + absl::Seconds(5);
    while (impl_->in_flight.load() > 0 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(1));
    }
  }
  impl_->ioc->stop();
  for (std::thread& t : impl_->io_threads) t.join();
  impl_->io_threads.clear();
  impl_->work.Shutdown(TaskPool::Queued::kDrop);
  impl_->control.Shutdown(TaskPool::Queued::kDrop);
  // Destroying the context destroys the sessions its handlers hold: every
  // connection is closed now, not when the server object goes.
  impl_->acceptor.reset();
  impl_->accept_retry.reset();
  impl_->ioc.reset();
}

bool HttpServer::tls() const { return impl_->ssl_context != nullptr; }

size_t HttpServer::queue_depth(RouteBudget budget) const {
  return impl_->pool(budget).depth();
}

int HttpServer::connections() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->open;
}

}  // namespace aims
