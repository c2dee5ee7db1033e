#include "collector/notify/notifier.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/compliance/audit_trail.h"
#include "common/base/hash.h"
#include "common/base/log.h"
#include "common/base/time_util.h"
#include "google/protobuf/util/json_util.h"
#include "httplib.h"

namespace aims::collector {
namespace {

struct Url {
  std::string base;  // scheme://host:port
  std::string path;
};

Url SplitUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t slash =
      url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

}  // namespace

Notifier::Notifier(Storage* storage, const Clock* clock,
                   NotifierOptions options)
    : storage_(storage), clock_(clock), options_(std::move(options)) {}

Notifier::~Notifier() { Stop(); }

absl::Status Notifier::Load() {
  std::set<std::string> keys;
  absl::Status s = storage_->Scan(
      Table::kOutbox, "", [&](absl::string_view key, absl::string_view) {
        keys.emplace(key);
        return true;
      });
  absl::MutexLock lock(&mu_);
  keys_ = std::move(keys);
  if (!keys_.empty()) {
    const std::string& last = *keys_.rbegin();
    uint64_t seq = 0;
    for (unsigned char c : last) seq = (seq << 8) | c;
    next_seq_ = seq + 1;
  }
  return s;
}

std::vector<Mutation> Notifier::Enqueue(const std::string& url,
                                        const std::string& kind,
                                        std::string body,
                                        const std::string& supersede_key,
                                        absl::Time now) {
  v1::OutboxEntry entry;
  entry.set_url(url);
  entry.set_kind(kind);
  entry.set_body(std::move(body));
  entry.set_supersede_key(supersede_key);
  *entry.mutable_created() = ToProto(now);
  *entry.mutable_next_attempt() = ToProto(now);
  std::vector<Mutation> out;
  absl::MutexLock lock(&mu_);
  while (keys_.size() >= options_.max_outbox && !keys_.empty()) {
    out.push_back({Table::kOutbox, *keys_.begin(), std::nullopt});
    keys_.erase(keys_.begin());
    counters_.dropped.fetch_add(1);
    LogWarn("outbox full: dropped the oldest notification",
            {{"max_outbox", static_cast<int64_t>(options_.max_outbox)}});
  }
  const std::string key = AuditTrail::Key(next_seq_++);
  keys_.insert(key);
  out.push_back({Table::kOutbox, key, entry.SerializeAsString()});
  return out;
}

std::vector<Mutation> Notifier::AlertMutations(
    const v1::Nonconformity& nc, const Objective& objective,
    const v1::ObjectiveStatus& status, bool resolved, absl::Time now) {
  std::vector<Mutation> out;
  if (options_.alertmanager_urls.empty()) return out;
  std::map<std::string, std::string> labels = {
      {"alertname", "AimsObjectiveFailed"},
      {"objective", objective.id},
      {"model", status.model().name()},
      {"model_version", status.model().version()},
      {"environment", status.model().environment()},
      {"severity", SeverityText(objective.severity)},
      {"iso_clause", absl::StrJoin(objective.iso_references, ",")},
  };
  if (!status.feature().empty()) labels["feature"] = status.feature();
  if (!status.attribute().empty()) labels["attribute"] = status.attribute();
  if (!status.group().empty())
    labels[status.attribute() == "agent" ? "agent" : "group"] = status.group();
  const v1::MetricValue& v = status.last_value();
  std::map<std::string, std::string> annotations = {
      {"summary", absl::StrCat(objective.title, " (", nc.id(), ")")},
      {"description", absl::StrCat(v.metric(), " = ", v.value(), " must be ",
                                   ComparatorText(objective.comparator), " ",
                                   objective.threshold, " over ",
                                   absl::FormatDuration(objective.window),
                                   " (n = ", v.sample_size(), ")")},
      {"nonconformity", nc.id()},
      {"owner", objective.owner},
      {"value", absl::StrCat(v.value())},
      {"threshold", absl::StrCat(ComparatorText(objective.comparator), " ",
                                 objective.threshold)},
      {"sample_size", absl::StrCat(v.sample_size())},
      {"series", status.series()},
  };
  const absl::Duration lease =
      4 * std::max(objective.evaluation_interval, absl::Minutes(1));
  const absl::Time starts =
      status.has_fired_at() ? FromProto(status.fired_at()) : now;
  const std::string body = absl::StrCat(
      "[{\"labels\":", AuditTrail::CanonicalJson(labels),
      ",\"annotations\":", AuditTrail::CanonicalJson(annotations),
      ",\"startsAt\":\"", FormatRfc3339(starts), "\",\"endsAt\":\"",
      FormatRfc3339(resolved ? now : now + lease), "\",\"generatorURL\":\"",
      options_.external_url, "/v1/nonconformities/", nc.id(), "\"}]");
  const std::string labels_json = AuditTrail::CanonicalJson(labels);
  for (const std::string& url : options_.alertmanager_urls) {
    for (Mutation& m : Enqueue(url, "alertmanager", body,
                               absl::StrCat(url, "\n", labels_json), now))
      out.push_back(std::move(m));
  }
  return out;
}

std::vector<Mutation> Notifier::WebhookMutations(const std::string& event,
                                                 const v1::Nonconformity& nc,
                                                 absl::Time now) {
  std::vector<Mutation> out;
  if (options_.webhook_urls.empty()) return out;
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(nc, &json, print);
  const std::string body =
      absl::StrCat("{\"event\":\"", event, "\",\"at\":\"", FormatRfc3339(now),
                   "\",\"nonconformity\":", json, "}");
  for (const std::string& url : options_.webhook_urls) {
    for (Mutation& m : Enqueue(url, "webhook", body, "", now))
      out.push_back(std::move(m));
  }
  return out;
}

void Notifier::Wake() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
}

