// HttpRequest and HttpResponse: what an HttpServer handler reads and writes
// (common/net/http_server.h). Plain values, independent of the HTTP library.
//
// Header names are compared case-insensitively; query parameters are
// percent-decoded ('+' is a space). Error answers carry a JSON body that
// names the problem (aims.v1.ErrorResponse, common/base/proto_json.h).
//
// Thread-safety: plain values.
#ifndef AIMS_COMMON_NET_HTTP_MESSAGE_H_
#define AIMS_COMMON_NET_HTTP_MESSAGE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace aims {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // the target up to '?'
  std::vector<std::pair<std::string, std::string>> query;    // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // as sent
  std::string body;
  std::string remote_address;  // the client's IP address
  // The value of the route pattern's "{...}" segment, if any.
  std::string path_parameter;

  // The first value of query parameter `name`, or "".
  std::string Param(absl::string_view name) const;
  bool HasParam(absl::string_view name) const;
  // The first value of header `name` (any case), or "".
  std::string Header(absl::string_view name) const;
  bool HasHeader(absl::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // `json` and a newline, as application/json.
  void SetJson(absl::string_view json);
  // `status` and {"error": message}.
  void SetError(int status, absl::string_view message);
  // HttpStatusFor(status) and {"error": status.message()}.
  void SetError(const absl::Status& status);
  void SetContent(std::string body, std::string content_type);
  void SetHeader(std::string name, std::string value);
};

// The HTTP status that answers an error of `code`, the one mapping of every
// route: 400 invalid argument, 401, 403, 404, 409 failed precondition (the
// order of a record does not allow it), 503 unavailable or resource
// exhausted (retry later), 500 otherwise.
int HttpStatusFor(absl::StatusCode code);

// Splits "a=1&b=x%20y" into decoded pairs.
std::vector<std::pair<std::string, std::string>> ParseQuery(
    absl::string_view query);

}  // namespace aims

#endif  // AIMS_COMMON_NET_HTTP_MESSAGE_H_
