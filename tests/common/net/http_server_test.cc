// HttpServer over loopback: every error names its problem, bodies are
// bounded whatever the framing, and slow, idle or greedy clients cannot take
// the server from others.
#include "common/net/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

// A TCP connection to 127.0.0.1:`port` from `source` (any 127/8 address, so
// that one test can play many clients), or -1.
int Connect(int port, const char* source = "127.0.0.1") {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
    close(fd);
    return -1;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    close(fd);
    return -1;
  }
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  return fd;
}

// Reads until the peer closes (or 10 s pass).
std::string ReadAll(int fd) {
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) {
    response.append(buf, static_cast<size_t>(n));
  }
  return response;
}

// Sends `request` on a new connection; returns the answer until close.
std::string RawHttp(int port, const std::string& request) {
  const int fd = Connect(port);
  if (fd < 0) return "";
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string response = ReadAll(fd);
  close(fd);
  return response;
}

// One GET with Connection: close; the status line and body.
std::string Get(int port, const std::string& path) {
  return RawHttp(port, absl::StrCat("GET ", path,
                                    " HTTP/1.1\r\nHost: x\r\nConnection: "
                                    "close\r\n\r\n"));
}

std::string Body(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::string Metrics(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

struct Server {
  explicit Server(HttpServerOptions options) {
    options.registry = registry;
    options.metrics_prefix = "test";
    absl::StatusOr<std::unique_ptr<HttpServer>> s =
        HttpServer::Create(std::move(options));
    EXPECT_TRUE(s.ok()) << s.status();
    http = std::move(*s);
    http->Handle("GET", "/healthz", RouteBudget::kControl,
                 [](const HttpRequest&, HttpResponse& res) {
                   res.SetContent("ok\n", "text/plain");
                 });
    http->ServeMetrics(registry);
    http->OnLimitRefused([this](absl::string_view limit) {
      if (limit == "body_bytes") ++body_refused;
    });
  }
  int Listen() {
    absl::StatusOr<int> p = http->Listen("127.0.0.1:0", "http_address");
    EXPECT_TRUE(p.ok()) << p.status();
    port = p.value_or(0);
    return port;
  }

  std::shared_ptr<prometheus::Registry> registry =
      std::make_shared<prometheus::Registry>();
  std::unique_ptr<HttpServer> http;
  std::atomic<int> body_refused{0};
  int port = 0;
};

TEST(HttpServerTest, BodiesWithoutContentLengthAreRefusedBeforeReading) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  Server server(options);
  std::atomic<int> handled{0};
  server.http->Handle("POST", "/in", RouteBudget::kWork,
                      [&](const HttpRequest& req, HttpResponse& res) {
                        ++handled;
                        res.SetContent(std::to_string(req.body.size()),
                                       "text/plain");
                      });
  const int port = server.Listen();

  // A chunked body far over the limit: refused, never read whole.
  std::string chunked =
      "POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 64; ++i) {
    chunked += "400\r\n" + std::string(1024, 'a') + "\r\n";
  }
  chunked += "0\r\n\r\n";
  std::string answer = RawHttp(port, chunked);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 411") << answer;
  EXPECT_NE(answer.find("at most 1024 bytes"), std::string::npos) << answer;
  // No length at all (read until close), on any method that has a body.
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) {
    answer = RawHttp(
        port, std::string(method) + " /in HTTP/1.0\r\nHost: x\r\n\r\nbody");
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 411") << method << answer;
  }
  // With a Content-Length: bounded (413 beyond, naming the flag) and served
  // within.
  answer = RawHttp(port,
                   "POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Content-Length: 2000\r\n\r\n" +
                       std::string(2000, 'b'));
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 413") << answer;
  EXPECT_EQ(Body(answer),
            "{\"error\":\"body: 2000 bytes, limit 1024 "
            "(--max_body_bytes)\"}\n");
  answer = RawHttp(port,
                   "POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Content-Length: 5\r\n\r\nhello");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
  EXPECT_EQ(Body(answer), "5");
  EXPECT_EQ(server.body_refused.load(), 6);
  EXPECT_EQ(handled.load(), 1);
}

