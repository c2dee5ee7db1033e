// Tokens and roles: the tokens file's rules, the role/permission matrix,
// and a real collector (gRPC and HTTP over loopback) that authorizes every
// call, records the authenticated actor in the audit trail and takes token
// changes without a restart. Tokens are made by `aimsctl token create`.
#include "collector/auth/authorizer.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "aims/v1/ingest.grpc.pb.h"
#include "aims/v1/nonconformity.grpc.pb.h"
#include "collector/collector.h"
#include "common/base/time_util.h"
#include "common/net/bearer_token.h"
#include "common/summary/window_accumulator.h"
#include "ctl/ctl.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/testing/test_util.h"

namespace aims::collector {
namespace {

const std::string kDigest(64, 'a');

TEST(TokensFileTest, ErrorsNameTheEntryAndField) {
  const std::string ok = absl::StrCat(
      "tokens:\n  - {name: ana, role: compliance, sha256: ", kDigest, "}\n");
  ASSERT_TRUE(ParseTokens(ok).ok()) << ParseTokens(ok).status();
  struct Case {
    std::string yaml;
    std::string error;
  };
  const std::string d = kDigest;
  const std::string e = std::string(64, 'b');
  for (const Case& c : std::vector<Case>{
           {"tokens:\n  - {name: a, role: root, sha256: " + d + "}",
            "tokens[0].role: 'root' is not agent, viewer, compliance, "
            "risk_owner "
            "or admin"},
           {"tokens:\n  - {name: a, role: viewer}",
            "tokens[0].sha256: required"},
           {"tokens:\n  - {name: a, role: viewer, sha256: ABC}",
            "tokens[0].sha256: required: 64 lowercase hex digits"},
           {"tokens:\n  - {name: a, role: agent, sha256: " + d + "}",
            "tokens[0].models: required for agent tokens"},
           {"tokens:\n  - {name: a, role: viewer, models: [x], sha256: " + d +
                "}",
            "tokens[0].models: only agent tokens name models"},
           {"tokens:\n  - {name: a, role: viewer, sha256: " + d +
                "}\n  - {name: a, role: admin, sha256: " + e + "}",
            "tokens[1].name: 'a' appears twice"},
           {"tokens:\n  - {name: a, role: viewer, sha256: " + d +
                "}\n  - {name: b, role: admin, sha256: " + d + "}",
            "tokens[1].sha256: the same token appears twice"},
           {"tokens:\n  - {name: 'a b', role: viewer, sha256: " + d + "}",
            "tokens[0].name: 'a b': 1..64 of"},
           {"tokens:\n  - {name: a, role: viewer, sha: " + d + "}",
            "tokens[0].sha: unknown key"},
           {"users: []", "users: unknown key"},
           {"tokens: [", "tokens file: line "},
       }) {
    absl::StatusOr<std::vector<TokenEntry>> parsed = ParseTokens(c.yaml);
    ASSERT_FALSE(parsed.ok()) << c.yaml;
    EXPECT_NE(parsed.status().message().find(c.error), std::string::npos)
        << parsed.status().message() << "\nwanted: " << c.error;
  }
}

TEST(RolesTest, EachRoleHasExactlyItsPermissions) {
  using P = Permission;
  const std::vector<P> all = {
      P::kIngest, P::kRead,       P::kWorkNonconformities,
      P::kReport, P::kAcceptRisk, P::kAdminister,
      P::kLabel};
  const std::map<Role, std::set<P>> expected = {
      {Role::kAgent, {P::kIngest, P::kLabel}},
      {Role::kViewer, {P::kRead}},
      {Role::kCompliance, {P::kRead, P::kWorkNonconformities, P::kReport}},
      {Role::kRiskOwner,
       {P::kRead, P::kWorkNonconformities, P::kReport, P::kAcceptRisk}},
      {Role::kAdmin,
       {P::kRead, P::kWorkNonconformities, P::kReport, P::kAcceptRisk,
        P::kAdminister, P::kLabel}}};
  for (const auto& [role, allowed] : expected) {
    for (P p : all) {
      EXPECT_EQ(RoleHas(role, p), allowed.count(p) > 0)
          << RoleName(role) << " / " << PermissionName(p);
    }
  }
}

TEST(AuthorizerTest, TamperedMissingAndMalformedTokensAreRefused) {
  const std::string token = NewToken();
  std::unique_ptr<Authorizer> auth = Authorizer::FromEntries(
      {{"ana", Role::kViewer, {}, TokenSha256(token)},
       {"pods", Role::kAgent, {"credit"}, TokenSha256(token + "x")}});
  absl::StatusOr<Principal> ana =
      auth->Authorize("Bearer " + token, Permission::kRead);
  ASSERT_TRUE(ana.ok()) << ana.status();
  EXPECT_EQ(ana->name, "ana");
  EXPECT_TRUE(ana->authenticated);
  std::string tampered = token;
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(auth->Authorize("Bearer " + tampered, Permission::kRead)
                .status()
                .message(),
            "invalid token");
  EXPECT_EQ(auth->Authorize("", Permission::kRead).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(
      auth->Authorize("Basic " + token, Permission::kRead).status().code(),
      absl::StatusCode::kUnauthenticated);
  absl::Status denied =
      auth->Authorize("bearer " + token, Permission::kWorkNonconformities)
          .status();
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(),
            "'ana' (role viewer) may not work nonconformities");
  absl::StatusOr<Principal> pods =
      auth->Authorize("Bearer " + token + "x", Permission::kIngest);
  ASSERT_TRUE(pods.ok());
  v1::ModelRef credit, fraud;
  credit.set_name("credit");
  fraud.set_name("fraud");
  EXPECT_TRUE(auth->CheckModel(*pods, credit).ok());
  EXPECT_EQ(auth->CheckModel(*pods, fraud).message(),
            "'pods' may not report model 'fraud' (allowed: credit)");
  // Open (no tokens file): everyone may do everything, unauthenticated.
  Authorizer open;
  absl::StatusOr<Principal> anyone = open.Authorize("", Permission::kIngest);
  ASSERT_TRUE(anyone.ok());
  EXPECT_FALSE(anyone->authenticated);
}

// A token made by `aimsctl token create --json`.
struct Made {
  std::string token;
  std::string sha256;
};

Made CreateToken(const std::string& name, const std::string& role,
                 std::vector<std::string> models = {}) {
  std::vector<std::string> args = {"--json", "token", "create",
                                   "--name=" + name, "--role=" + role};
  for (const std::string& m : models) args.push_back("--models=" + m);
  std::ostringstream out, err;
  EXPECT_EQ(ctl::RunCommandLine(args, ctl::Environment(), out, err), 0)
      << err.str();
  const std::string json = out.str();
  auto field = [&json](const std::string& key) {
    const size_t at = json.find("\"" + key + "\":\"");
    if (at == std::string::npos) return std::string();
    const size_t from = at + key.size() + 4;
    return json.substr(from, json.find('"', from) - from);
  };
  Made made{field("token"), field("sha256")};
  EXPECT_EQ(made.sha256, TokenSha256(made.token)) << json;
  return made;
}

class AuthCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pods_ = CreateToken("credit-pods", "agent", {"credit"});
    fraud_pods_ = CreateToken("fraud-pods", "agent", {"fraud"});
    viewer_ = CreateToken("val", "viewer");
    compliance_ = CreateToken("carol", "compliance");
    admin_ = CreateToken("adam", "admin");
    risk_owner_ = CreateToken("rita", "risk_owner");
    WriteTokens({{"credit-pods", "agent", pods_, "credit"},
                 {"rita", "risk_owner", risk_owner_, ""},
                 {"fraud-pods", "agent", fraud_pods_, "fraud"},
                 {"val", "viewer", viewer_, ""},
                 {"carol", "compliance", compliance_, ""},
                 {"adam", "admin", admin_, ""}});
    std::ofstream(dir_.File("plan.yaml"))
        << "coverage: {enabled: false}\nobjectives:\n"
           "  - {id: acc, metric: accuracy, comparator: '>=', threshold: "
           "0.95, window: 1h, decision: point}\n";
    CollectorOptions co;
    co.grpc_listen = "127.0.0.1:0";
    co.http_listen = "127.0.0.1:0";
    co.data_dir = dir_.File("data");
    co.sync_writes = false;
    co.plan_file = dir_.File("plan.yaml");
    co.evaluate_in_background = false;
    co.auth_tokens_file = dir_.File("tokens.yaml");
    collector_ = std::make_unique<Collector>(co);
    ASSERT_TRUE(collector_->Start().ok());
    address_ = absl::StrCat("127.0.0.1:", collector_->grpc_port());
  }

