// TLS and mTLS between the real binaries, with certificates made by the
// openssl command at test time: the collector serves gRPC with a server
// certificate and requires client certificates of its CA; aimsctl and the
// agent get in only with the right CA and a client certificate of it; the
// server certificate is rotated on disk and taken without a restart; and
// plaintext beyond loopback is refused unless asked for.
#include <signal.h>

#include <csignal>
#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/net/bearer_token.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims {
namespace {

using testing::RunCommand;
using testing::Subprocess;
using testing::WaitFor;
using testing::WaitForPort;

// Copies `from` over `to` by renaming a temporary (no half-written file).
void ReplaceFile(const std::string& from, const std::string& to) {
  const std::string tmp = to + ".tmp";
  std::ofstream(tmp) << testing::ReadFile(from);
  std::rename(tmp.c_str(), to.c_str());
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A refused TLS handshake closes the socket under the client's write.
    std::signal(SIGPIPE, SIG_IGN);
    MakeCa("ca");
    MakeCa("rogue-ca");
    MakeCert("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost");
    MakeCert("client", "ca", "extendedKeyUsage=clientAuth");
    MakeCert("rogue-client", "rogue-ca", "extendedKeyUsage=clientAuth");
    // For the rotation: a server certificate of the other CA.
    MakeCert("server2", "rogue-ca", "subjectAltName=IP:127.0.0.1");
  }

  void Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/openssl");
    std::string out, err;
    ASSERT_EQ(RunCommand(args, &out, &err), 0) << err;
  }
  std::string F(const std::string& name) { return dir_.File(name); }

  void MakeCa(const std::string& name) {
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             F(name + ".key"), "-out", F(name + ".crt"), "-days", "2", "-subj",
             "/CN=" + name});
  }
  void MakeCert(const std::string& name, const std::string& ca,
                const std::string& extension) {
    Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", F(name + ".key"), "-out", F(name + ".csr"),
             "-subj", "/CN=" + name});
    std::ofstream(F(name + ".ext")) << extension << "\n";
    Openssl({"x509", "-req", "-in", F(name + ".csr"), "-CA", F(ca + ".crt"),
             "-CAkey", F(ca + ".key"), "-CAcreateserial", "-out",
             F(name + ".crt"), "-days", "2", "-extfile", F(name + ".ext")});
  }

  void StartCollector(const std::vector<std::string>& extra = {}) {
    // The collector reads these paths; the rotation replaces their content.
    ReplaceFile(F("server.crt"), F("live.crt"));
    ReplaceFile(F("server.key"), F("live.key"));
    std::vector<std::string> argv = {AIMS_COLLECTOR_BIN,
                                     "--grpc_listen=127.0.0.1:0",
                                     "--http_listen=127.0.0.1:0",
                                     "--data_dir=" + F("data"),
                                     "--tls_cert_file=" + F("live.crt"),
                                     "--tls_key_file=" + F("live.key"),
                                     "--tls_client_ca_file=" + F("ca.crt"),
                                     "--tls_reload_interval=1s",
                                     "--ports_file=" + F("ports")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    collector_ = std::make_unique<Subprocess>(argv, F("collector.log"));
    port_ = WaitForPort(F("ports"), "grpc");
    ASSERT_NE(port_, 0) << testing::ReadFile(F("collector.log"));
    http_port_ = WaitForPort(F("ports"), "http");
  }

  // GET `path` over HTTPS trusting `ca`, with the client certificate
  // `client` (none when empty); the status, or -1 when no answer (refused
  // handshake).
  int Https(const std::string& path, const std::string& ca,
            const std::string& client = "") {
    std::unique_ptr<httplib::SSLClient> https =
        client.empty()
            ? std::make_unique<httplib::SSLClient>("127.0.0.1", http_port_)
            : std::make_unique<httplib::SSLClient>("127.0.0.1", http_port_,
                                                   F(client + ".crt"),
                                                   F(client + ".key"));
    https->set_ca_cert_path(F(ca + ".crt").c_str());
    https->enable_server_certificate_verification(true);
    https->set_connection_timeout(5);
    auto res = https->Get(path.c_str());
    return res ? res->status : -1;
  }

  // `aimsctl models` with `flags`; returns its exit code.
  int Ctl(std::vector<std::string> flags, std::string* output = nullptr) {
    std::vector<std::string> argv = {
        AIMS_CTL_BIN, absl::StrCat("--collector=127.0.0.1:", port_),
        "--timeout=5s"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back("models");
    std::string out, err;
    const int code = RunCommand(argv, &out, &err);
    if (output != nullptr) *output = out + err;
    return code;
  }

  testing::TempDir dir_;
  std::unique_ptr<Subprocess> collector_;
  int port_ = 0;
  int http_port_ = 0;
};

TEST_F(TlsTest, OnlyClientsWithTheRightCertificatesGetIn) {
  StartCollector();
  const std::vector<std::string> good = {"--ca_file=" + F("ca.crt"),
                                         "--cert_file=" + F("client.crt"),
                                         "--key_file=" + F("client.key")};
  std::string out;
  EXPECT_EQ(Ctl(good, &out), 0) << out;
  // No client certificate, one of another CA, plaintext, or a server the
  // client cannot verify: refused.
  EXPECT_EQ(Ctl({"--ca_file=" + F("ca.crt")}, &out), 1) << out;
  EXPECT_EQ(
      Ctl({"--ca_file=" + F("ca.crt"), "--cert_file=" + F("rogue-client.crt"),
           "--key_file=" + F("rogue-client.key")},
          &out),
      1)
      << out;
  EXPECT_EQ(Ctl({}, &out), 1) << out;
  EXPECT_EQ(
      Ctl({"--ca_file=" + F("rogue-ca.crt"), "--cert_file=" + F("client.crt"),
           "--key_file=" + F("client.key")},
          &out),
      1)
      << out;
  // A flag error is a usage error naming the flag.
  EXPECT_EQ(Ctl({"--ca_file=" + F("missing.crt")}, &out), 2);
  EXPECT_TRUE(absl::StrContains(out, "--ca_file: cannot read")) << out;

  // An agent with a client certificate delivers its windows.
  Subprocess agent(
      {AIMS_AGENT_BIN, "--model_name=credit", "--model_version=v1",
       absl::StrCat("--collector=127.0.0.1:", port_),
       "--collector_ca_file=" + F("ca.crt"),
       "--collector_cert_file=" + F("client.crt"),
       "--collector_key_file=" + F("client.key"), "--http_listen=127.0.0.1:0",
       "--grpc_listen=", "--window=1s", "--data_dir=" + F("agent"),
       "--ports_file=" + F("agent.ports")},
      F("agent.log"));
  const int http = WaitForPort(F("agent.ports"), "http");
  ASSERT_NE(http, 0) << testing::ReadFile(F("agent.log"));
  httplib::Client client("127.0.0.1", http);
  auto res = client.Post("/v1/events",
                         R"([{"prediction":1,"features":{"x":1.5}},)"
                         R"({"prediction":0,"features":{"x":2.5}}])",
                         "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  std::vector<std::string> good_json = good;
  good_json.push_back("--json");
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string listing;
        return Ctl(good_json, &listing) == 0 &&
               absl::StrContains(listing, "\"event_count\":\"2\"");
      },
      absl::Seconds(20)))
      << testing::ReadFile(F("agent.log"));
}

