// FindJsonSyntaxError: where a JSON text (RFC 8259) first breaks the
// grammar, for error messages that point at the byte a client must fix.
// Also flags what RFC 8259 lets parsers refuse and aims refuses: numbers
// beyond the range of a double (1e999), invalid UTF-8, nesting deeper than
// 1024 levels. Called only after a parser has failed, so it favours
// clarity over speed.
//
// Thread-safety: stateless.
#ifndef AIMS_COMMON_INTAKE_JSON_SYNTAX_H_
#define AIMS_COMMON_INTAKE_JSON_SYNTAX_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace aims {

struct JsonSyntaxError {
  size_t offset = 0;  // byte offset from the start of the text
  size_t line = 1;    // 1-based
  size_t column = 1;  // 1-based, in bytes
  std::string what;   // e.g. "unexpected end of input (truncated?)"
};

// The first error in `text`, or nullopt when `text` is one valid JSON value
// (surrounded by optional white space).
std::optional<JsonSyntaxError> FindJsonSyntaxError(absl::string_view text);

}  // namespace aims

#endif  // AIMS_COMMON_INTAKE_JSON_SYNTAX_H_