  struct Entry {
    std::string name, role;
    Made made;
    std::string model;
  };
  void WriteTokens(const std::vector<Entry>& entries) {
    std::ofstream out(dir_.File("tokens.yaml"), std::ios::trunc);
    out << "tokens:\n";
    for (const Entry& e : entries) {
      out << "  - name: " << e.name << "\n    role: " << e.role
          << "\n    sha256: " << e.made.sha256 << "\n";
      if (!e.model.empty()) out << "    models: [" << e.model << "]\n";
    }
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& token) {
    return WithBearerToken(address_, grpc::InsecureChannelCredentials(),
                           grpc::ChannelArguments(), token);
  }

  // Opens an ingest stream for `model` with `token`, sends one window
  // report of 100 events (accuracy 0.9) and returns how the stream ended
  // (OK after the durable ack).
  grpc::Status Ingest(const std::string& token, const std::string& model,
                      uint64_t sequence = 1) {
    auto stub = v1::IngestService::NewStub(Channel(token));
    grpc::ClientContext ctx;
    auto stream = stub->Report(&ctx);
    v1::IngestRequest hello;
    hello.mutable_hello()->mutable_agent()->set_agent_id("pod-" + model);
    hello.mutable_hello()->mutable_model()->set_name(model);
    hello.mutable_hello()->mutable_model()->set_version("v2");
    hello.mutable_hello()->mutable_model()->set_environment("default");
    hello.mutable_hello()->set_protocol_version(1);
    v1::IngestResponse response;
    if (!stream->Write(hello) || !stream->Read(&response)) {
      stream->WritesDone();
      return stream->Finish();
    }
    WindowAccumulator accumulator(std::make_shared<SummaryConfig>());
    for (int i = 0; i < 100; ++i) {
      Event e;
      e.prediction.kind = Outcome::Kind::kClass;
      e.prediction.class_label = "1";
      e.label.kind = Outcome::Kind::kClass;
      e.label.class_label = i < 90 ? "1" : "0";
      accumulator.Add(e);
    }
    const absl::Time end = absl::Now() - absl::Seconds(50);
    v1::IngestRequest report;
    report.mutable_report()->set_agent_id("pod-" + model);
    report.mutable_report()->set_sequence(sequence);
    *report.mutable_report()->mutable_window_start() =
        ToProto(end - absl::Seconds(10));
    *report.mutable_report()->mutable_window_end() = ToProto(end);
    *report.mutable_report()->mutable_summary() = accumulator.Build();
    EXPECT_TRUE(stream->Write(report));
    while (stream->Read(&response)) {
      if (response.has_ack() && response.ack().durable_sequence() >= sequence)
        break;
    }
    stream->WritesDone();
    return stream->Finish();
  }