TEST_F(TlsTest, RotatedServerCertificateIsTakenWithoutRestart) {
  StartCollector();
  const std::vector<std::string> trusts_rogue_ca = {
      "--ca_file=" + F("rogue-ca.crt"), "--cert_file=" + F("client.crt"),
      "--key_file=" + F("client.key")};
  EXPECT_EQ(Ctl(trusts_rogue_ca), 1);
  EXPECT_EQ(Https("/healthz", "rogue-ca"), -1);
  // Replace the certificate and key on disk (as cert-manager does).
  ReplaceFile(F("server2.key"), F("live.key"));
  ReplaceFile(F("server2.crt"), F("live.crt"));
  EXPECT_TRUE(
      WaitFor([&] { return Ctl(trusts_rogue_ca) == 0; }, absl::Seconds(20)))
      << testing::ReadFile(F("collector.log"));
  // The HTTPS listener too.
  EXPECT_TRUE(WaitFor([&] { return Https("/healthz", "rogue-ca") == 200; },
                      absl::Seconds(20)));
  EXPECT_TRUE(collector_->running());
}

TEST_F(TlsTest, HttpsServesTheSameCertificate) {
  StartCollector();
  EXPECT_EQ(Https("/healthz", "ca"), 200);
  EXPECT_EQ(Https("/v1/models", "ca"), 200);
  // A client that does not trust the collector's CA, or speaks plaintext,
  // gets nothing.
  EXPECT_EQ(Https("/healthz", "rogue-ca"), -1);
  httplib::Client plain("127.0.0.1", http_port_);
  plain.set_connection_timeout(5);
  plain.set_read_timeout(5);
  auto res = plain.Get("/healthz");
  EXPECT_TRUE(!res || res->status != 200);
}

TEST_F(TlsTest, HttpsCanRequireClientCertificates) {
  StartCollector({"--http_require_client_certificates"});
  EXPECT_EQ(Https("/healthz", "ca", "client"), 200);
  EXPECT_EQ(Https("/healthz", "ca"), -1);
  EXPECT_EQ(Https("/healthz", "ca", "rogue-client"), -1);
}

TEST_F(TlsTest, HttpCanStayPlaintextWhenAskedFor) {
  StartCollector({"--http_tls=off"});
  httplib::Client plain("127.0.0.1", http_port_);
  auto res = plain.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST(TlsRefusalTest, PlaintextBeyondLoopbackMustBeAskedFor) {
  testing::TempDir dir;
  std::string out, err;
  const int code = RunCommand(
      {AIMS_COLLECTOR_BIN, "--grpc_listen=0.0.0.0:0",
       "--http_listen=127.0.0.1:0", "--data_dir=" + dir.File("data")},
      &out, &err);
  EXPECT_EQ(code, 1);
  EXPECT_TRUE(absl::StrContains(err,
                                "--grpc_listen: 0.0.0.0:0 is not a "
                                "loopback address and would be plaintext"))
      << err;
  EXPECT_TRUE(absl::StrContains(err, "--allow_plaintext=true")) << err;
}

// The console's session cookie on HTTPS is Secure: a browser never sends it
// over plaintext.
TEST_F(TlsTest, ConsoleSessionCookieIsSecureOnHttps) {
  const std::string token = NewToken();
  std::ofstream(F("tokens.yaml"))
      << "tokens:\n  - {name: val, role: viewer, sha256: " << TokenSha256(token)
      << "}\n";
  StartCollector({"--auth_tokens_file=" + F("tokens.yaml")});
  httplib::SSLClient https("127.0.0.1", http_port_);
  https.set_ca_cert_path(F("ca.crt").c_str());
  https.enable_server_certificate_verification(true);
  auto res = https.Post("/v1/session", "{\"token\":\"" + token + "\"}",
                        "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const std::string cookie = res->get_header_value("Set-Cookie");
  EXPECT_TRUE(absl::StrContains(cookie, "; HttpOnly")) << cookie;
  EXPECT_TRUE(absl::StrContains(cookie, "; Secure")) << cookie;
}

}  // namespace
}  // namespace aims
