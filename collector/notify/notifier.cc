#include "collector/notify/notifier.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/compliance/canonical_json.h"
#include "common/base/hash.h"
#include "common/base/log.h"
#include "common/base/proto_json.h"
#include "common/base/time_util.h"
#include "common/rocks/keys.h"
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

std::string AlertDescription(const v1::Nonconformity& nc,
                             const Objective& objective,
                             const v1::ObjectiveStatus& status) {
  const std::string must = absl::StrCat(
      " must be ", ComparatorText(objective.comparator), " ",
      objective.threshold, " over ", absl::FormatDuration(objective.window));
  const v1::MetricValue& v = status.last_value();
  if (std::isfinite(v.value()) &&
      v.state() != v1::EVIDENCE_STATE_INSUFFICIENT &&
      v.state() != v1::EVIDENCE_STATE_NOT_APPLICABLE) {
    return absl::StrCat(v.metric(), " = ", v.value(), must,
                        " (n = ", v.sample_size(), ")");
  }
  // Still firing (keep_firing_for, or a lease renewed) without evidence:
  // say when it was missing, the last breach, and the value the
  // nonconformity opened on.
  const v1::MetricValue& opened = nc.evidence().value();
  std::string text =
      absl::StrCat(v.metric().empty() ? opened.metric() : v.metric(),
                   ": no evidence at the last evaluation");
  if (status.has_last_evaluated()) {
    absl::StrAppend(&text, " (",
                    FormatRfc3339(FromProto(status.last_evaluated())), ")");
  }
  if (status.has_last_breach()) {
    absl::StrAppend(&text, "; last breach at ",
                    FormatRfc3339(FromProto(status.last_breach())));
  }
  absl::StrAppend(&text, "; opened on ", opened.metric(), " = ", opened.value(),
                  " (n = ", opened.sample_size(), "),", must);
  return text;
}

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
    next_seq_ = ReadUint64BigEndian(*keys_.rbegin()) + 1;
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
  const std::string key = Uint64BigEndian(next_seq_++);
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
  // Per-slot coverage series: slot="2" (agent= before slots).
  const bool per_slot =
      status.attribute() == "slot" || status.attribute() == "agent";
  if (per_slot) {
    labels[status.attribute()] = status.group();
  } else {
    if (!status.attribute().empty()) labels["attribute"] = status.attribute();
    if (!status.group().empty()) labels["group"] = status.group();
  }
  const v1::MetricValue& v = status.last_value();
  std::map<std::string, std::string> annotations = {
      {"summary", absl::StrCat(objective.title, " (", nc.id(), ")")},
      {"description", AlertDescription(nc, objective, status)},
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
  v1::AlertmanagerAlert alert;
  alert.mutable_labels()->insert(labels.begin(), labels.end());
  alert.mutable_annotations()->insert(annotations.begin(), annotations.end());
  alert.set_starts_at(FormatRfc3339(starts));
  alert.set_ends_at(FormatRfc3339(resolved ? now : now + lease));
  alert.set_generator_url(
      absl::StrCat(options_.external_url, "/v1/nonconformities/", nc.id()));
  const std::string body =
      absl::StrCat("[", ProtoToJson(alert, JsonFieldNames::kJsonNames), "]");
  // The label set, canonical so that equal sets give equal keys.
  const std::string labels_json = CanonicalJson(labels);
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
  v1::WebhookNotification notification;
  notification.set_event(event);
  *notification.mutable_at() = ToProto(now);
  *notification.mutable_nonconformity() = nc;
  const std::string body = ProtoToJson(notification);
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

namespace {

// Entries a delivery pass sends at most; the rest wait for the next one.
constexpr size_t kMaxDeliveriesPerPass = 1000;

// What a delivery pass reads from the outbox.
struct OutboxScan {
  // Entries due now, oldest first.
  std::vector<std::pair<std::string, v1::OutboxEntry>> due;
  // Entries with a newer entry of the same supersede_key (same alert, same
  // Alertmanager), due or not.
  std::set<std::string> superseded;
};

OutboxScan ScanOutbox(const Storage& storage, absl::Time now) {
  OutboxScan scan;
  std::map<std::string, std::string> newest;  // supersede_key -> key
  std::vector<std::pair<std::string, std::string>> keyed;  // key, supersede
  storage
      .Scan(Table::kOutbox, "",
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
              if (FromProto(e.next_attempt()) <= now &&
                  scan.due.size() < kMaxDeliveriesPerPass) {
                scan.due.emplace_back(std::string(key), std::move(e));
              }
              return true;
            })
      .IgnoreError();
  for (const auto& [key, supersede_key] : keyed) {
    if (newest[supersede_key] != key) scan.superseded.insert(key);
  }
  return scan;
}

// Posts `e` to its URL: Alertmanager's v2 alerts API, or a webhook, signed
// when there is a secret.
httplib::Result Post(const v1::OutboxEntry& e, const NotifierOptions& options) {
  const Url url = SplitUrl(e.url());
  httplib::Client client(url.base);
  const int timeout_ms =
      static_cast<int>(absl::ToInt64Milliseconds(options.request_timeout));
  client.set_connection_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
  client.set_read_timeout(timeout_ms / 1000, (timeout_ms % 1000) * 1000);
  httplib::Headers headers;
  std::string path = url.path;
  if (e.kind() == "alertmanager") {
    if (!absl::EndsWith(path, "/api/v2/alerts")) {
      path = absl::StrCat(path == "/" ? "" : path, "/api/v2/alerts");
    }
  } else if (!options.webhook_secret.empty()) {
    headers.emplace(
        "X-Aims-Signature",
        absl::StrCat("sha256=",
                     HmacSha256Hex(options.webhook_secret, e.body())));
  }
  return client.Post(path, headers, e.body(), "application/json");
}

enum class Delivery {
  kDelivered,
  kRejected,  // a 4xx other than 429: permanent, the entry is dropped
  kFailed,    // to retry
};

Delivery DeliveryOf(const httplib::Result& result) {
  if (result && result->status >= 200 && result->status < 300)
    return Delivery::kDelivered;
  if (result && result->status >= 400 && result->status < 500 &&
      result->status != 429) {
    return Delivery::kRejected;
  }
  return Delivery::kFailed;
}

// A failed attempt: the next one after 1 s doubling to 5 min, with jitter.
void ScheduleRetry(const httplib::Result& result, absl::Time now,
                   v1::OutboxEntry* e) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  e->set_attempts(e->attempts() + 1);
  e->set_last_error(result ? absl::StrCat("HTTP ", result->status)
                           : httplib::to_string(result.error()));
  const double base =
      std::min(300.0, std::pow(2.0, std::min<uint32_t>(e->attempts(), 9)));
  const double jitter = std::uniform_real_distribution<double>(0.5, 1.0)(rng);
  *e->mutable_next_attempt() = ToProto(now + absl::Seconds(base * jitter));
}

}  // namespace

