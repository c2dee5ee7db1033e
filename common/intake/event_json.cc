#include "common/intake/event_json.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/base/limit_error.h"
#include "common/base/utf8.h"
#include "common/intake/json_syntax.h"
#include "simdjson.h"

namespace aims {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

struct Reject {
  Reject() = default;
  Reject(std::string f, std::string r, std::string l = "")
      : field(std::move(f)), reason(std::move(r)), limit(std::move(l)) {}
  std::string field;
  std::string reason;
  std::string limit;
};

EventError ItemError(size_t index, Reject reject) {
  EventError e;
  e.index = index;
  e.field = std::move(reject.field);
  e.reason = std::move(reject.reason);
  e.limit = std::move(reject.limit);
  return e;
}

const char* TypeName(element_type t) {
  switch (t) {
    case element_type::ARRAY:
      return "array";
    case element_type::OBJECT:
      return "object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "number";
    case element_type::STRING:
      return "string";
    case element_type::BOOL:
      return "bool";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "value";
}

std::string StrOf(const element& e) {
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) return "";
  return std::string(v);
}

bool IsNumber(const element& e) {
  const element_type t = e.type();
  return t == element_type::INT64 || t == element_type::UINT64 ||
         t == element_type::DOUBLE;
}

double NumberOf(const element& e) {
  double d = 0;
  if (e.get_double().get(d) == simdjson::SUCCESS) return d;
  int64_t i = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  uint64_t u = 0;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) return static_cast<double>(u);
  return 0;
}

// A JSON number, or one of the strings proto3's JSON mapping writes for
// non-finite numbers ("NaN", "Infinity", "-Infinity").
bool ReadNumber(const element& e, double* out) {
  if (IsNumber(e)) {
    *out = NumberOf(e);
    return true;
  }
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) return false;
  if (v == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
  } else if (v == "Infinity") {
    *out = std::numeric_limits<double>::infinity();
  } else if (v == "-Infinity") {
    *out = -std::numeric_limits<double>::infinity();
  } else {
    return false;
  }
  return true;
}

// "<prefix><key>" for an error's field, the key cut to 128 bytes on a
// character boundary (the answer must not echo megabytes back).
std::string Member(absl::string_view prefix, std::string_view key) {
  return absl::StrCat(prefix,
                      CutUtf8(absl::string_view(key.data(), key.size()), 128));
}

Reject WrongType(std::string field, const char* want, const element& got) {
  return {std::move(field),
          absl::StrCat("expected ", want, ", got ", TypeName(got.type()))};
}

// A class label or a number; strings and numbers both allowed.
bool ReadOutcome(absl::string_view field, const element& e, Outcome* out,
                 Reject* reject) {
  if (e.is_null()) return true;
  if (ReadNumber(e, &out->number)) {
    out->kind = Outcome::Kind::kNumber;
    return true;
  }
  if (e.type() == element_type::STRING) {
    out->kind = Outcome::Kind::kClass;
    out->class_label = StrOf(e);
    return true;
  }
  if (e.type() == element_type::BOOL) {
    out->kind = Outcome::Kind::kClass;
    out->class_label = bool(e.get_bool()) ? "true" : "false";
    return true;
  }
  *reject = WrongType(std::string(field), "string or number", e);
  return false;
}

bool ReadTimestamp(const element& v, absl::Time* out, Reject* reject) {
  if (IsNumber(v)) {
    const double secs = NumberOf(v);
    if (!std::isfinite(secs) || secs < 0 || secs > 1e11) {
      *reject = {"timestamp", "must be unix seconds between 0 and 1e11"};
      return false;
    }
    *out = absl::FromUnixMicros(static_cast<int64_t>(secs * 1e6));
    return true;
  }
  if (v.type() == element_type::STRING) {
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, StrOf(v), out, &err)) {
      *reject = {"timestamp", absl::StrCat("not RFC 3339: ", err)};
      return false;
    }
    return true;
  }
  *reject = WrongType("timestamp", "number or RFC 3339 string", v);
  return false;
}