int Notifier::DeliverDue() {
  absl::MutexLock deliver(&deliver_mu_);
  const absl::Time now = clock_->Now();
  // The whole outbox is read: an entry with a newer entry of the same
  // supersede_key (same alert, same Alertmanager) is deleted undelivered,
  // whether it is due or not, so deliveries of an alert never go backwards.
  // Decided here from storage, it holds whatever commits failed or ran
  // concurrently, and across restarts.
  std::vector<std::pair<std::string, v1::OutboxEntry>> due;
  std::map<std::string, std::string> newest;  // supersede_key -> key
  std::vector<std::pair<std::string, std::string>> keyed;  // key, supersede
  storage_
      ->Scan(Table::kOutbox, "",
             [&](absl::string_view key, absl::string_view value) {
               v1::OutboxEntry e;
               if (!e.ParseFromArray(value.data(),
                                     static_cast<int>(value.size()))) {
                 return true;
               }
               if (!e.supersede_key().empty()) {
                 newest[e.supersede_key()] = std::string(key);  // key order
                 keyed.emplace_back(std::string(key), e.supersede_key());
               }
               if (FromProto(e.next_attempt()) <= now && due.size() < 1000)
                 due.emplace_back(std::string(key), std::move(e));
               return true;
             })
      .IgnoreError();
  std::set<std::string> superseded;
  std::vector<Mutation> deletions;
  for (const auto& [key, supersede_key] : keyed) {
    if (newest[supersede_key] == key) continue;
    superseded.insert(key);
    deletions.push_back({Table::kOutbox, key, std::nullopt});
  }
  if (!deletions.empty()) {
    if (absl::Status s = storage_->Apply(deletions); !s.ok()) {
      LogWarn("outbox update failed", {{"error", s.message()}});
      return 0;  // delivering now could send an alert backwards
    }
    counters_.superseded.fetch_add(deletions.size());
    absl::MutexLock lock(&mu_);
    for (const std::string& key : superseded) keys_.erase(key);
  }
  int delivered = 0;
  thread_local std::mt19937_64 rng(std::random_device{}());
  for (auto& [key, e] : due) {
    if (superseded.count(key)) continue;
    const Url url = SplitUrl(e.url());
    httplib::Client client(url.base);
    const int timeout_ms =
        static_cast<int>(absl::ToInt64Milliseconds(options_.request_timeout));
    client.set_connection_timeout(timeout_ms / 1000,
                                  (timeout_ms % 1000) * 1000);
    client.set_read_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
    httplib::Headers headers;
    std::string path = url.path;
    if (e.kind() == "alertmanager") {
      if (!absl::EndsWith(path, "/api/v2/alerts")) {
        path = absl::StrCat(path == "/" ? "" : path, "/api/v2/alerts");
      }
    } else if (!options_.webhook_secret.empty()) {
      headers.emplace(
          "X-Aims-Signature",
          absl::StrCat("sha256=",
                       HmacSha256Hex(options_.webhook_secret, e.body())));
    }
    auto result = client.Post(path, headers, e.body(), "application/json");
    std::vector<Mutation> change;
    if (result && result->status >= 200 && result->status < 300) {
      change.push_back({Table::kOutbox, key, std::nullopt});
      counters_.delivered.fetch_add(1);
      ++delivered;
    } else if (result && result->status >= 400 && result->status < 500 &&
               result->status != 429) {
      change.push_back({Table::kOutbox, key, std::nullopt});
      counters_.rejected.fetch_add(1);
      LogWarn("notification rejected; dropped", {{"url", e.url()},
                                                 {"status", result->status},
                                                 {"body", result->body}});
    } else {
      counters_.failed_attempts.fetch_add(1);
      e.set_attempts(e.attempts() + 1);
      e.set_last_error(result ? absl::StrCat("HTTP ", result->status)
                              : httplib::to_string(result.error()));
      const double base =
          std::min(300.0, std::pow(2.0, std::min<uint32_t>(e.attempts(), 9)));
      const double jitter =
          std::uniform_real_distribution<double>(0.5, 1.0)(rng);
      *e.mutable_next_attempt() = ToProto(now + absl::Seconds(base * jitter));
      change.push_back({Table::kOutbox, key, e.SerializeAsString()});
    }
    if (absl::Status s = storage_->Apply(change); !s.ok()) {
      LogWarn("outbox update failed", {{"error", s.message()}});
      continue;
    }
    if (!change.front().value.has_value()) {
      absl::MutexLock lock(&mu_);
      keys_.erase(key);
    }
  }
  return delivered;
}

size_t Notifier::depth() const {
  absl::MutexLock lock(&mu_);
  return keys_.size();
}

void Notifier::Start() {
  if (!enabled() || thread_.joinable()) return;
  thread_ = std::thread([this] { Run(); });
}

void Notifier::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Notifier::Run() {
  for (;;) {
    DeliverDue();
    absl::MutexLock lock(&mu_);
    auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return wake_ || stop_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&woken), absl::Seconds(1));
    if (stop_) return;
    wake_ = false;
  }
}

}  // namespace aims::collector
