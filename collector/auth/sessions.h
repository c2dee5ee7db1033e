// SessionStore: the browser console's sign-in sessions, and AuthorizeHttp():
// who an HTTP request of the collector's API comes from.
//
// Contract:
//  - A person signs in with a bearer token (viewer, compliance or admin;
//    agent tokens may not); a refused sign-in is counted with the API's
//    refusals (aims_collector_auth_failures_total). The session is a random id
//    (the cookie's value, never stored: the store keys sessions by its SHA-256)
//    and a random CSRF token that the console sends back in the X-AIMS-CSRF
//    header on every request that changes something.
//  - The token itself stays in the session, server-side only, and every
//    request is authorized with it again (Authorizer::Authorize): a token
//    removed from the tokens file or given another role takes effect on the
//    next request, not at the session's end.
//  - A session ends `ttl` after sign-in, `idle` after its last use, or at
//    End(). At most `max_sessions` live at once; when full, expired ones are
//    dropped and, if none was, Create() answers RESOURCE_EXHAUSTED (counted)
//    rather than evicting someone who is working.
//  - AuthorizeHttp(): an "Authorization: Bearer" header wins (scripts,
//    aimsctl); else the session cookie, where a request other than GET must
//    carry the session's CSRF token and, when the browser sends an Origin,
//    come from this host; else the authorizer's answer for no token
//    (anonymous on an open collector, where a cross-origin request other
//    than GET is still refused).
//
// Thread-safety: SessionStore is safe for concurrent use (one mutex).
#ifndef AIMS_COLLECTOR_AUTH_SESSIONS_H_
#define AIMS_COLLECTOR_AUTH_SESSIONS_H_

#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "collector/auth/authorizer.h"
#include "common/base/clock.h"
#include "common/net/http_message.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"

namespace aims::collector {

inline constexpr char kSessionCookie[] = "aims_session";
inline constexpr char kCsrfHeader[] = "X-AIMS-CSRF";

struct SessionOptions {
  absl::Duration ttl = absl::Hours(8);
  absl::Duration idle = absl::Hours(1);
  size_t max_sessions = 1000;
};

// What a live session tells its holder (never the token).
struct SessionInfo {
  std::string name;
  Role role = Role::kViewer;
  std::string csrf;
  absl::Time expires;
};

class SessionStore {
 public:
  SessionStore(SessionOptions options, const Authorizer* authorizer,
               const Clock* clock);

  // Signs in with `token`: UNAUTHENTICATED for an unknown token,
  // PERMISSION_DENIED for an agent token, RESOURCE_EXHAUSTED when full.
  // Returns the new session's id (the cookie value) in `*id`.
  absl::StatusOr<SessionInfo> Create(absl::string_view token, std::string* id);
  // The live session `id`, its idle deadline renewed; UNAUTHENTICATED when
  // unknown, ended or expired.
  absl::StatusOr<SessionInfo> Find(absl::string_view id);
  // Authorizes `permission` with the token of session `id`.
  absl::StatusOr<Principal> Authorize(absl::string_view id,
                                      Permission permission);
  // Ends session `id`; false when there was none.
  bool End(absl::string_view id);
  size_t size() const;
  const SessionOptions& options() const { return options_; }

  // aims_collector_console_sessions and
  // aims_collector_console_sessions_refused_total; set before serving.
  void CountWith(prometheus::Gauge* open, prometheus::Counter* refused) {
    open_ = open;
    refused_ = refused;
  }

 private:
  struct Session {
    std::string token;
    SessionInfo info;
    absl::Time idle_deadline;
  };
  // The session for `id` if live; drops it when expired.
  Session* LiveLocked(absl::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropExpiredLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateGaugeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SessionOptions options_;
  const Authorizer* const authorizer_;
  const Clock* const clock_;
  prometheus::Gauge* open_ = nullptr;
  prometheus::Counter* refused_ = nullptr;
  mutable absl::Mutex mu_;
  // By SHA-256 of the session id.
  absl::flat_hash_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
};

// The value of cookie `name` in `req`'s Cookie header, or "".
std::string CookieValue(const HttpRequest& req, absl::string_view name);

// See the file comment; `sessions` may be null (no console).
absl::StatusOr<Principal> AuthorizeHttp(const Authorizer& authorizer,
                                        SessionStore* sessions,
                                        const HttpRequest& req,
                                        Permission permission);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_AUTH_SESSIONS_H_