bool ReadPredictionId(const element& v, std::string* id, Reject* reject) {
  if (v.type() == element_type::STRING) {
    *id = StrOf(v);
  } else if (v.type() == element_type::INT64) {
    *id = absl::StrCat(int64_t(v.get_int64()));
  } else if (v.type() == element_type::UINT64) {
    *id = absl::StrCat(uint64_t(v.get_uint64()));
  } else {
    *reject = WrongType("prediction_id", "string", v);
    return false;
  }
  return true;
}

bool ReadFeatures(const element& v, const JsonIntakeLimits& limits,
                  std::vector<std::pair<std::string, FeatureValue>>* out,
                  Reject* reject) {
  object features;
  if (v.get_object().get(features) != simdjson::SUCCESS) {
    *reject = WrongType("features", "object", v);
    return false;
  }
  if (features.size() > limits.event.max_features) {
    constexpr char kFlag[] = "--max_features_per_event";
    *reject = {"features",
               LimitReason(absl::StrCat(features.size(), " features"),
                           absl::StrCat(limits.event.max_features), kFlag),
               LimitName(kFlag)};
    return false;
  }
  out->reserve(features.size());
  for (auto f : features) {
    // Built in place: no temporary name and value moved into the vector
    // (string copies were 16 % of the parse). A refused event is dropped
    // whole, so a half-built entry does not matter.
    auto& [name, fv] = out->emplace_back();
    name.assign(f.key.data(), f.key.size());
    const element& fe = f.value;
    if (ReadNumber(fe, &fv.number)) {
      fv.kind = FeatureValue::Kind::kNumber;
    } else if (fe.type() == element_type::STRING) {
      fv.kind = FeatureValue::Kind::kCategory;
      fv.category = StrOf(fe);
    } else if (fe.type() == element_type::BOOL) {
      fv.kind = FeatureValue::Kind::kCategory;
      fv.category = bool(fe.get_bool()) ? "true" : "false";
    } else if (fe.is_null()) {
      fv.kind = FeatureValue::Kind::kMissing;
    } else {
      *reject = WrongType(Member("features.", f.key),
                          "number, string, bool or null", fe);
      return false;
    }
  }
  return true;
}

bool ReadProbabilities(const element& v,
                       std::vector<std::pair<std::string, double>>* out,
                       Reject* reject) {
  object probs;
  if (v.get_object().get(probs) != simdjson::SUCCESS) {
    *reject = WrongType("probabilities", "object", v);
    return false;
  }
  out->reserve(probs.size());
  for (auto p : probs) {
    double probability = 0;
    if (!ReadNumber(p.value, &probability)) {
      *reject = WrongType(Member("probabilities.", p.key), "number", p.value);
      return false;
    }
    out->emplace_back(std::string(p.key), probability);
  }
  return true;
}

bool ReadAttributes(const element& v,
                    std::vector<std::pair<std::string, std::string>>* out,
                    Reject* reject) {
  object attrs;
  if (v.get_object().get(attrs) != simdjson::SUCCESS) {
    *reject = WrongType("attributes", "object", v);
    return false;
  }
  out->reserve(attrs.size());  // one allocation, not one per attribute
  for (auto a : attrs) {
    std::string group;
    if (a.value.type() == element_type::STRING) {
      group = StrOf(a.value);
    } else if (a.value.type() == element_type::BOOL) {
      group = bool(a.value.get_bool()) ? "true" : "false";
    } else if (a.value.type() == element_type::INT64) {
      group = absl::StrCat(int64_t(a.value.get_int64()));
    } else if (a.value.is_null()) {
      continue;  // Attribute not known for this event.
    } else {
      *reject = WrongType(Member("attributes.", a.key),
                          "string, integer or bool", a.value);
      return false;
    }
    out->emplace_back(std::string(a.key), std::move(group));
  }
  return true;
}

