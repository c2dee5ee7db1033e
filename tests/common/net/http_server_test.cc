// HttpServer over loopback: bodies are bounded whatever the framing.
#include "common/net/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "gtest/gtest.h"

namespace aims {
namespace {

// Sends `request` on a new connection; returns the answer until close.
std::string RawHttp(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    timeval timeout{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) {
      response.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return response;
}

TEST(HttpServerTest, BodiesWithoutContentLengthAreRefusedBeforeReading) {
  HttpServer server(/*max_body_bytes=*/1024, /*threads=*/2);
  std::atomic<int> handled{0}, refused{0}, pre_routed{0};
  server.routes().Post(
      "/in", [&](const httplib::Request& req, httplib::Response& res) {
        ++handled;
        res.set_content(std::to_string(req.body.size()), "text/plain");
      });
  server.SetPreRoutingHandler([&](const httplib::Request&, httplib::Response&) {
    ++pre_routed;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.OnLengthRequired(
      [&](const httplib::Request&, httplib::Response&) { ++refused; });
  absl::StatusOr<int> port = server.Listen("127.0.0.1:0", "listen");
  ASSERT_TRUE(port.ok()) << port.status();

  // A chunked body far over the limit: refused, never read whole.
  std::string chunked =
      "POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 64; ++i) {
    chunked += "400\r\n" + std::string(1024, 'a') + "\r\n";
  }
  chunked += "0\r\n\r\n";
  std::string answer = RawHttp(*port, chunked);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 411") << answer;
  EXPECT_NE(answer.find("at most 1024 bytes"), std::string::npos) << answer;
  // No length at all (read until close), on any method that has a body.
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) {
    answer = RawHttp(
        *port, std::string(method) + " /in HTTP/1.0\r\nHost: x\r\n\r\nbody");
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 411") << method << answer;
  }
  // With a Content-Length: bounded (413 beyond) and served within.
  answer = RawHttp(*port,
                   "POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Content-Length: 2000\r\n\r\n" +
                       std::string(2000, 'b'));
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 413") << answer;
  answer = RawHttp(*port,
                   "POST /in HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Content-Length: 5\r\n\r\nhello");
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
  EXPECT_EQ(answer.substr(answer.size() - 1), "5");
  EXPECT_EQ(refused.load(), 5);
  EXPECT_EQ(handled.load(), 1);
  EXPECT_GE(pre_routed.load(), 1);
  server.Stop();
}

}  // namespace
}  // namespace aims