int Notifier::DeliverDue() {
  absl::MutexLock deliver(&deliver_mu_);
  const absl::Time now = clock_->Now();
  // The whole outbox is read: an entry with a newer entry of the same
  // supersede_key (same alert, same Alertmanager) is deleted undelivered,
  // whether it is due or not, so deliveries of an alert never go backwards.
  // Decided here from storage, it holds whatever commits failed or ran
  // concurrently, and across restarts.
  OutboxScan scan = ScanOutbox(*storage_, now);
  if (!scan.superseded.empty()) {
    std::vector<Mutation> deletions;
    for (const std::string& key : scan.superseded)
      deletions.push_back({Table::kOutbox, key, std::nullopt});
    if (absl::Status s = storage_->Apply(deletions); !s.ok()) {
      LogWarn("outbox update failed", {{"error", s.message()}});
      return 0;  // delivering now could send an alert backwards
    }
    counters_.superseded.fetch_add(deletions.size());
    absl::MutexLock lock(&mu_);
    for (const std::string& key : scan.superseded) keys_.erase(key);
  }
  int delivered = 0;
  for (auto& [key, e] : scan.due) {
    if (scan.superseded.count(key)) continue;
    const httplib::Result result = Post(e, options_);
    Mutation change = {Table::kOutbox, key, std::nullopt};  // delete
    switch (DeliveryOf(result)) {
      case Delivery::kDelivered:
        counters_.delivered.fetch_add(1);
        ++delivered;
        break;
      case Delivery::kRejected:
        counters_.rejected.fetch_add(1);
        LogWarn("notification rejected; dropped", {{"url", e.url()},
                                                   {"status", result->status},
                                                   {"body", result->body}});
        break;
      case Delivery::kFailed:
        counters_.failed_attempts.fetch_add(1);
        ScheduleRetry(result, now, &e);
        change.value = e.SerializeAsString();
        break;
    }
    if (absl::Status s = storage_->Apply({change}); !s.ok()) {
      LogWarn("outbox update failed", {{"error", s.message()}});
      continue;
    }
    if (!change.value.has_value()) {
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