// Reads one event; names of unknown fields go to `unknown`.
bool ReadEvent(const element& e, const JsonIntakeLimits& limits, Event* ev,
               std::vector<std::string>* unknown, Reject* reject) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    *reject = WrongType("", "object", e);
    return false;
  }
  for (auto field : obj) {
    const std::string_view key = field.key;
    const element& v = field.value;
    if (key == "prediction_id") {
      if (!ReadPredictionId(v, &ev->prediction_id, reject)) return false;
    } else if (key == "timestamp") {
      if (!ReadTimestamp(v, &ev->timestamp, reject)) return false;
    } else if (key == "features") {
      if (!ReadFeatures(v, limits, &ev->features, reject)) return false;
    } else if (key == "prediction") {
      if (!ReadOutcome("prediction", v, &ev->prediction, reject)) return false;
    } else if (key == "label") {
      if (!ReadOutcome("label", v, &ev->label, reject)) return false;
    } else if (key == "score") {
      if (v.is_null()) continue;
      double score = 0;
      if (!ReadNumber(v, &score)) {
        *reject = WrongType("score", "number", v);
        return false;
      }
      ev->score = score;
    } else if (key == "probabilities") {
      if (!ReadProbabilities(v, &ev->probabilities, reject)) return false;
    } else if (key == "attributes") {
      if (!ReadAttributes(v, &ev->attributes, reject)) return false;
    } else if (key == "latency_ms" || key == "latency_seconds") {
      if (v.is_null()) continue;
      double latency = 0;
      if (!ReadNumber(v, &latency)) {
        *reject = WrongType(std::string(key), "number", v);
        return false;
      }
      const double scale = key == "latency_ms" ? 1e-3 : 1.0;
      ev->latency_seconds = latency * scale;
    } else if (key == "error") {
      if (v.type() != element_type::BOOL) {
        *reject = WrongType("error", "bool", v);
        return false;
      }
      ev->error = bool(v.get_bool());
    } else {
      // Ignored for forward compatibility; the answer lists it as a
      // warning, so that a misspelt field does not vanish unseen.
      unknown->emplace_back(key);
    }
  }
  EventError err;
  if (!ValidateEvent(*ev, limits.event, &err)) {
    *reject = {err.field, err.reason, err.limit};
    return false;
  }
  return true;
}

bool ReadLabel(const element& e, const JsonIntakeLimits& limits,
               LabelEvent* label, std::vector<std::string>* unknown,
               Reject* reject) {
  object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS) {
    *reject = WrongType("", "object", e);
    return false;
  }
  for (auto field : obj) {
    const std::string_view key = field.key;
    const element& v = field.value;
    if (key == "prediction_id") {
      if (v.type() == element_type::STRING) {
        label->prediction_id = StrOf(v);
      } else if (v.type() == element_type::INT64) {
        label->prediction_id = absl::StrCat(int64_t(v.get_int64()));
      } else if (v.type() == element_type::UINT64) {
        label->prediction_id = absl::StrCat(uint64_t(v.get_uint64()));
      } else {
        *reject = WrongType("prediction_id", "string", v);
        return false;
      }
    } else if (key == "label") {
      if (!ReadOutcome("label", v, &label->label, reject)) return false;
    } else if (key == "timestamp") {
      if (!ReadTimestamp(v, &label->timestamp, reject)) return false;
    } else {
      unknown->emplace_back(key);
    }
  }
  EventError err;
  if (!ValidateLabel(*label, limits.event, &err)) {
    *reject = {err.field, err.reason, err.limit};
    return false;
  }
  return true;
}

// "body: not valid JSON at byte N (line L, column C): what", or simdjson's
// message when the scanner finds nothing wrong.
std::string NotJson(absl::string_view text, size_t base,
                    simdjson::error_code err) {
  std::optional<JsonSyntaxError> where = FindJsonSyntaxError(text);
  if (!where) {
    return absl::StrCat("not valid JSON: ", simdjson::error_message(err));
  }
  return absl::StrCat("not valid JSON at byte ", base + where->offset,
                      base == 0 ? absl::StrCat(" (line ", where->line,
                                               ", column ", where->column, ")")
                                : "",
                      ": ", where->what);
}

