// The console's sign-in sessions: the store on a fake clock (expiry, idle
// end, the cap and its counter, agent tokens refused), AuthorizeHttp's
// rules (bearer first, cookie with CSRF and Origin for changes), and a real
// collector over loopback: sign in, the cookie's attributes, the API with
// the cookie, the console's files with their CSP, and sign-out ending the
// session server-side.
#include "collector/auth/sessions.h"

#include <fstream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "collector/collector.h"
#include "collector/console/console.h"
#include "common/net/bearer_token.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "prometheus/registry.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

struct Tokens {
  std::string viewer = NewToken();
  std::string compliance = NewToken();
  std::string agent = NewToken();
  std::vector<TokenEntry> Entries() const {
    return {{"val", Role::kViewer, {}, TokenSha256(viewer)},
            {"carol", Role::kCompliance, {}, TokenSha256(compliance)},
            {"pods", Role::kAgent, {"*"}, TokenSha256(agent)}};
  }
};

class SessionStoreTest : public ::testing::Test {
 protected:
  SessionStore Store(SessionOptions options = {}) {
    return SessionStore(options, authorizer_.get(), &clock_);
  }
  Tokens tokens_;
  std::unique_ptr<Authorizer> authorizer_ =
      Authorizer::FromEntries(tokens_.Entries());
  FakeClock clock_;
};

