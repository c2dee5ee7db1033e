#include "collector/api/http_api.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/api/http_params.h"
#include "common/base/proto_json.h"
#include "common/base/time_util.h"

namespace aims::collector {
namespace {

// An error answer: the HTTP status for `status`'s code and {"error": ...}.
void ReplyError(const absl::Status& status, HttpResponse& res) {
  res.SetError(status);
  if (res.status == 401) res.SetHeader("WWW-Authenticate", "Bearer");
}

void Reply(const absl::Status& status, const google::protobuf::Message& message,
           HttpResponse& res) {
  if (!status.ok()) {
    ReplyError(status, res);
    return;
  }
  res.SetContent(ProtoToJson(message) + "\n", "application/json");
}

v1::ModelSelector Selector(const HttpRequest& req) {
  v1::ModelSelector s;
  s.set_name(req.Param("name"));
  s.set_version(req.Param("version"));
  s.set_environment(req.Param("environment"));
  return s;
}

// The actor of an action on the HTTP API: the authenticated name, else (an
// open collector) the body's, else "anonymous".
std::string HttpActor(const Principal& principal, const std::string& body) {
  if (principal.authenticated || !body.empty()) return body;
  return "anonymous";
}

// /v1/nonconformities, /v1/objectives, /v1/audit and /v1/plans.
template <typename Get, typename Post>
void RegisterNonconformityRoutes(Get& get, Post& post,
                                 NonconformityService* service) {
  get("/v1/nonconformities", Permission::kRead,
      [service](const HttpRequest& req, HttpResponse& res) {
        v1::ListNonconformitiesRequest request;
        *request.mutable_selector() = Selector(req);
        v1::ListNonconformitiesResponse response;
        CallScope scope;
        absl::Status s = ParseNonconformityFilters(req, &request);
        if (s.ok()) s = ParseScope(req, &scope);
        if (s.ok()) s = service->List(request, &response, scope);
        Reply(s, response, res);
      });
  get("/v1/nonconformities/{id}", Permission::kRead,
      [service](const HttpRequest& req, HttpResponse& res) {
        v1::GetNonconformityRequest request;
        request.set_id(req.path_parameter);
        v1::Nonconformity response;
        CallScope scope;
        absl::Status s = ParseScope(req, &scope);
        if (s.ok()) s = service->Get(request, &response, scope);
        Reply(s, response, res);
      });
  post("/v1/nonconformities/{id}/transition", Permission::kWorkNonconformities,
       [service](const Principal& principal, const HttpRequest& req,
                 HttpResponse& res) {
         v1::TransitionRequest request;
         v1::Nonconformity response;
         absl::Status s = ParseJsonBody(req, &request);
         request.set_id(req.path_parameter);
         request.set_actor(HttpActor(principal, request.actor()));
         if (s.ok()) s = service->Transition(principal, request, &response);
         Reply(s, response, res);
       });
  post("/v1/nonconformities/{id}/update", Permission::kWorkNonconformities,
       [service](const Principal& principal, const HttpRequest& req,
                 HttpResponse& res) {
         v1::UpdateNonconformityRequest request;
         v1::Nonconformity response;
         absl::Status s = ParseJsonBody(req, &request);
         request.set_id(req.path_parameter);
         request.set_actor(HttpActor(principal, request.actor()));
         if (s.ok()) s = service->Update(principal, request, &response);
         Reply(s, response, res);
       });
  get("/v1/objectives", Permission::kRead,
      [service](const HttpRequest& req, HttpResponse& res) {
        v1::ListObjectiveStatesRequest request;
        *request.mutable_selector() = Selector(req);
        request.set_objective_id(req.Param("objective"));
        v1::ListObjectiveStatesResponse response;
        CallScope scope;
        absl::Status s = ParseScope(req, &scope);
        if (s.ok()) service->ObjectiveStates(request, &response, scope);
        Reply(s, response, res);
      });
  get("/v1/audit", Permission::kRead,
      [service](const HttpRequest& req, HttpResponse& res) {
        v1::ListAuditRequest request;
        v1::ListAuditResponse response;
        CallScope scope;
        absl::Status s = ParseAuditParams(req, &request);
        if (s.ok()) s = ParseScope(req, &scope);
        if (s.ok()) s = service->Audit(request, &response, scope);
        Reply(s, response, res);
      });
  get("/v1/audit/verify", Permission::kRead,
      [service](const HttpRequest& req, HttpResponse& res) {
        v1::VerifyAuditResponse response;
        CallScope scope;
        absl::Status s = ParseScope(req, &scope);
        if (s.ok()) service->Verify(&response, scope);
        Reply(s, response, res);
      });
  get("/v1/plans", Permission::kRead,
      [service](const HttpRequest&, HttpResponse& res) {
        v1::ListPlanVersionsResponse response;
        service->PlanVersions(&response);
        Reply(absl::OkStatus(), response, res);
      });
}

}  // namespace

void RegisterHttpApi(HttpServer& server, QueryService* queries,
                     NonconformityService* nonconformities,
                     ComplianceReportService* reports,
                     const Authorizer* authorizer, SessionStore* sessions) {
  // Every route is authorized before its handler runs: by bearer token or
  // the console's session cookie (collector/auth/sessions.h).
  auto get = [&server, authorizer, sessions](const std::string& pattern,
                                             Permission permission,
                                             HttpHandler handler) {
    server.Handle(
        "GET", pattern, RouteBudget::kWork,
        [authorizer, sessions, permission, handler = std::move(handler)](
            const HttpRequest& req, HttpResponse& res) {
          absl::StatusOr<Principal> principal =
              AuthorizeHttp(*authorizer, sessions, req, permission);
          if (!principal.ok()) {
            ReplyError(principal.status(), res);
            return;
          }
          handler(req, res);
        });
  };
  // Actions: the handler gets the principal (the actor, and what else its
  // role may do).
  using Action =
      std::function<void(const Principal&, const HttpRequest&, HttpResponse&)>;
  auto post = [&server, authorizer, sessions](const std::string& pattern,
                                              Permission permission,
                                              Action handler) {
    server.Handle(
        "POST", pattern, RouteBudget::kWork,
        [authorizer, sessions, permission, handler = std::move(handler)](
            const HttpRequest& req, HttpResponse& res) {
          absl::StatusOr<Principal> principal =
              AuthorizeHttp(*authorizer, sessions, req, permission);
          if (!principal.ok()) {
            ReplyError(principal.status(), res);
            return;
          }
          handler(*principal, req, res);
        });
  };
  RegisterNonconformityRoutes(get, post, nonconformities);
  get("/v1/report", Permission::kReport,
      [reports](const HttpRequest& req, HttpResponse& res) {
        v1::RenderComplianceReportRequest request;
        *request.mutable_report()->mutable_selector() = Selector(req);
        absl::Status s = ParseReportParams(req, request.mutable_report());
        const std::string format = req.Param("format");
        if (format.empty() || format == "json") {
          v1::ComplianceReport response;
          if (s.ok()) s = reports->Report(request.report(), &response);
          Reply(s, response, res);
          return;
        }
        request.set_format(format);
        request.set_table(req.Param("table"));
        v1::RenderedComplianceReport rendered;
        if (s.ok()) s = reports->Render(request, &rendered);
        if (!s.ok()) {
          ReplyError(s, res);
          return;
        }
        if (format == "csv") {
          res.SetHeader("Content-Disposition",
                        absl::StrCat("attachment; filename=\"aims-report-",
                                     request.table().empty() ? "results"
                                                             : request.table(),
                                     ".csv\""));
        }
        res.SetContent(rendered.body(), rendered.content_type());
      });
  get("/v1/models", Permission::kRead,
      [queries](const HttpRequest& req, HttpResponse& res) {
        v1::ListModelsRequest request;
        *request.mutable_selector() = Selector(req);
        v1::ListModelsResponse response;
        CallScope scope;
        absl::Status s = ParseScope(req, &scope);
        if (s.ok()) s = queries->ListModels(request, &response, scope);
        Reply(s, response, res);
      });
  get("/v1/agents", Permission::kRead,
      [queries](const HttpRequest& req, HttpResponse& res) {
        v1::ListAgentsRequest request;
        *request.mutable_selector() = Selector(req);
        v1::ListAgentsResponse response;
        CallScope scope;
        absl::Status s = ParseScope(req, &scope);
        if (s.ok()) s = queries->ListAgents(request, &response, scope);
        Reply(s, response, res);
      });
  get("/v1/summaries", Permission::kRead,
      [queries](const HttpRequest& req, HttpResponse& res) {
        v1::GetSummariesRequest request;
        v1::GetSummariesResponse response;
        CallScope scope;
        absl::Status s =
            ParseRange(req, request.mutable_model(), request.mutable_from(),
                       request.mutable_to(), request.mutable_step());
        if (s.ok()) s = ParseScope(req, &scope);
        if (s.ok()) s = queries->GetSummaries(request, &response, scope);
        Reply(s, response, res);
      });
  get("/v1/metrics", Permission::kRead,
      [queries](const HttpRequest& req, HttpResponse& res) {
        v1::QueryMetricsRequest request;
        v1::QueryMetricsResponse response;
        CallScope scope;
        absl::Status s =
            ParseRange(req, request.mutable_model(), request.mutable_from(),
                       request.mutable_to(), request.mutable_step());
        if (req.HasParam("metric")) {
          for (absl::string_view m :
               absl::StrSplit(req.Param("metric"), ',', absl::SkipEmpty())) {
            request.add_metrics(std::string(m));
          }
        }
        if (s.ok()) s = ParseScope(req, &scope);
        if (s.ok()) s = queries->QueryMetrics(request, &response, scope);
        Reply(s, response, res);
      });
  get("/v1/profile", Permission::kRead,
      [queries](const HttpRequest& req, HttpResponse& res) {
        v1::GetProfileRequest request;
        request.mutable_model()->set_name(req.Param("name"));
        request.mutable_model()->set_version(req.Param("version"));
        v1::ReferenceProfile response;
        CallScope scope;
        absl::Status s = ParseScope(req, &scope);
        if (s.ok()) s = queries->GetProfile(request, &response, scope);
        Reply(s, response, res);
      });
}

}  // namespace aims::collector