  // Runs an aimsctl command with `token`; returns the exit code.
  int Ctl(const std::string& token, std::vector<std::string> args,
          std::string* output = nullptr, const std::string& actor = "",
          const std::string& comment = "looked into it") {
    ctl::Environment env;
    env.channel = Channel(token);
    // Only the nc steps take a comment and an actor (none when empty).
    env.variables = {{"AIMS_COMMENT", comment}, {"AIMS_ACTOR", actor}};
    args.insert(args.begin(), "--collector=" + address_);
    std::ostringstream out, err;
    const int code = ctl::RunCommandLine(args, env, out, err);
    if (output != nullptr) *output = out.str() + err.str();
    return code;
  }

  int HttpStatus(const std::string& token, const std::string& path) {
    httplib::Client http("127.0.0.1", collector_->http_port());
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto res = http.Get(path.c_str(), headers);
    return res ? res->status : -1;
  }

  double Failures(const std::string& reason) {
    httplib::Client http("127.0.0.1", collector_->http_port());
    auto res = http.Get("/metrics");
    return res ? testing::MetricValue(
                     res->body, "aims_collector_auth_failures_total{reason=\"" +
                                    reason + "\"}")
               : -1;
  }

  testing::TempDir dir_;
  Made pods_, fraud_pods_, viewer_, compliance_, admin_, risk_owner_;
  std::unique_ptr<Collector> collector_;
  std::string address_;
};

