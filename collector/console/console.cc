#include "collector/console/console.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "collector/console/assets.h"
#include "common/base/hash.h"
#include "common/base/proto_json.h"
#include "common/net/bearer_token.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace aims::collector {
namespace {

void SecurityHeaders(HttpResponse& res) {
  res.SetHeader("Content-Security-Policy", kConsoleCsp);
  res.SetHeader("X-Content-Type-Options", "nosniff");
  res.SetHeader("Referrer-Policy", "no-referrer");
  res.SetHeader("X-Frame-Options", "DENY");
}

void ReplyError(const absl::Status& status, HttpResponse& res) {
  SecurityHeaders(res);
  res.SetHeader("Cache-Control", "no-store");
  res.SetError(status);
}

void ReplySession(const SessionInfo& info, bool open, HttpResponse& res) {
  google::protobuf::Struct answer;
  auto& fields = *answer.mutable_fields();
  fields["name"].set_string_value(info.name);
  fields["role"].set_string_value(std::string(RoleName(info.role)));
  fields["csrf"].set_string_value(info.csrf);
  fields["expires"].set_string_value(
      open ? ""
           : absl::FormatTime(absl::RFC3339_sec, info.expires,
                              absl::UTCTimeZone()));
  fields["open"].set_bool_value(open);
  auto& permissions = *fields["permissions"].mutable_list_value();
  // Short keys the console shows or hides its actions by.
  for (const auto& [p, key] :
       {std::pair{Permission::kRead, "read"},
        std::pair{Permission::kWorkNonconformities, "work"},
        std::pair{Permission::kReport, "report"},
        std::pair{Permission::kAcceptRisk, "accept-risk"},
        std::pair{Permission::kAdminister, "administer"}}) {
    if (open || RoleHas(info.role, p)) {
      permissions.add_values()->set_string_value(key);
    }
  }
  SecurityHeaders(res);
  res.SetHeader("Cache-Control", "no-store");
  res.SetJson(ProtoToJson(answer));
}

std::string SessionCookie(absl::string_view value, absl::Duration max_age,
                          bool https) {
  return absl::StrCat(kSessionCookie, "=", value,
                      "; Path=/; HttpOnly; SameSite=Strict; Max-Age=",
                      absl::ToInt64Seconds(max_age), https ? "; Secure" : "");
}

void ServeAsset(const ConsoleAsset& asset, const std::string& etag,
                const HttpRequest& req, HttpResponse& res) {
  SecurityHeaders(res);
  res.SetHeader("Cache-Control", "no-cache");
  res.SetHeader("ETag", etag);
  if (req.Header("If-None-Match") == etag) {
    res.status = 304;
    return;
  }
  res.SetContent(std::string(asset.data, asset.size),
                 std::string(ConsoleContentType(asset.name)));
}

void SignIn(const Authorizer* authorizer, SessionStore* sessions, bool https,
            const HttpRequest& req, HttpResponse& res) {
  if (authorizer->open()) {
    ReplyError(absl::FailedPreconditionError(
                   "this collector has no tokens file: no sign-in is needed"),
               res);
    return;
  }
  google::protobuf::Struct body;
  if (!google::protobuf::util::JsonStringToMessage(req.body, &body).ok() ||
      !body.fields().contains("token")) {
    ReplyError(absl::InvalidArgumentError(
                   "the body must be {\"token\": \"<your access token>\"}"),
               res);
    return;
  }
  std::string id;
  absl::StatusOr<SessionInfo> info =
      sessions->Create(body.fields().at("token").string_value(), &id);
  if (!info.ok()) {
    ReplyError(info.status(), res);
    return;
  }
  res.SetHeader("Set-Cookie",
                SessionCookie(id, sessions->options().ttl, https));
  ReplySession(*info, false, res);
}

}  // namespace

absl::string_view ConsoleContentType(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(name, ".svg")) return "image/svg+xml";
  if (absl::EndsWith(name, ".png")) return "image/png";
  return "application/octet-stream";
}

void RegisterConsole(HttpServer& server, const Authorizer* authorizer,
                     SessionStore* sessions, bool https) {
  for (const ConsoleAsset& asset : ConsoleAssets()) {
    const std::string etag = absl::StrCat(
        "\"",
        Sha256Hex(absl::string_view(asset.data, asset.size)).substr(0, 32),
        "\"");
    auto handler = [asset, etag](const HttpRequest& req, HttpResponse& res) {
      ServeAsset(asset, etag, req, res);
    };
    const std::string name = asset.name;
    server.Handle("GET", name == "index.html" ? "/" : "/console/" + name,
                  RouteBudget::kWork, handler);
  }
  server.Handle(
      "POST", "/v1/session", RouteBudget::kWork,
      [authorizer, sessions, https](const HttpRequest& req, HttpResponse& res) {
        SignIn(authorizer, sessions, https, req, res);
      });
  server.Handle(
      "GET", "/v1/session", RouteBudget::kWork,
      [authorizer, sessions](const HttpRequest& req, HttpResponse& res) {
        if (authorizer->open()) {
          ReplySession(SessionInfo{"anonymous", Role::kAdmin, "", {}}, true,
                       res);
          return;
        }
        absl::StatusOr<SessionInfo> info =
            sessions->Find(CookieValue(req, kSessionCookie));
        if (!info.ok()) {
          ReplyError(info.status(), res);
          return;
        }
        ReplySession(*info, false, res);
      });
  server.Handle(
      "POST", "/v1/session/end", RouteBudget::kWork,
      [sessions, https](const HttpRequest& req, HttpResponse& res) {
        const std::string id = CookieValue(req, kSessionCookie);
        // Ending needs the CSRF token too, so another site cannot
        // sign the person out.
        absl::StatusOr<SessionInfo> info = sessions->Find(id);
        if (info.ok() && !SameDigest(req.Header(kCsrfHeader), info->csrf)) {
          ReplyError(absl::PermissionDeniedError(
                         absl::StrCat("cross-site request refused: no valid ",
                                      kCsrfHeader, " header")),
                     res);
          return;
        }
        if (info.ok()) sessions->End(id);
        res.SetHeader("Set-Cookie",
                      SessionCookie("", absl::ZeroDuration(), https));
        SecurityHeaders(res);
        res.SetHeader("Cache-Control", "no-store");
        res.SetJson("{\"ended\":true}");
      });
}

}  // namespace aims::collector
