#include "collector/auth/sessions.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/net/bearer_token.h"

namespace aims::collector {

SessionStore::SessionStore(SessionOptions options, const Authorizer* authorizer,
                           const Clock* clock)
    : options_(options), authorizer_(authorizer), clock_(clock) {}

absl::StatusOr<SessionInfo> SessionStore::Create(absl::string_view token,
                                                 std::string* id) {
  if (token.empty()) {
    return absl::UnauthenticatedError("paste your access token to sign in");
  }
  // Authorize (not Authenticate) so that failed sign-ins are counted with
  // the API's (aims_collector_auth_failures_total): guessing is visible.
  const std::string bearer = absl::StrCat("Bearer ", token);
  absl::StatusOr<Principal> principal =
      authorizer_->Authorize(bearer, Permission::kRead);
  if (!principal.ok()) {
    absl::StatusOr<Principal> who = authorizer_->Authenticate(bearer);
    if (who.ok() && who->role == Role::kAgent) {
      return absl::PermissionDeniedError(absl::StrCat(
          "'", who->name,
          "' is an agent token; agent tokens cannot sign in to the console"));
    }
    return principal.status();
  }
  absl::MutexLock lock(&mu_);
  if (sessions_.size() >= options_.max_sessions) DropExpiredLocked();
  if (sessions_.size() >= options_.max_sessions) {
    if (refused_ != nullptr) refused_->Increment();
    return absl::ResourceExhaustedError(
        absl::StrCat("the console has ", sessions_.size(),
                     " open sessions (--console_max_sessions); sign out "
                     "elsewhere or try again later"));
  }
  const absl::Time now = clock_->Now();
  *id = NewToken();
  Session session{std::string(token),
                  SessionInfo{principal->name, principal->role, NewToken(),
                              now + options_.ttl},
                  now + options_.idle};
  SessionInfo info = session.info;
  sessions_[TokenSha256(*id)] = std::move(session);
  UpdateGaugeLocked();
  return info;
}

SessionStore::Session* SessionStore::LiveLocked(absl::string_view id) {
  if (id.empty()) return nullptr;
  auto it = sessions_.find(TokenSha256(id));
  if (it == sessions_.end()) return nullptr;
  const absl::Time now = clock_->Now();
  if (now >= it->second.info.expires || now >= it->second.idle_deadline) {
    sessions_.erase(it);
    UpdateGaugeLocked();
    return nullptr;
  }
  it->second.idle_deadline =
      std::min(now + options_.idle, it->second.info.expires);
  return &it->second;
}

absl::StatusOr<SessionInfo> SessionStore::Find(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  Session* session = LiveLocked(id);
  if (session == nullptr) {
    return absl::UnauthenticatedError(
        "your session has ended or expired; sign in again");
  }
  return session->info;
}

absl::StatusOr<Principal> SessionStore::Authorize(absl::string_view id,
                                                  Permission permission) {
  std::string token;
  {
    absl::MutexLock lock(&mu_);
    Session* session = LiveLocked(id);
    if (session == nullptr) {
      return absl::UnauthenticatedError(
          "your session has ended or expired; sign in again");
    }
    token = session->token;
  }
  return authorizer_->Authorize(absl::StrCat("Bearer ", token), permission);
}

bool SessionStore::End(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  const bool ended = sessions_.erase(TokenSha256(id)) > 0;
  UpdateGaugeLocked();
  return ended;
}

size_t SessionStore::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

void SessionStore::DropExpiredLocked() {
  const absl::Time now = clock_->Now();
  absl::erase_if(sessions_, [now](const auto& entry) {
    return now >= entry.second.info.expires ||
           now >= entry.second.idle_deadline;
  });
  UpdateGaugeLocked();
}

void SessionStore::UpdateGaugeLocked() {
  if (open_ != nullptr) open_->Set(static_cast<double>(sessions_.size()));
}

std::string CookieValue(const HttpRequest& req, absl::string_view name) {
  for (const auto& [header, value] : req.headers) {
    if (!absl::EqualsIgnoreCase(header, "cookie")) continue;
    for (absl::string_view part : absl::StrSplit(value, ';')) {
      part = absl::StripAsciiWhitespace(part);
      if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
        return std::string(part);
      }
    }
  }
  return "";
}

namespace {

// A request other than GET whose Origin names another host: a page of
// another site trying to act with the person's cookie.
absl::Status CheckOrigin(const HttpRequest& req) {
  if (req.method == "GET" || !req.HasHeader("Origin")) return absl::OkStatus();
  const std::string sent = req.Header("Origin");
  absl::string_view origin = sent;
  if (!absl::ConsumePrefix(&origin, "https://")) {
    absl::ConsumePrefix(&origin, "http://");
  }
  if (!absl::EqualsIgnoreCase(origin, req.Header("Host"))) {
    return absl::PermissionDeniedError(
        absl::StrCat("cross-site request refused: origin '", sent,
                     "' is not this collector"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Principal> AuthorizeHttp(const Authorizer& authorizer,
                                        SessionStore* sessions,
                                        const HttpRequest& req,
                                        Permission permission) {
  if (req.HasHeader("Authorization")) {
    return authorizer.Authorize(req.Header("Authorization"), permission);
  }
  if (absl::Status s = CheckOrigin(req); !s.ok()) return s;
  // An open collector has no sessions: a stale cookie is ignored.
  const std::string id = sessions == nullptr || authorizer.open()
                             ? ""
                             : CookieValue(req, kSessionCookie);
  if (id.empty()) return authorizer.Authorize("", permission);
  if (req.method != "GET") {
    absl::StatusOr<SessionInfo> info = sessions->Find(id);
    if (!info.ok()) return info.status();
    if (!SameDigest(info->csrf, req.Header(kCsrfHeader))) {
      return absl::PermissionDeniedError(
          absl::StrCat("cross-site request refused: the ", kCsrfHeader,
                       " header does not match your session; reload the page"));
    }
  }
  return sessions->Authorize(id, permission);
}

}  // namespace aims::collector