TEST_F(AuthCollectorTest, AgentTokensIngestOnlyTheirModels) {
  EXPECT_TRUE(Ingest(pods_.token, "credit").ok());
  grpc::Status other = Ingest(pods_.token, "fraud");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(other.error_message(),
            "'credit-pods' may not report model 'fraud' (allowed: credit)");
  grpc::Status none = Ingest("", "credit", 2);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  std::string tampered = pods_.token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  grpc::Status forged = Ingest(tampered, "credit", 2);
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(forged.error_message(), "invalid token");
  // Evidence only comes from agent identities: not even an admin ingests.
  EXPECT_EQ(Ingest(admin_.token, "credit", 2).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // Only the one authorized report is stored.
  std::string models;
  ASSERT_EQ(Ctl(viewer_.token, {"models"}, &models), 0) << models;
  EXPECT_NE(models.find("credit"), std::string::npos) << models;
  EXPECT_EQ(models.find("fraud"), std::string::npos) << models;
  EXPECT_EQ(Failures("unauthenticated"), 2);
  EXPECT_EQ(Failures("denied"), 2);
}

TEST_F(AuthCollectorTest, RolesGateEveryCallAndTheActorIsTheToken) {
  ASSERT_TRUE(Ingest(pods_.token, "credit").ok());
  ASSERT_EQ(collector_->EvaluateNow(), 1);
  std::string out;
  // Viewer: reads, but works no nonconformity, no report, no plan.
  ASSERT_EQ(Ctl(viewer_.token, {"nc", "list"}, &out), 0) << out;
  EXPECT_NE(out.find("NC-000001"), std::string::npos) << out;
  EXPECT_EQ(Ctl(viewer_.token, {"nc", "ack", "NC-000001"}, &out), 1);
  EXPECT_NE(out.find("'val' (role viewer) may not work nonconformities"),
            std::string::npos)
      << out;
  EXPECT_EQ(Ctl(viewer_.token, {"report"}, &out), 1);
  EXPECT_NE(out.find("may not get compliance reports"), std::string::npos)
      << out;
  EXPECT_EQ(Ctl(viewer_.token, {"plan", "reload"}, &out), 1);
  EXPECT_NE(out.find("may not administer"), std::string::npos) << out;
  // Agents read nothing.
  EXPECT_EQ(Ctl(pods_.token, {"models"}, &out), 1);
  EXPECT_NE(out.find("'credit-pods' (role agent) may not read"),
            std::string::npos)
      << out;
  // No token, a tampered one.
  EXPECT_EQ(Ctl("", {"models"}, &out), 1);
  EXPECT_NE(out.find("a bearer token is required"), std::string::npos) << out;
  std::string tampered = viewer_.token;
  tampered[8] = tampered[8] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Ctl(tampered, {"models"}, &out), 1);
  EXPECT_NE(out.find("invalid token"), std::string::npos) << out;
  // Compliance: works the nonconformity; the audit trail names the token,
  // and naming someone else is refused.
  EXPECT_EQ(Ctl(compliance_.token, {"nc", "ack", "NC-000001"}, &out, "mallory"),
            1);
  EXPECT_NE(out.find("actor: 'mallory' is not the authenticated identity "
                     "'carol'"),
            std::string::npos)
      << out;
  ASSERT_EQ(Ctl(compliance_.token, {"nc", "ack", "NC-000001"}, &out), 0) << out;
  ASSERT_EQ(Ctl(compliance_.token, {"report"}, &out), 0) << out;
  EXPECT_EQ(Ctl(compliance_.token, {"plan", "reload"}, &out), 1);
  // Admin: the plan.
  ASSERT_EQ(Ctl(admin_.token, {"plan", "reload"}, &out), 0) << out;
  // The audit trail records who acted.
  auto stub = v1::NonconformityService::NewStub(Channel(viewer_.token));
  grpc::ClientContext ctx;
  v1::ListAuditRequest request;
  request.set_limit(1000);
  v1::ListAuditResponse audit;
  ASSERT_TRUE(stub->ListAudit(&ctx, request, &audit).ok());
  bool carol_acked = false;
  for (const v1::AuditRecord& r : audit.records()) {
    if (r.kind() == "nc_transition") {
      EXPECT_EQ(r.actor(), "carol");
      carol_acked = true;
    }
  }
  EXPECT_TRUE(carol_acked);
  std::string verify;
  ASSERT_EQ(Ctl(viewer_.token, {"audit", "verify"}, &verify), 0) << verify;
}

