// The browser console on the collector's HTTP listener (docs/console.md).
//
//   GET /                   the console's page (index.html)
//   GET /console/<file>     its scripts and style sheet, embedded in the
//                           binary (collector/console/assets.h)
//   POST /v1/session        {"token": "..."}: signs in; sets the HttpOnly,
//                           SameSite=Strict session cookie (Secure on HTTPS)
//                           and answers {name, role, csrf, expires, open}
//   GET /v1/session         the signed-in person (same answer, no cookie
//                           set); {"open": true, ...} on an open collector;
//                           401 without a live session
//   POST /v1/session/end    ends the session server-side, clears the cookie
//
// Every console answer carries a strict Content-Security-Policy (scripts,
// styles and connections only from this origin; nothing inline, nothing
// from the internet), nosniff and no-referrer. Assets are revalidated by
// ETag (Cache-Control: no-cache), so a new collector binary's console is
// picked up at the next load.
//
// Thread-safety: handlers run on the HTTP server's workers; SessionStore is
// thread-safe.
#ifndef AIMS_COLLECTOR_CONSOLE_CONSOLE_H_
#define AIMS_COLLECTOR_CONSOLE_CONSOLE_H_

#include "absl/strings/string_view.h"
#include "collector/auth/authorizer.h"
#include "collector/auth/sessions.h"
#include "common/net/http_server.h"

namespace aims::collector {

inline constexpr char kConsoleCsp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'";

// The content type of a console file by its extension.
absl::string_view ConsoleContentType(absl::string_view name);

// Registers the routes above; `https` makes the cookie Secure.
void RegisterConsole(HttpServer& server, const Authorizer* authorizer,
                     SessionStore* sessions, bool https);

}  // namespace aims::collector

#endif  // AIMS_COLLECTOR_CONSOLE_CONSOLE_H_
