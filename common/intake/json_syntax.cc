#include "common/intake/json_syntax.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace aims {
namespace {

constexpr int kMaxDepth = 1024;

class Scanner {
 public:
  explicit Scanner(absl::string_view text) : text_(text) {}

  std::optional<JsonSyntaxError> Run() {
    SkipSpace();
    if (!Value(0)) return error_;
    SkipSpace();
    if (pos_ != text_.size()) {
      Fail("unexpected content after the JSON value");
      return error_;
    }
    return std::nullopt;
  }

 private:
  bool Fail(std::string what) {
    JsonSyntaxError e;
    e.offset = pos_;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++e.line;
        e.column = 1;
      } else {
        ++e.column;
      }
    }
    e.what = std::move(what);
    error_ = std::move(e);
    return false;
  }

  bool AtEnd() const { return pos_ >= text_.size(); }

  bool Truncated() { return Fail("unexpected end of input (truncated?)"); }

  bool Unexpected(absl::string_view expected) {
    const unsigned char c = static_cast<unsigned char>(text_[pos_]);
    const std::string shown =
        c >= 0x20 && c < 0x7f
            ? absl::StrCat("'", std::string(1, text_[pos_]), "'")
            : absl::StrCat("byte 0x", absl::Hex(c));
    return Fail(absl::StrCat("expected ", expected, ", found ", shown));
  }

  void SkipSpace() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                        text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Value(int depth) {
    if (AtEnd()) return Truncated();
    switch (text_[pos_]) {
      case '{':
        return Object(depth + 1);
      case '[':
        return Array(depth + 1);
      case '"':
        return String();
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        if (text_[pos_] == '-' || (text_[pos_] >= '0' && text_[pos_] <= '9')) {
          return Number();
        }
        return Unexpected("a JSON value");
    }
  }

  bool Literal(absl::string_view word) {
    for (char c : word) {
      if (AtEnd()) return Truncated();
      if (text_[pos_] != c) return Unexpected(absl::StrCat("'", word, "'"));
      ++pos_;
    }
    return true;
  }

  bool Digits() {
    if (AtEnd()) return Truncated();
    if (text_[pos_] < '0' || text_[pos_] > '9') return Unexpected("a digit");
    while (!AtEnd() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
    return true;
  }

  bool Number() {
    const size_t start = pos_;
    if (text_[pos_] == '-') ++pos_;
    if (AtEnd()) return Truncated();
    if (text_[pos_] == '0') {
      ++pos_;
    } else if (!Digits()) {
      return false;
    }
    if (!AtEnd() && text_[pos_] == '.') {
      ++pos_;
      if (!Digits()) return false;
    }
    if (!AtEnd() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (!AtEnd() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
      if (!Digits()) return false;
    }
    const std::string number(text_.substr(start, pos_ - start));
    const double value = std::strtod(number.c_str(), nullptr);
    if (std::isinf(value)) {
      const size_t end = pos_;
      pos_ = start;
      Fail(absl::StrCat("number ", number.substr(0, 32),
                        " is beyond the range of a double"));
      pos_ = end;
      return false;
    }
    return true;
  }

  // One UTF-8 sequence starting at pos_ (a byte >= 0x80).
  bool Utf8() {
    const unsigned char c = static_cast<unsigned char>(text_[pos_]);
    int more = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      more = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      more = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      more = 3;
      cp = c & 0x07;
    } else {
      return Fail("invalid UTF-8");
    }
    if (pos_ + more >= text_.size()) return Truncated();
    for (int i = 1; i <= more; ++i) {
      const unsigned char d = static_cast<unsigned char>(text_[pos_ + i]);
      if ((d & 0xc0) != 0x80) return Fail("invalid UTF-8");
      cp = (cp << 6) | (d & 0x3f);
    }
    const bool overlong =
        (more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000);
    if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return Fail("invalid UTF-8");
    }
    pos_ += more + 1;
    return true;
  }

  bool String() {
    ++pos_;  // opening quote
    for (;;) {
      if (AtEnd()) return Truncated();
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("control character in a string");
      if (c == '\\') {
        ++pos_;
        if (AtEnd()) return Truncated();
        const char e = text_[pos_];
        if (e == 'u') {
          for (int i = 0; i < 4; ++i) {
            ++pos_;
            if (AtEnd()) return Truncated();
            if (!std::isxdigit(static_cast<unsigned char>(text_[pos_]))) {
              return Unexpected("a hex digit");
            }
          }
          ++pos_;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' ||
                   e == 'n' || e == 'r' || e == 't') {
          ++pos_;
        } else {
          return Unexpected(
              "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)");
        }
        continue;
      }
      if (c >= 0x80) {
        if (!Utf8()) return false;
        continue;
      }
      ++pos_;
    }
  }

  bool Array(int depth) {
    if (depth > kMaxDepth) return Fail("nested deeper than 1024 levels");
    ++pos_;  // [
    SkipSpace();
    if (AtEnd()) return Truncated();
    if (text_[pos_] == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      SkipSpace();
      if (!Value(depth)) return false;
      SkipSpace();
      if (AtEnd()) return Truncated();
      if (text_[pos_] == ']') {
        ++pos_;
        return true;
      }
      if (text_[pos_] != ',') return Unexpected("',' or ']'");
      ++pos_;
    }
  }

  bool Object(int depth) {
    if (depth > kMaxDepth) return Fail("nested deeper than 1024 levels");
    ++pos_;  // {
    SkipSpace();
    if (AtEnd()) return Truncated();
    if (text_[pos_] == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      SkipSpace();
      if (AtEnd()) return Truncated();
      if (text_[pos_] != '"') return Unexpected("a member name in quotes");
      if (!String()) return false;
      SkipSpace();
      if (AtEnd()) return Truncated();
      if (text_[pos_] != ':') return Unexpected("':'");
      ++pos_;
      SkipSpace();
      if (!Value(depth)) return false;
      SkipSpace();
      if (AtEnd()) return Truncated();
      if (text_[pos_] == '}') {
        ++pos_;
        return true;
      }
      if (text_[pos_] != ',') return Unexpected("',' or '}'");
      ++pos_;
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
  std::optional<JsonSyntaxError> error_;
};

}  // namespace

std::optional<JsonSyntaxError> FindJsonSyntaxError(absl::string_view text) {
  return Scanner(text).Run();
}

}  // namespace aims