// A call forwarded by another collector of a fleet (aims-scope: collector)
// carries the person's name as actor, taken as given from the fleet's admin
// token in fleet mode only: outside it, the scope changes nothing and every
// token, an admin's too, acts in its own name.
TEST_F(AuthCollectorTest, OutsideAFleetNoTokenActsInAnotherPersonsName) {
  ASSERT_TRUE(Ingest(pods_.token, "credit").ok());
  ASSERT_EQ(collector_->EvaluateNow(), 1);
  for (const Made* token : {&compliance_, &admin_}) {
    auto stub = v1::NonconformityService::NewStub(Channel(token->token));
    grpc::ClientContext ctx;
    ctx.AddMetadata("aims-scope", "collector");
    v1::TransitionRequest request;
    request.set_id("NC-000001");
    request.set_to(v1::NONCONFORMITY_STAGE_ACKNOWLEDGED);
    request.set_actor("alice");
    v1::Nonconformity nc;
    const grpc::Status s = stub->TransitionNonconformity(&ctx, request, &nc);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_NE(s.error_message().find("actor: 'alice' is not the authenticated "
                                     "identity"),
              std::string::npos)
        << s.error_message();
  }
}

TEST_F(AuthCollectorTest, HttpApiNeedsATokenWithTheRole) {
  EXPECT_EQ(HttpStatus("", "/v1/models"), 401);
  EXPECT_EQ(HttpStatus("not-a-token-at-all", "/v1/models"), 401);
  EXPECT_EQ(HttpStatus(viewer_.token, "/v1/models"), 200);
  EXPECT_EQ(HttpStatus(viewer_.token, "/v1/nonconformities"), 200);
  EXPECT_EQ(HttpStatus(pods_.token, "/v1/models"), 403);
  EXPECT_EQ(HttpStatus(viewer_.token, "/v1/report"), 403);
  EXPECT_EQ(HttpStatus(compliance_.token, "/v1/report"), 200);
  // Health and metrics stay open for probes and Prometheus.
  EXPECT_EQ(HttpStatus("", "/healthz"), 200);
  EXPECT_EQ(HttpStatus("", "/metrics"), 200);
}