void AddWarnings(size_t index, const std::vector<std::string>& unknown,
                 std::vector<EventError>* warnings, size_t* count) {
  for (const std::string& name : unknown) {
    ++*count;
    if (warnings->size() >= kMaxWarnings) continue;
    EventError w;
    w.index = index;
    w.field = std::string(CutUtf8(name, 128));
    w.reason = "unknown field, ignored (see docs/events.md)";
    warnings->push_back(std::move(w));
  }
}

// simdjson parsers kept between requests with a padded copy buffer: a
// parser allocated per request (its tape is 8 bytes per body byte) and the
// padded copy simdjson makes of an unpadded body cost page faults and
// allocations that were a quarter of the intake's CPU. At most kIdle are
// kept, none sized for bodies beyond kKeptBytes, so that the agent's memory
// stays that of its busiest moment, not of its largest request.
class ParserPool {
 public:
  struct Entry {
    simdjson::dom::parser parser;
    std::unique_ptr<char[]> buffer;
    size_t buffer_bytes = 0;

    // Parses `text` from the padded buffer (no allocation once grown).
    simdjson::simdjson_result<element> Parse(absl::string_view text) {
      if (buffer_bytes < text.size() + simdjson::SIMDJSON_PADDING) {
        buffer_bytes = text.size() + simdjson::SIMDJSON_PADDING;
        buffer = std::make_unique<char[]>(buffer_bytes);
      }
      std::memcpy(buffer.get(), text.data(), text.size());
      std::memset(buffer.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
      return parser.parse(buffer.get(), text.size(), false);
    }
  };

  static ParserPool& Get() {
    static ParserPool* pool = new ParserPool();
    return *pool;
  }
  std::unique_ptr<Entry> Take() {
    absl::MutexLock lock(&mu_);
    if (idle_.empty()) return std::make_unique<Entry>();
    std::unique_ptr<Entry> e = std::move(idle_.back());
    idle_.pop_back();
    return e;
  }
  void Give(std::unique_ptr<Entry> e) {
    if (e->parser.capacity() > kKeptBytes || e->buffer_bytes > kKeptBytes) {
      return;
    }
    absl::MutexLock lock(&mu_);
    if (idle_.size() < kIdle) idle_.push_back(std::move(e));
  }

 private:
  static constexpr size_t kIdle = 2;
  static constexpr size_t kKeptBytes = 1 << 20;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> idle_ ABSL_GUARDED_BY(mu_);
};

// A parser of the pool for one request, given back at the end of scope.
class PooledParser {
 public:
  PooledParser() : entry_(ParserPool::Get().Take()) {}
  ~PooledParser() { ParserPool::Get().Give(std::move(entry_)); }
  PooledParser(const PooledParser&) = delete;
  PooledParser& operator=(const PooledParser&) = delete;
  simdjson::simdjson_result<element> Parse(absl::string_view text) {
    return entry_->Parse(text);
  }