// A binary that fixes the limit itself (the collector) names no flag.
TEST(HttpServerTest, FixedBodyLimitNamesNoFlag) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  options.max_body_flag.clear();
  Server server(options);
  server.http->Handle("POST", "/in", RouteBudget::kWork,
                      [](const HttpRequest&, HttpResponse& res) {
                        res.SetContent("ok", "text/plain");
                      });
  const int port = server.Listen();
  const std::string answer =
      RawHttp(port,
              "POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              "Content-Length: 2000\r\n\r\n" +
                  std::string(2000, 'b'));
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 413") << answer;
  EXPECT_EQ(Body(answer), "{\"error\":\"body: 2000 bytes, limit 1024\"}\n");
}

// A "{...}" segment followed by a fixed rest: the segment is the
// parameter, and a path with more or fewer segments is not the route.
TEST(HttpServerTest, ParameterSegmentBeforeAFixedRest) {
  Server server(HttpServerOptions{});
  server.http->Handle(
      "POST", "/v1/items/{id}/update", RouteBudget::kWork,
      [](const HttpRequest& req, HttpResponse& res) {
        res.SetJson(absl::StrCat("\"", req.path_parameter, "\""));
      });
  const int port = server.Listen();
  auto post = [&](const std::string& path) {
    return RawHttp(port, "POST " + path +
                             " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                             "Content-Length: 0\r\n\r\n");
  };
  std::string answer = post("/v1/items/NC-7/update");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
  EXPECT_EQ(Body(answer), "\"NC-7\"\n");
  for (const char* other : {"/v1/items//update", "/v1/items/a/b/update",
                            "/v1/items/NC-7", "/v1/items/NC-7/updates"}) {
    answer = post(other);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 404") << other << answer;
  }
}

TEST(HttpServerTest, EveryErrorAnswerNamesItsProblemInJson) {
  HttpServerOptions options;
  options.max_header_bytes = 2048;
  options.max_target_bytes = 512;
  Server server(options);
  server.http->Handle(
      "GET", "/v1/items/{id}", RouteBudget::kWork,
      [](const HttpRequest& req, HttpResponse& res) {
        res.SetJson(absl::StrCat("{\"id\":\"", req.path_parameter,
                                 "\",\"q\":\"", req.Param("q"), "\"}"));
      });
  const int port = server.Listen();

  std::string answer = Get(port, "/v1/items/NC-7?q=a%20b+c");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
  EXPECT_EQ(Body(answer), "{\"id\":\"NC-7\",\"q\":\"a b c\"}\n");

  answer = Get(port, "/nowhere");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 404") << answer;
  EXPECT_EQ(Body(answer), "{\"error\":\"no such path: /nowhere\"}\n");
  EXPECT_TRUE(absl::StrContains(answer, "application/json"));

  answer = RawHttp(port,
                   "POST /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Content-Length: 0\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 405") << answer;
  EXPECT_EQ(Body(answer),
            "{\"error\":\"method POST not allowed on /healthz; allowed: "
            "GET\"}\n");
  EXPECT_TRUE(absl::StrContains(answer, "Allow: GET")) << answer;

  answer = Get(port, "/v1/items/" + std::string(600, 'x'));
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 414") << answer;
  EXPECT_EQ(Body(answer), "{\"error\":\"target: 610 bytes, limit 512\"}\n");

  answer = RawHttp(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                             std::string(4000, 'y') + "\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 431") << answer;
  EXPECT_EQ(Body(answer),
            "{\"error\":\"request head: over 2048 bytes (the limit)\"}\n");

  answer = RawHttp(port, "BLAH\r\n\r\n");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 400") << answer;
  EXPECT_TRUE(absl::StartsWith(Body(answer), "{\"error\":\"malformed request"))
      << answer;
}

TEST(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Server server(HttpServerOptions{});
  const int port = server.Listen();
  const int fd = Connect(port);
  ASSERT_GE(fd, 0);
  std::string all;
  for (int i = 0; i < 50; ++i) {
    const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[1024];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    all.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  size_t answers = 0;
  for (size_t at = 0; (at = all.find("HTTP/1.1 200", at)) != std::string::npos;
       ++at) {
    ++answers;
  }
  EXPECT_EQ(answers, 50u);
}

// 200 connections that trickle their request heads, from 200 addresses and
// from one: probes, scrapes and intake of other clients are answered within
// a second all along; the greedy address gets no more than its share; the
// trickling heads are cut off at the header deadline and counted.
TEST(HttpServerTest, SlowHeaderFloodStarvesNobody) {
  HttpServerOptions options;
  options.header_timeout = absl::Seconds(3);
  options.max_connections_per_client = 50;
  options.work_threads = 2;
  Server server(options);
  server.http->Handle(
      "POST", "/v1/events", RouteBudget::kWork,
      [](const HttpRequest& req, HttpResponse& res) {
        res.SetJson(absl::StrCat("{\"accepted\":", req.body.size(), "}"));
      });
  const int port = server.Listen();

  std::vector<int> slow;
  for (int i = 0; i < 200; ++i) {
    // 150 clients of one connection each, and one client with 50 more than
    // its bound of 50.
    const std::string source =
        i < 150 ? absl::StrCat("127.0.1.", i + 1) : "127.0.2.1";
    slow.push_back(Connect(port, source.c_str()));
  }
  for (int i = 0; i < 50; ++i) {
    slow.push_back(Connect(port, "127.0.2.1"));
  }
  // Each sends a little of its head, then keeps sending a byte at a time.
  for (int fd : slow) {
    if (fd >= 0) send(fd, "GET /heal", 9, MSG_NOSIGNAL);
  }
  absl::Duration slowest = absl::ZeroDuration();
  for (int round = 0; round < 10; ++round) {
    for (int fd : slow) {
      if (fd >= 0) send(fd, "t", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    for (const std::string& request :
         {std::string("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: "
                      "close\r\n\r\n"),
          std::string("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: "
                      "close\r\n\r\n"),
          std::string("POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: "
                      "close\r\nContent-Length: 4\r\n\r\n[{}]")}) {
      const absl::Time start = absl::Now();
      const std::string answer = RawHttp(port, request);
      slowest = std::max(slowest, absl::Now() - start);
      EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_LT(slowest, absl::Seconds(1));

  // The greedy address got its 50 connections and no more.
  const std::string metrics = Metrics(*server.registry);
  EXPECT_TRUE(absl::StrContains(
      metrics,
      "test_http_connections_refused_total{reason=\"max_connections_per_"
      "client\"} 50"))
      << metrics;
  // The heads never completed: cut off at the deadline, every one counted.
  ASSERT_TRUE(testing::WaitFor([&] { return server.http->connections() == 0; },
                               absl::Seconds(10)));
  EXPECT_TRUE(
      absl::StrContains(Metrics(*server.registry),
                        "test_http_timeouts_total{phase=\"header\"} 200"))
      << Metrics(*server.registry);
  for (int fd : slow) {
    if (fd >= 0) close(fd);
  }
}

TEST(HttpServerTest, IdleConnectionsAreClosedAfterTheIdleTimeout) {
  HttpServerOptions options;
  options.idle_timeout = absl::Milliseconds(300);
  options.header_timeout = absl::Milliseconds(300);
  Server server(options);
  const int port = server.Listen();
  const int idle = Connect(port);
  ASSERT_GE(idle, 0);
  ASSERT_TRUE(testing::WaitFor([&] { return server.http->connections() == 1; },
                               absl::Seconds(5)));
  // Closed by the server: the read sees the end of the stream.
  const absl::Time start = absl::Now();
  char c;
  EXPECT_EQ(recv(idle, &c, 1, 0), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  close(idle);
  ASSERT_TRUE(testing::WaitFor([&] { return server.http->connections() == 0; },
                               absl::Seconds(5)));
  // An idle connection is not a timeout of a request.
  EXPECT_TRUE(
      absl::StrContains(Metrics(*server.registry),
                        "test_http_timeouts_total{phase=\"header\"} 0"));
}

// With the work pool busy and its queue full, intake is refused at once as
// overloaded while probes and scrapes (control budget) are still answered.
TEST(HttpServerTest, FullWorkQueueLeavesProbesAnswered) {
  HttpServerOptions options;
  options.work_threads = 1;
  options.work_queue = 1;
  Server server(options);
  absl::Notification release;
  std::atomic<int> running{0};
  server.http->Handle("POST", "/v1/events", RouteBudget::kWork,
                      [&](const HttpRequest&, HttpResponse& res) {
                        ++running;
                        release.WaitForNotification();
                        res.SetJson("{}");
                      });
  server.http->SetOverloadAnswer(RouteBudget::kWork, [](HttpResponse& res) {
    res.SetError(429, "intake overloaded");
    res.SetHeader("Retry-After", "1");
  });
  const int port = server.Listen();
  const std::string post =
      "POST /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      "Content-Length: 2\r\n\r\n[]";
  std::vector<std::thread> blocked;
  std::vector<std::string> answers(2);
  blocked.emplace_back([&] { answers[0] = RawHttp(port, post); });
  ASSERT_TRUE(
      testing::WaitFor([&] { return running.load() == 1; }, absl::Seconds(5)));
  blocked.emplace_back([&] { answers[1] = RawHttp(port, post); });
  ASSERT_TRUE(testing::WaitFor(
      [&] { return server.http->queue_depth(RouteBudget::kWork) == 1; },
      absl::Seconds(5)));

  std::string answer = RawHttp(port, post);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 429") << answer;
  EXPECT_TRUE(absl::StrContains(answer, "Retry-After: 1"));
  EXPECT_EQ(Body(answer), "{\"error\":\"intake overloaded\"}\n");
  EXPECT_EQ(Get(port, "/healthz").substr(0, 12), "HTTP/1.1 200");
  EXPECT_TRUE(absl::StrContains(
      Get(port, "/metrics"), "test_http_overloaded_total{budget=\"work\"} 1"));

  release.Notify();
  for (std::thread& t : blocked) t.join();
  for (const std::string& a : answers) {
    EXPECT_EQ(a.substr(0, 12), "HTTP/1.1 200") << a;
  }
}

TEST(HttpServerTest, ExpectContinueIsHonoured) {
  Server server(HttpServerOptions{});
  server.http->Handle("POST", "/in", RouteBudget::kWork,
                      [](const HttpRequest& req, HttpResponse& res) {
                        res.SetContent(req.body, "text/plain");
                      });
  const int port = server.Listen();
  const int fd = Connect(port);
  ASSERT_GE(fd, 0);
  const std::string head =
      "POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n";
  send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  char buf[256];
  const ssize_t n = recv(fd, buf, sizeof(buf), 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 100");
  send(fd, "hello", 5, MSG_NOSIGNAL);
  const std::string rest = ReadAll(fd);
  close(fd);
  EXPECT_EQ(rest.substr(0, 12), "HTTP/1.1 200") << rest;
  EXPECT_EQ(Body(rest), "hello");
}

TEST(HttpServerTest, StopEndsOpenConnectionsPromptly) {
  Server server(HttpServerOptions{});
  const int port = server.Listen();
  std::vector<int> open;
  for (int i = 0; i < 20; ++i) open.push_back(Connect(port));
  ASSERT_TRUE(testing::WaitFor([&] { return server.http->connections() == 20; },
                               absl::Seconds(5)));
  const absl::Time start = absl::Now();
  server.http->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // Each connection sees its end at once (not a receive timeout).
  for (int fd : open) {
    char c;
    EXPECT_EQ(recv(fd, &c, 1, 0), 0);
    close(fd);
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(HttpServerTest, ListenErrorsNameTheFlag) {
  Server first(HttpServerOptions{});
  const int port = first.Listen();
  Server second(HttpServerOptions{});
  absl::StatusOr<int> bound =
      second.http->Listen(absl::StrCat("127.0.0.1:", port), "http_address");
  EXPECT_FALSE(bound.ok());
  EXPECT_TRUE(absl::StartsWith(bound.status().message(),
                               absl::StrCat("--http_address: cannot listen on "
                                            "127.0.0.1:",
                                            port)))
      << bound.status();
  EXPECT_FALSE(second.http->Listen("nonsense", "http_address").ok());
}

}  // namespace
}  // namespace aims