// Accepting the risk of a nonconformity needs kAcceptRisk (risk_owner,
// admin): refused for compliance over gRPC and HTTP with a readable reason;
// a viewer may not act at all. The actor is the token's name.
TEST_F(AuthCollectorTest, RiskAcceptanceNeedsItsRole) {
  ASSERT_TRUE(Ingest(pods_.token, "credit").ok());
  ASSERT_EQ(collector_->EvaluateNow(), 1);
  std::string out;
  const std::vector<std::string> accept = {"nc", "accept-risk", "NC-000001",
                                           "--comment=retraining next quarter",
                                           "--until=2099-01-01"};
  EXPECT_EQ(Ctl(compliance_.token, accept, &out), 1);
  EXPECT_NE(out.find("'carol' (role compliance) may not accept risk: ending "
                     "NC-000001 as risk accepted needs the role risk_owner "
                     "or admin"),
            std::string::npos)
      << out;
  httplib::Client http("127.0.0.1", collector_->http_port());
  auto post = [&](const Made& who, const std::string& body) {
    return http.Post("/v1/nonconformities/NC-000001/transition",
                     {{"Authorization", "Bearer " + who.token}}, body,
                     "application/json");
  };
  const std::string body =
      R"({"to": "NONCONFORMITY_STAGE_RISK_ACCEPTED", "comment": "low impact",
          "acceptedUntil": "2099-01-01T00:00:00Z"})";
  auto refused = post(compliance_, body);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  EXPECT_NE(refused->body.find("may not accept risk"), std::string::npos)
      << refused->body;
  auto viewer = post(viewer_, R"({"to": "NONCONFORMITY_STAGE_ACKNOWLEDGED"})");
  EXPECT_EQ(viewer->status, 403);
  EXPECT_NE(viewer->body.find("'val' (role viewer) may not work "
                              "nonconformities"),
            std::string::npos)
      << viewer->body;
  // Naming another actor is refused over HTTP too.
  auto impostor =
      post(compliance_,
           R"({"to": "NONCONFORMITY_STAGE_ACKNOWLEDGED", "actor": "x"})");
  EXPECT_EQ(impostor->status, 403);
  ASSERT_EQ(Ctl(risk_owner_.token, accept, &out), 0) << out;
  EXPECT_EQ(out, "NC-000001 is now risk_accepted (by rita)\n");
  auto shown = http.Get("/v1/nonconformities/NC-000001",
                        {{"Authorization", "Bearer " + viewer_.token}});
  EXPECT_NE(shown->body.find(R"("risk_accepted_by":"rita")"), std::string::npos)
      << shown->body;
  EXPECT_NE(shown->body.find(R"("risk_accepted_until":"2099-01-01T00:00:00Z")"),
            std::string::npos)
      << shown->body;
}

TEST_F(AuthCollectorTest, TokenChangesTakeEffectWithoutRestart) {
  Made late = CreateToken("lee", "viewer");
  std::string out;
  EXPECT_EQ(Ctl(late.token, {"models"}, &out), 1);
  // Revoke val, add lee.
  WriteTokens(
      {{"credit-pods", "agent", pods_, "credit"}, {"lee", "viewer", late, ""}});
  ASSERT_TRUE(collector_->ReloadTokens().ok());
  EXPECT_EQ(Ctl(late.token, {"models"}, &out), 0) << out;
  EXPECT_EQ(Ctl(viewer_.token, {"models"}, &out), 1);
  EXPECT_NE(out.find("invalid token"), std::string::npos) << out;
  // A broken file is refused and the tokens in force stay.
  std::ofstream(dir_.File("tokens.yaml"), std::ios::trunc)
      << "tokens:\n  - {name: x, role: superuser, sha256: " << kDigest << "}\n";
  absl::Status broken = collector_->ReloadTokens();
  EXPECT_NE(broken.message().find("tokens[0].role: 'superuser'"),
            std::string::npos)
      << broken;
  EXPECT_EQ(Ctl(late.token, {"models"}, &out), 0) << out;
}

TEST(AuthStartTest, UnreadableOrInvalidTokensFileStopsTheStart) {
  testing::TempDir dir;
  CollectorOptions co;
  co.grpc_listen = "127.0.0.1:0";
  co.http_listen = "127.0.0.1:0";
  co.data_dir = dir.File("data");
  co.auth_tokens_file = dir.File("missing.yaml");
  Collector missing(co);
  absl::Status s = missing.Start();
  EXPECT_NE(s.message().find("--auth_tokens_file: cannot read"),
            std::string::npos)
      << s;
  std::ofstream(dir.File("bad.yaml")) << "tokens:\n  - {name: a}\n";
  co.auth_tokens_file = dir.File("bad.yaml");
  co.data_dir = dir.File("data2");
  Collector bad(co);
  s = bad.Start();
  EXPECT_NE(s.message().find("tokens[0].role: required"), std::string::npos)
      << s;
}

}  // namespace
}  // namespace aims::collector