 private:
  std::unique_ptr<ParserPool::Entry> entry_;
};

absl::Status TooManyItems(std::string found, size_t max_items,
                          absl::string_view flag) {
  return LimitError("body", found, absl::StrCat(max_items), flag);
}

// Calls `item` for each element of a JSON array, single object or JSON
// lines body; a line that is not JSON is reported through `broken`.
// `expect` first receives the number of items there are at most, so that
// the caller reserves its vectors once (not grown and moved item by item).
absl::Status ForEachItem(
    absl::string_view body, size_t max_items, absl::string_view flag,
    const std::function<void(size_t)>& expect,
    const std::function<void(const element&, size_t)>& item,
    const std::function<void(size_t, std::string)>& broken) {
  size_t start = 0;
  while (start < body.size() &&
         std::isspace(static_cast<unsigned char>(body[start]))) {
    ++start;
  }
  if (start == body.size()) {
    return absl::InvalidArgumentError(
        "body: empty; send a JSON array or JSON lines");
  }
  PooledParser parser;
  if (body[start] == '[') {
    element doc;
    if (auto err = parser.Parse(body).get(doc); err) {
      return absl::InvalidArgumentError(
          absl::StrCat("body: ", NotJson(body, 0, err)));
    }
    simdjson::dom::array array;
    if (doc.get_array().get(array) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("body: expected a JSON array");
    }
    if (array.size() == 0) {
      return absl::InvalidArgumentError(
          "body: an empty batch ([]); send at least one item");
    }
    if (array.size() > max_items) {
      return TooManyItems(absl::StrCat(array.size(), " items"), max_items,
                          flag);
    }
    expect(array.size());
    size_t index = 0;
    for (element e : array) item(e, index++);
    return absl::OkStatus();
  }
  // JSON lines (a single object is one line). A broken line is that item's
  // error; the other lines still count.
  expect(std::min<size_t>(
      max_items, 1 + std::count(body.begin() + start, body.end(), '\n')));
  size_t index = 0;
  size_t pos = start;
  while (pos < body.size()) {
    size_t end = body.find('\n', pos);
    if (end == absl::string_view::npos) end = body.size();
    const size_t line_start = pos;
    absl::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    size_t first = 0;
    while (first < line.size() &&
           std::isspace(static_cast<unsigned char>(line[first]))) {
      ++first;
    }
    if (first == line.size()) continue;
    if (index >= max_items) {
      return TooManyItems(absl::StrCat("more than ", max_items, " items"),
                          max_items, flag);
    }
    element doc;
    if (auto err = parser.Parse(line).get(doc); err) {
      // Not JSON lines after all: one object spread over several lines.
      if (index == 0 && end < body.size() &&
          parser.Parse(body).get(doc) == simdjson::SUCCESS && doc.is_object()) {
        item(doc, 0);
        return absl::OkStatus();
      }
      broken(index, NotJson(line, line_start, err));
    } else {
      item(doc, index);
    }
    ++index;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseEventBatch(absl::string_view body,
                             const JsonIntakeLimits& limits, EventBatch* out) {
  *out = EventBatch();
  std::vector<std::string> unknown;
  return ForEachItem(
      body, limits.max_events_per_batch, limits.max_batch_flag,
      [&](size_t items) {
        out->events.reserve(items);
        out->indices.reserve(items);
      },
      [&](const element& e, size_t index) {
        Reject reject;
        unknown.clear();
        // Read in place (reserved), dropped again when refused.
        if (ReadEvent(e, limits, &out->events.emplace_back(), &unknown,
                      &reject)) {
          out->indices.push_back(index);
        } else {
          out->events.pop_back();
          out->errors.push_back(ItemError(index, std::move(reject)));
        }
        AddWarnings(index, unknown, &out->warnings, &out->unknown_fields);
      },
      [&](size_t index, std::string reason) {
        out->errors.push_back(ItemError(index, {"", std::move(reason)}));
      });
}

absl::Status ParseLabelBatch(absl::string_view body,
                             const JsonIntakeLimits& limits, LabelBatch* out) {
  *out = LabelBatch();
  std::vector<std::string> unknown;
  return ForEachItem(
      body, limits.max_events_per_batch, limits.max_batch_flag,
      [&](size_t items) {
        out->labels.reserve(items);
        out->indices.reserve(items);
      },
      [&](const element& e, size_t index) {
        LabelEvent label;
        Reject reject;
        unknown.clear();
        if (ReadLabel(e, limits, &label, &unknown, &reject)) {
          out->labels.push_back(std::move(label));
          out->indices.push_back(index);
        } else {
          out->errors.push_back(ItemError(index, std::move(reject)));
        }
        AddWarnings(index, unknown, &out->warnings, &out->unknown_fields);
      },
      [&](size_t index, std::string reason) {
        out->errors.push_back(ItemError(index, {"", std::move(reason)}));
      });
}

}  // namespace aims