TEST_F(SessionStoreTest, SignInLastsUntilTtlWhileUsed) {
  SessionStore store = Store({absl::Hours(8), absl::Hours(1), 10});
  std::string id;
  absl::StatusOr<SessionInfo> info = store.Create(tokens_.compliance, &id);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name, "carol");
  EXPECT_EQ(info->role, Role::kCompliance);
  EXPECT_EQ(info->expires, clock_.Now() + absl::Hours(8));
  EXPECT_GE(info->csrf.size(), 32u);
  EXPECT_NE(id, tokens_.compliance);
  EXPECT_NE(id, info->csrf);
  // Used every 50 minutes: alive until 8 h, then over whatever the use.
  for (int i = 0; i < 9; ++i) {
    clock_.Advance(absl::Minutes(50));
    EXPECT_TRUE(store.Find(id).ok()) << "after " << (i + 1) * 50 << " min";
  }
  clock_.Advance(absl::Minutes(30));  // 8 h
  EXPECT_EQ(store.Find(id).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(SessionStoreTest, IdleSessionEnds) {
  SessionStore store = Store({absl::Hours(8), absl::Minutes(30), 10});
  std::string id;
  ASSERT_TRUE(store.Create(tokens_.viewer, &id).ok());
  clock_.Advance(absl::Minutes(29));
  EXPECT_TRUE(store.Find(id).ok());
  clock_.Advance(absl::Minutes(30));
  EXPECT_EQ(store.Find(id).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(SessionStoreTest, AgentAndUnknownTokensCannotSignIn) {
  SessionStore store = Store();
  std::string id;
  absl::Status agent = store.Create(tokens_.agent, &id).status();
  EXPECT_EQ(agent.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(agent.message(), "agent tokens cannot sign in"))
      << agent;
  EXPECT_EQ(store.Create(NewToken(), &id).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(store.Create("", &id).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(store.size(), 0u);
}

TEST_F(SessionStoreTest, CapRefusesAndCountsUntilSessionsExpire) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto& open =
      prometheus::BuildGauge().Name("open").Register(*registry).Add({});
  auto& refused =
      prometheus::BuildCounter().Name("refused").Register(*registry).Add({});
  SessionStore store = Store({absl::Hours(1), absl::Minutes(10), 2});
  store.CountWith(&open, &refused);
  std::string a, b, c;
  ASSERT_TRUE(store.Create(tokens_.viewer, &a).ok());
  ASSERT_TRUE(store.Create(tokens_.compliance, &b).ok());
  EXPECT_EQ(open.Value(), 2);
  EXPECT_EQ(store.Create(tokens_.viewer, &c).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.Value(), 1);
  // Nobody working is evicted; once idle, their places are free again.
  clock_.Advance(absl::Minutes(10));
  ASSERT_TRUE(store.Create(tokens_.viewer, &c).ok());
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(open.Value(), 1);
  EXPECT_TRUE(store.End(c));
  EXPECT_FALSE(store.End(c));
  EXPECT_EQ(open.Value(), 0);
}

TEST_F(SessionStoreTest, SessionHasItsTokensRole) {
  SessionStore store = Store();
  std::string viewer, officer;
  ASSERT_TRUE(store.Create(tokens_.viewer, &viewer).ok());
  ASSERT_TRUE(store.Create(tokens_.compliance, &officer).ok());
  EXPECT_TRUE(store.Authorize(viewer, Permission::kRead).ok());
  absl::Status denied =
      store.Authorize(viewer, Permission::kWorkNonconformities).status();
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(denied.message(), "'val' (role viewer)"))
      << denied;
  absl::StatusOr<Principal> carol =
      store.Authorize(officer, Permission::kWorkNonconformities);
  ASSERT_TRUE(carol.ok()) << carol.status();
  EXPECT_EQ(carol->name, "carol");
}

HttpRequest Request(std::string method, std::string cookie = "") {
  HttpRequest req;
  req.method = std::move(method);
  req.headers.emplace_back("Host", "127.0.0.1:9464");
  if (!cookie.empty()) {
    req.headers.emplace_back(
        "Cookie", absl::StrCat("x=1; ", kSessionCookie, "=", cookie));
  }
  return req;
}

TEST_F(SessionStoreTest, AuthorizeHttpNeedsCsrfAndSameOriginToChange) {
  SessionStore store = Store();
  std::string id;
  absl::StatusOr<SessionInfo> info = store.Create(tokens_.compliance, &id);
  ASSERT_TRUE(info.ok());
  const Permission work = Permission::kWorkNonconformities;
  EXPECT_TRUE(
      AuthorizeHttp(*authorizer_, &store, Request("GET", id), work).ok());

  HttpRequest post = Request("POST", id);
  absl::Status no_csrf =
      AuthorizeHttp(*authorizer_, &store, post, work).status();
  EXPECT_EQ(no_csrf.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(no_csrf.message(), "X-AIMS-CSRF")) << no_csrf;
  post.headers.emplace_back(kCsrfHeader, info->csrf);
  absl::StatusOr<Principal> ok =
      AuthorizeHttp(*authorizer_, &store, post, work);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->name, "carol");
  post.headers.emplace_back("Origin", "https://evil.example");
  EXPECT_EQ(AuthorizeHttp(*authorizer_, &store, post, work).status().code(),
            absl::StatusCode::kPermissionDenied);

  // No cookie, no token: unauthenticated; a bearer header wins over both.
  EXPECT_EQ(
      AuthorizeHttp(*authorizer_, &store, Request("GET"), work).status().code(),
      absl::StatusCode::kUnauthenticated);
  HttpRequest bearer = Request("POST", "forged");
  bearer.headers.emplace_back("Authorization", "Bearer " + tokens_.viewer);
  EXPECT_EQ(AuthorizeHttp(*authorizer_, &store, bearer, work).status().code(),
            absl::StatusCode::kPermissionDenied);
  store.End(id);
  EXPECT_EQ(AuthorizeHttp(*authorizer_, &store, Request("GET", id), work)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(SessionStoreTest, OpenCollectorRefusesOnlyCrossOriginChanges) {
  Authorizer open;
  SessionStore store(SessionOptions{}, &open, &clock_);
  const Permission work = Permission::kWorkNonconformities;
  HttpRequest post = Request("POST");
  absl::StatusOr<Principal> anon = AuthorizeHttp(open, &store, post, work);
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->name, "anonymous");
  post.headers.emplace_back("Origin", "http://127.0.0.1:9464");
  EXPECT_TRUE(AuthorizeHttp(open, &store, post, work).ok());
  HttpRequest evil = Request("POST");
  evil.headers.emplace_back("Origin", "http://evil.example");
  EXPECT_EQ(AuthorizeHttp(open, &store, evil, work).status().code(),
            absl::StatusCode::kPermissionDenied);
}

// A real collector with a tokens file, over loopback HTTP.
TEST(ConsoleHttpTest, SignInUseTheApiAndSignOut) {
  testing::TempDir dir;
  Tokens tokens;
  {
    std::ofstream out(dir.File("tokens.yaml"));
    out << "tokens:\n";
    for (const TokenEntry& e : tokens.Entries()) {
      out << "  - {name: " << e.name << ", role: " << RoleName(e.role)
          << (e.role == Role::kAgent ? ", models: ['*']" : "")
          << ", sha256: " << e.sha256 << "}\n";
    }
  }
  CollectorOptions co;
  co.grpc_listen = "127.0.0.1:0";
  co.http_listen = "127.0.0.1:0";
  co.data_dir = dir.File("data");
  co.sync_writes = false;
  co.evaluate_in_background = false;
  co.auth_tokens_file = dir.File("tokens.yaml");
  Collector collector(co);
  ASSERT_TRUE(collector.Start().ok());
  httplib::Client http("127.0.0.1", collector.http_port());

  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->get_header_value("Content-Security-Policy"), kConsoleCsp);
  EXPECT_TRUE(absl::StrContains(page->body, "/console/app.js"));
  auto script = http.Get("/console/app.js");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->get_header_value("Content-Type"),
            "text/javascript; charset=utf-8");
  const std::string etag = script->get_header_value("ETag");
  auto again = http.Get("/console/app.js", {{"If-None-Match", etag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);

  EXPECT_EQ(http.Get("/v1/session")->status, 401);
  EXPECT_EQ(http.Get("/v1/models")->status, 401);
  auto agent = http.Post("/v1/session", "{\"token\":\"" + tokens.agent + "\"}",
                         "application/json");
  ASSERT_TRUE(agent);
  EXPECT_EQ(agent->status, 403);
  auto guess = http.Post("/v1/session", "{\"token\":\"" + NewToken() + "\"}",
                         "application/json");
  ASSERT_TRUE(guess);
  EXPECT_EQ(guess->status, 401);
  EXPECT_TRUE(absl::StrContains(guess->body, "invalid token")) << guess->body;
  // Failed sign-ins are counted with the API's refusals: /v1/models
  // without a token and the guess; the agent's sign-in as denied.
  const std::string metrics = http.Get("/metrics")->body;
  EXPECT_EQ(
      testing::MetricValue(
          metrics,
          "aims_collector_auth_failures_total{reason=\"unauthenticated\"}"),
      2);
  EXPECT_EQ(
      testing::MetricValue(
          metrics, "aims_collector_auth_failures_total{reason=\"denied\"}"),
      1);
  auto signin =
      http.Post("/v1/session", "{\"token\":\"" + tokens.viewer + "\"}",
                "application/json");
  ASSERT_TRUE(signin);
  ASSERT_EQ(signin->status, 200) << signin->body;
  EXPECT_FALSE(absl::StrContains(signin->body, tokens.viewer));
  const std::string cookie = signin->get_header_value("Set-Cookie");
  EXPECT_TRUE(absl::StrContains(cookie, "; HttpOnly")) << cookie;
  EXPECT_TRUE(absl::StrContains(cookie, "; SameSite=Strict")) << cookie;
  EXPECT_TRUE(absl::StrContains(cookie, "; Max-Age=28800")) << cookie;
  EXPECT_FALSE(absl::StrContains(cookie, "Secure")) << "plaintext listener";
  const std::string pair = cookie.substr(0, cookie.find(';'));
  const httplib::Headers with_cookie = {{"Cookie", pair}};

  auto me = http.Get("/v1/session", with_cookie);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_TRUE(absl::StrContains(me->body, "\"name\":\"val\"")) << me->body;
  EXPECT_TRUE(absl::StrContains(me->body, "\"role\":\"viewer\"")) << me->body;
  EXPECT_EQ(http.Get("/v1/models", with_cookie)->status, 200);
  EXPECT_EQ(http.Get("/v1/report", with_cookie)->status, 403);

  // Ending needs the CSRF token; then the cookie opens nothing.
  EXPECT_EQ(
      http.Post("/v1/session/end", with_cookie, "", "application/json")->status,
      403);
  const size_t at = me->body.find("\"csrf\":\"") + 8;
  const std::string csrf = me->body.substr(at, me->body.find('"', at) - at);
  httplib::Headers end_headers = with_cookie;
  end_headers.emplace(kCsrfHeader, csrf);
  auto end = http.Post("/v1/session/end", end_headers, "", "application/json");
  ASSERT_TRUE(end);
  EXPECT_EQ(end->status, 200);
  EXPECT_TRUE(
      absl::StrContains(end->get_header_value("Set-Cookie"), "Max-Age=0"));
  EXPECT_EQ(http.Get("/v1/models", with_cookie)->status, 401);
  EXPECT_EQ(http.Get("/v1/session", with_cookie)->status, 401);
  collector.Stop();
}

}  // namespace
}  // namespace aims::collector
